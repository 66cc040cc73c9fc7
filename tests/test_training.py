import json

import pytest
import torch

from casus.data.labels import LABELS
from casus.data.loaders import DataError, Example, fingerprint, load_examples
from casus.model import load
from casus.model.checkpoint import read_metadata
from casus.training.cli import main as train_cli
from casus.training.config import TrainConfig, parse_config
from casus.training.loop import LengthGroupedBatches, class_weights, split_off_dev, train
from conftest import TINY_DATA


def test_flags_come_from_the_dataclass():
    config = parse_config(["--epochs", "2", "--learning-rate", "3e-5", "--no-class-weights", "--cpu"])
    assert config.epochs == 2 and config.learning_rate == 3e-5
    assert config.class_weights is False and config.cpu is True
    assert config.batch_size == TrainConfig().batch_size


def test_class_weights_are_inverse_frequency():
    examples = [Example("x", "background", "f:1")] * 6 + [Example("y", label, "f:2") for label in LABELS[:3]] * 2
    weights = class_weights(examples)
    # 12 sentences, 4 classes: background 12/(4*6)=0.5, the others 12/(4*2)=1.5
    assert weights.tolist() == pytest.approx([1.5, 1.5, 1.5, 0.5])


def test_dev_split_keeps_documents_whole():
    examples = [Example(f"s{i}", LABELS[i % 4], f"f:{i}", doc_id=f"d{i // 3}") for i in range(60)]
    train_part, dev_part = split_off_dev(examples, seed=0)
    assert len(train_part) + len(dev_part) == 60 and dev_part
    assert not {ex.doc_id for ex in train_part} & {ex.doc_id for ex in dev_part}


@pytest.mark.slow
def test_training_writes_a_checkpoint_that_pipeline_and_load_read(tiny_base, tiny_jsonl, tmp_path):
    out = tmp_path / "run"
    config = TrainConfig(train_file=str(tiny_jsonl), dev_file=str(tiny_jsonl), out_dir=str(out),
                         base_model=str(tiny_base), batch_size=4, epochs=2, max_steps=6, max_length=32)
    summary = train(config)
    assert summary["steps"] == 6
    assert summary["dev_macro_f1"] == pytest.approx(max(row["dev_macro_f1"] for row in summary["history"]), abs=1e-4)

    metadata = read_metadata(out)
    assert metadata["labels"] == list(LABELS)
    assert metadata["max_length"] == 32
    assert metadata["train_data"]["sha256"] == fingerprint(load_examples(tiny_jsonl))
    assert metadata["metrics"]["dev_macro_f1"] == pytest.approx(summary["dev_macro_f1"])
    assert len(metadata["history"]) == len(summary["history"]) >= 1
    card = (out / "README.md").read_text()
    assert "`military_action`: armed force is used" in card and f"{summary['dev_macro_f1']:.4f}" in card

    # transformers' own pipeline reads the checkpoint as casus does (calibration is in the weights)
    from transformers import pipeline  # here: importing it costs seconds the fast suite need not pay

    [theirs] = pipeline("text-classification", model=str(out))("Rockets hit the base.")
    [ours] = load(out, precision="fp32").tag(["Rockets hit the base."])
    assert theirs["label"] == ours.label and theirs["score"] == pytest.approx(ours.score, abs=1e-5)
    assert not list(tmp_path.glob(".run.*")), "no temporary folders left beside the checkpoint"


def test_training_needs_every_label(tiny_base, tmp_path):
    path = tmp_path / "no_threat.jsonl"
    path.write_text("".join(json.dumps({"text": f"Troops shelled town {i}.", "label": "military_action"}) + "\n"
                            for i in range(8)))
    config = TrainConfig(train_file=str(path), dev_file=str(path), out_dir=str(tmp_path / "run"),
                         base_model=str(tiny_base))
    with pytest.raises(DataError, match="no training sentences labelled threat"):
        train(config)


def test_cli_reports_bad_data_with_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "A fine sentence.", "label": "threat"}\n{"text": "Another.", "label": "attack"}\n')
    assert train_cli(["--train-file", str(path), "--out-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2" in err and "unknown label 'attack'" in err


def test_length_grouped_batches_cover_every_sentence_once_per_epoch():
    lengths = [(i * 37) % 50 + 3 for i in range(230)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=0, pool_batches=4)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert sorted(i for batch in epoch for i in batch) == list(range(230))
        assert len(epoch) == len(sampler)
    assert first != second, "a new order each epoch"
    # within a pool the batches are length-sorted: their length spread is far below that of plain
    # consecutive slices (about 39 of the 50 possible for 8 draws; a pool of 32 gives about 50/4)
    def mean_spread(batches):
        return sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)

    plain = [list(range(i, min(i + 8, 230))) for i in range(0, 230, 8)]
    assert mean_spread(first) < 16 < 30 < mean_spread(plain)


@pytest.mark.slow
def test_trains_on_cameo_coded_records(tiny_base, tmp_path):
    rows = [("The rebels threatened to storm the city.", "138"), ("Ministers condemned the attack.", "111"),
            ("Troops shelled the border post.", "190"), ("Envoys met for talks in Doha.", "040")] * 3
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"text": t, "cameo_code": c}) + "\n" for t, c in rows))
    config = TrainConfig(train_file=str(path), dev_file=str(path), label_scheme="cameo", base_model=str(tiny_base),
                         out_dir=str(tmp_path / "run"), batch_size=4, max_steps=2, max_length=16)
    train(config)
    assert read_metadata(tmp_path / "run")["train_data"]["labels"] == {label: 3 for label in LABELS}


def test_unknown_label_scheme_is_a_usage_error():
    with pytest.raises(SystemExit):
        parse_config(["--label-scheme", "gdelt"])


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--batch-size", "0"], ["--max-length", "1024"],
                                   ["--learning-rate", "-1e-4"], ["--max-steps", "-5"]])
def test_impossible_settings_are_usage_errors(flags):
    with pytest.raises(SystemExit):
        parse_config(flags)


@pytest.mark.slow
def test_metadata_names_the_dev_source(tiny_base, tiny_jsonl, tmp_path):
    config = TrainConfig(train_file=str(tiny_jsonl), out_dir=str(tmp_path / "run"), base_model=str(tiny_base),
                         batch_size=4, max_steps=1, max_length=16)
    train(config)
    assert read_metadata(tmp_path / "run")["dev_data"]["source"] == f"10% of the documents of {tiny_jsonl} (seed 0)"


def tiny_flags(tiny_base, tiny_jsonl, out):
    return ["--train-file", str(tiny_jsonl), "--dev-file", str(tiny_jsonl), "--base-model", str(tiny_base),
            "--out-dir", str(out), "--batch-size", "4", "--max-steps", "2", "--max-length", "16"]


def test_cli_never_touches_a_folder_it_did_not_write(tiny_base, tiny_jsonl, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("casus.training.loop.load_splits", lambda config: pytest.fail("refused only after work began"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.csv").write_text("my data")
    assert train_cli(tiny_flags(tiny_base, tiny_jsonl, mine)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a casus checkpoint" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "tiny.jsonl"]
    assert (mine / "results.csv").read_text() == "my data"


def test_cli_refuses_to_replace_a_checkpoint_without_overwrite(tiny_base, tiny_jsonl, tmp_path, capsys):
    ckpt = tmp_path / "run"
    ckpt.mkdir()
    (ckpt / "casus.json").write_text('{"from": "an earlier run"}')
    assert train_cli(tiny_flags(tiny_base, tiny_jsonl, ckpt)) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (ckpt / "casus.json").read_text() == '{"from": "an earlier run"}'


@pytest.mark.slow
def test_overwrite_replaces_the_checkpoint_keeps_the_users_files_and_reports_on_the_right_streams(
        tiny_base, tiny_jsonl, tmp_path, capsys):
    ckpt = tmp_path / "run"
    ckpt.mkdir()
    (ckpt / "casus.json").write_text('{"from": "an earlier run"}')
    (ckpt / "notes.txt").write_text("mine")
    assert train_cli(tiny_flags(tiny_base, tiny_jsonl, ckpt) + ["--overwrite"]) == 0
    assert read_metadata(ckpt)["config"]["overwrite"] is True
    assert (ckpt / "notes.txt").read_text() == "mine"
    out, err = capsys.readouterr()
    assert "train 16 sentences" in err and "dev   16 sentences" in err
    assert "train 16 sentences" not in out and "best dev macro-F1" in out and f"checkpoint: {ckpt}" in out
    assert "step 2 (epoch 0.50): dev macro-F1" in err and "dev macro-F1" not in out.replace("best dev macro-F1", "")


@pytest.mark.parametrize("flags", [["--learning-rate", "nan"], ["--learning-rate", "inf"], ["--num-threads", "-1"],
                                   ["--warmup-ratio", "1"], ["--warmup-ratio", "-0.1"], ["--warmup-ratio", "nan"],
                                   ["--weight-decay", "-0.01"], ["--weight-decay", "nan"]])
def test_non_numbers_and_out_of_range_settings_are_usage_errors(flags):
    with pytest.raises(SystemExit):
        parse_config(flags)


def test_repeat_takes_whole_copies_and_a_seeded_fraction():
    import numpy as np

    from casus.training.loop import repeated

    examples = [Example(f"s{i}", "threat", f"f:{i}") for i in range(10)]
    twice_and_a_half = repeated(examples, 2.5, np.random.default_rng(0))
    assert len(twice_and_a_half) == 25 and twice_and_a_half[:20] == examples * 2
    assert repeated(examples, 2.5, np.random.default_rng(0)) == twice_and_a_half
    assert len(set(repeated(examples, 0.3, np.random.default_rng(1)))) == 3


def test_repeat_weights_each_training_file(tiny_jsonl, tmp_path):
    from casus.training.loop import load_splits

    other = tmp_path / "other.jsonl"
    other.write_text(tiny_jsonl.read_text())
    config = TrainConfig(train_file=[str(tiny_jsonl), str(other)], dev_file=str(tiny_jsonl), repeat=[2, 0.5])
    train_examples, _, _ = load_splits(config)
    assert len(train_examples) == 16 * 2 + 8


def test_freeze_layers_stops_gradients_below_the_top(tiny_base):
    from transformers import AutoModelForSequenceClassification

    from casus.training.loop import freeze_bottom

    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=4)
    freeze_bottom(model, 1)
    assert not any(p.requires_grad for p in model.base_model.embeddings.parameters())
    assert not any(p.requires_grad for p in model.base_model.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    with pytest.raises(DataError, match="only 1 layers"):
        freeze_bottom(model, 2)


def test_mix_strength_is_chosen_by_dev_macro_f1():
    import numpy as np

    from casus.training.loop import best_mix_strength

    # every sentence of a rare tag sits just above background: a full shift towards a background-heavy
    # mix would lose them all, so no shift is best; with background unsure instead, the full shift wins
    gold = np.array([0, 1, 2, 3, 3, 3])
    logits = np.array([[1.0, 0, 0, 0.8], [0, 1.0, 0, 0.8], [0, 0, 1.0, 0.8], [0, 0, 0, 2], [0, 0, 0, 2], [0, 0, 0, 2]])
    shift = np.log([0.05, 0.05, 0.05, 0.85]) - np.log([0.25] * 4)
    assert best_mix_strength(logits, gold, shift, calibrate=False)[:2] == (0.0, 1.0)
    unsure = np.array([[4.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 4.0, 0], [0, 0.5, 0, 0.2], [0.5, 0, 0, 0.2], [0, 0, 0, 2]])
    assert best_mix_strength(unsure, gold, shift, calibrate=False)[0] == 1.0
    share, temperature, score = best_mix_strength(unsure, gold, shift)
    from casus.eval.metrics import macro_f1
    from casus.model.calibration import calibrated_logits

    assert score == macro_f1(gold, calibrated_logits(unsure, temperature, share * shift).argmax(axis=1))


def test_class_weights_are_sklearns_balanced_weights():
    from sklearn.utils.class_weight import compute_class_weight
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(20):
        counts = rng.integers(1, 50, size=len(LABELS))
        examples = [Example("s", label, "f:1") for label, n in zip(LABELS, counts) for _ in range(n)]
        by_hand = [len(examples) / (len(LABELS) * n) for n in counts]  # the formula casus used before sklearn
        assert class_weights(examples).tolist() == pytest.approx(by_hand, rel=1e-6)
        assert class_weights(examples).tolist() == pytest.approx(
            compute_class_weight("balanced", classes=np.array(LABELS), y=[ex.label for ex in examples]), rel=1e-6)


def test_a_fraction_that_leaves_a_tag_out_is_a_data_error(tiny_jsonl, tmp_path):
    from casus.training.loop import load_splits

    threats = tmp_path / "threats.jsonl"
    threats.write_text("".join(line + "\n" for line in tiny_jsonl.read_text().splitlines() if '"threat"' in line))
    others = tmp_path / "others.jsonl"
    others.write_text("".join(line + "\n" for line in tiny_jsonl.read_text().splitlines() if '"threat"' not in line))
    config = TrainConfig(train_file=[str(threats), str(others)], dev_file=str(tiny_jsonl), repeat=[0.1, 1])
    with pytest.raises(DataError, match="no training sentences labelled threat"):
        load_splits(config)


def tiny_config(tiny_base, tiny_jsonl, out, **fields):
    settings = dict(train_file=str(tiny_jsonl), dev_file=str(tiny_jsonl), out_dir=str(out), base_model=str(tiny_base),
                    batch_size=4, max_length=32, num_threads=1)
    return TrainConfig(**{**settings, **fields})


def saved_weights(folder):
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


@pytest.mark.slow
def test_early_stopping_keeps_the_best_checkpoint_not_the_last(tiny_base, tiny_jsonl, tmp_path, monkeypatch):
    # dev scores scripted: best at the 2nd evaluation, then 2 without gain stop the run (patience 2)
    scores, seen = iter([0.5, 0.9, 0.6, 0.7, 0.95, 0.99]), []

    def scripted_dev_score(evaluator, model, *args):
        seen.append({name: tensor.detach().clone() for name, tensor in model.state_dict().items()})
        return next(scores), {label: 0.0 for label in LABELS}, 0.0

    monkeypatch.setattr("casus.training.loop.dev_macro_f1", scripted_dev_score)
    out = tmp_path / "run"
    summary = train(tiny_config(tiny_base, tiny_jsonl, out, epochs=5, evals_per_epoch=4, patience=2,
                                learning_rate=1e-3, warmup_ratio=0.0, label_mix="train"))
    assert summary["steps"] == 4 and len(seen) == 4, "stopped by patience, long before the 20 steps of 5 epochs"
    assert (summary["step"], summary["dev_macro_f1"]) == (2, 0.9)
    metadata = read_metadata(out)
    assert metadata["metrics"]["step"] == 2
    assert [row["dev_macro_f1"] for row in metadata["history"]] == [0.5, 0.9, 0.6, 0.7]

    saved = saved_weights(out)
    encoder = [name for name in saved if not name.startswith("classifier.")]  # calibration folds into the head
    assert encoder and set(encoder) <= set(seen[1])
    assert all(torch.equal(saved[name], seen[1][name]) for name in encoder), "the weights of the best step"
    assert not all(torch.equal(saved[name], seen[3][name]) for name in encoder), "training moved on after it"


@pytest.mark.slow
def test_the_same_seed_gives_the_same_weights(tiny_base, tiny_jsonl, tmp_path):
    def weights_after_training(name, seed):
        train(tiny_config(tiny_base, tiny_jsonl, tmp_path / name, max_steps=3, seed=seed, learning_rate=1e-3))
        return saved_weights(tmp_path / name)

    first, again, other = weights_after_training("a", 0), weights_after_training("b", 0), weights_after_training("c", 1)
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first), "another seed must give other weights"


@pytest.mark.slow
def test_the_model_can_overfit_16_sentences(learned_checkpoint):
    # conftest's learned_checkpoint: no dropout, each step on all 16 sentences, 40 steps
    out, summary = learned_checkpoint
    texts = [text for texts in TINY_DATA.values() for text in texts]
    gold = [label for label, texts in TINY_DATA.items() for _ in texts]
    assert summary["steps"] == 40 and summary["history"][-1]["loss"] < 0.1, summary["history"]
    assert summary["dev_macro_f1"] == 1.0
    assert [tag.label for tag in load(out, precision="fp32").tag(texts)] == gold


@pytest.mark.slow
@pytest.mark.parametrize("flags, prior", [(["--no-class-weights"], [4 / 24, 4 / 24, 4 / 24, 12 / 24]),
                                          ([], [0.25] * 4)])
def test_the_training_label_mix_is_stored_as_train_prior(tiny_base, tiny_jsonl, tmp_path, flags, prior):
    data = tmp_path / "unbalanced.jsonl"
    extra = [f"The delegation visited the museum in town number {i}." for i in range(8)]
    data.write_text(tiny_jsonl.read_text() + "".join(json.dumps({"text": t, "label": "background"}) + "\n"
                                                      for t in extra))
    out = tmp_path / "run"
    argv = ["--train-file", str(data), "--dev-file", str(tiny_jsonl), "--base-model", str(tiny_base),
            "--out-dir", str(out), "--batch-size", "4", "--max-steps", "2", "--max-length", "16",
            "--label-mix", "train", *flags]
    assert train_cli(argv) == 0
    metadata = read_metadata(out)
    assert LABELS[-1] == "background"
    # as trained, and (the target mix being the training mix) as shipped
    assert metadata["calibration"]["trained_prior"] == pytest.approx(prior)
    assert metadata["train_prior"] == pytest.approx(prior)
    assert load(out, precision="fp32").train_prior.tolist() == pytest.approx(prior)
