"""Shared fixtures: a tiny randomly initialised BERT (fast to train) and a small labelled data file."""
import json
import os
from pathlib import Path

import pytest
from transformers import AutoTokenizer, BertConfig, BertModel

from casus.model.base import base_model_path

# Four clear sentences per tag, written for these tests (not taken from any corpus).
TINY_DATA = {
    "threat": [
        "The rebels vowed to retaliate against the garrison within days.",
        "The minister warned the neighbours that they would pay a heavy price for any incursion.",
        '"We will strike back at anyone who crosses the line," the commander said.',
        "The government threatened to expel the envoy if the shelling continued.",
    ],
    "condemnation": [
        "The foreign ministry condemned the bombing as a cowardly act of terrorism.",
        "Rights groups denounced the raid and accused the army of killing civilians.",
        "The council deplored the attack on the aid convoy in the strongest terms.",
        "The capital summoned the ambassador to protest against the border violation.",
    ],
    "military_action": [
        "Air strikes hit three villages near the front line overnight, killing nine people.",
        "Insurgents ambushed an army patrol on the highway, officials said.",
        "Artillery shelled the port for a second day as troops advanced on the town.",
        "A drone attack set fire to a fuel depot outside the city on Tuesday.",
    ],
    "background": [
        "The province has been contested since the end of the colonial era.",
        "Talks between the two delegations ended without agreement in Geneva.",
        "The group is led by a former schoolteacher who founded it in 2004.",
        "Analysts say the risk of a wider war remains high.",
    ],
}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A 1-layer BERT with the real tokenizer: trains in seconds, loads like the real base model."""
    return write_tiny_base(tmp_path_factory.mktemp("tiny-bert"))


def write_tiny_base(path, **settings):
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, **settings)
    BertModel(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(base_model_path()).save_pretrained(path)
    return path


@pytest.fixture
def tiny_jsonl(tmp_path):
    return write_tiny_jsonl(tmp_path / "tiny.jsonl")


def write_tiny_jsonl(path):
    with open(path, "w", encoding="utf-8") as f:
        for label, texts in TINY_DATA.items():
            for i, text in enumerate(texts):
                f.write(json.dumps({"text": text, "label": label, "doc_id": f"{label}-{i}"}) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_base, tmp_path_factory):
    """A casus checkpoint trained for a few steps from the tiny base: real files, meaningless weights."""
    from casus.training.config import TrainConfig
    from casus.training.loop import train

    root = tmp_path_factory.mktemp("tiny-run")
    data = write_tiny_jsonl(root / "train.jsonl")
    config = TrainConfig(train_file=str(data), dev_file=str(data), out_dir=str(root / "model"),
                         base_model=str(tiny_base), batch_size=4, epochs=1, max_steps=4, max_length=32)
    train(config)
    return root / "model"


@pytest.fixture(scope="session")
def learned_checkpoint(tmp_path_factory):
    """A checkpoint that has learnt the 16 tiny sentences (no dropout, 40 full-batch steps): its outputs differ
    from sentence to sentence, unlike tiny_checkpoint's. Only for tests marked slow."""
    from casus.training.config import TrainConfig
    from casus.training.loop import train

    root = tmp_path_factory.mktemp("learned-run")
    base = write_tiny_base(root / "base", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    data = write_tiny_jsonl(root / "train.jsonl")
    summary = train(TrainConfig(train_file=str(data), dev_file=str(data), out_dir=str(root / "model"),
                                base_model=str(base), batch_size=16, epochs=40, evals_per_epoch=1, patience=40,
                                learning_rate=1e-2, warmup_ratio=0.0, label_mix="train", max_length=32,
                                num_threads=1))
    return root / "model", summary


# shared/ lies beside the repository, on a developer's machine and in CI alike
SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_file(relative):
    """A file of shared/: a test that needs one fails in CI when it is missing (CI lays shared/ beside the
    clone), and elsewhere is skipped with the path it looked for."""
    path = SHARED / relative
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI lays shared/ beside the repository")
        pytest.skip(f"{path} not present (shared/ beside the repository)")
    return path
