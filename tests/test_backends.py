"""Backends and precisions: ONNX Runtime export and its cache, batch independence, the GPU precision choice."""
import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from casus.model import onnx_export
from casus.model.tagger import load, resolve_precision

# Of different lengths, so a batch of them pads the short ones.
SENTENCES = [
    "Rockets hit the base.",
    "The minister condemned the attack in the strongest terms on Monday night, his office said.",
    "We will respond.",
    "Talks between the two delegations are set for May in Geneva, officials on both sides said today.",
    "The militia vowed to exact revenge for the strikes on its positions along the river.",
    "Analysts say the risk of a wider war remains high.",
] * 3


@pytest.fixture
def checkpoint(tiny_checkpoint, tmp_path, monkeypatch):
    """A private copy of the tiny checkpoint (exports are written into it) and a private cache folder."""
    monkeypatch.setenv("CASUS_CACHE", str(tmp_path / "cache"))
    return shutil.copytree(tiny_checkpoint, tmp_path / "model")


@pytest.fixture
def fp32(tiny_checkpoint):
    return load(tiny_checkpoint, precision="fp32").predict_proba(SENTENCES)


def test_onnx_fp32_gives_the_probabilities_of_torch_fp32(checkpoint, fp32):
    onnx = load(checkpoint, backend="onnx", precision="fp32")
    np.testing.assert_allclose(onnx.predict_proba(SENTENCES), fp32, atol=1e-5)
    assert (checkpoint / "onnx" / "fp32" / "model.onnx").is_file()


def test_onnx_int8_stays_close_to_fp32(checkpoint, fp32):
    onnx = load(checkpoint, backend="onnx", precision="int8")
    assert onnx.precision == "int8" and onnx.labels == load(checkpoint, precision="fp32").labels
    probs = onnx.predict_proba(SENTENCES)
    np.testing.assert_allclose(probs, fp32, atol=0.02)
    # the same label wherever fp32's top two are further apart than int8's error can move them
    top2 = np.sort(fp32, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.04
    assert clear.any()
    assert (probs.argmax(1) == fp32.argmax(1))[clear].all()


@pytest.mark.parametrize("backend,precision", [("torch", "int8"), ("onnx", "int8"), ("onnx", "fp32"),
                                               ("torch", "fp32")])
def test_a_sentence_gets_the_same_result_whatever_its_batch(checkpoint, backend, precision):
    tagger = load(checkpoint, backend=backend, precision=precision)
    alone = tagger.predict_proba(SENTENCES, batch_size=1)
    batched = tagger.predict_proba(SENTENCES, batch_size=64)
    assert (alone.argmax(1) == batched.argmax(1)).all()
    np.testing.assert_allclose(alone, batched, atol=1e-5)
    # and with other batch-mates: the sentences in reverse order, in batches of 4
    np.testing.assert_allclose(tagger.predict_proba(SENTENCES[::-1], batch_size=4)[::-1], batched, atol=1e-5)


def test_the_export_is_reused_until_the_weights_change(checkpoint):
    load(checkpoint, backend="onnx", precision="int8")
    exported = checkpoint / "onnx" / "int8" / "model.onnx"
    first = exported.stat().st_ino, exported.stat().st_mtime_ns
    load(checkpoint, backend="onnx", precision="int8")
    assert (exported.stat().st_ino, exported.stat().st_mtime_ns) == first  # not exported again

    # retrain in place, as `casus train --overwrite` does: here, new classifier weights saved over the old
    tagger = load(checkpoint, precision="fp32")
    with torch.no_grad():
        tagger.model.classifier.bias += torch.tensor([3.0, 0.0, 0.0, 0.0])
    tagger.save_pretrained(checkpoint, overwrite=True)
    manifest = json.loads((checkpoint / "onnx" / "int8" / onnx_export.MANIFEST).read_text())
    onnx = load(checkpoint, backend="onnx", precision="int8")
    assert json.loads((checkpoint / "onnx" / "int8" / onnx_export.MANIFEST).read_text()) != manifest
    np.testing.assert_allclose(onnx.predict_proba(SENTENCES), load(checkpoint, precision="fp32").predict_proba(SENTENCES),
                               atol=0.02)


def test_a_read_only_checkpoint_exports_into_the_cache(checkpoint, tmp_path, monkeypatch):
    # what a read-only mount does to any folder made inside the checkpoint (chmod would not stop root)
    make_folder = os.mkdir

    def read_only_checkpoint(path, *args, **kwargs):
        if checkpoint in Path(path).absolute().parents:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return make_folder(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only_checkpoint)
    before = sorted(p.name for p in checkpoint.rglob("*"))
    tagger = load(checkpoint, backend="onnx", precision="fp32")
    assert sorted(p.name for p in checkpoint.rglob("*")) == before
    cached = list((tmp_path / "cache" / "onnx").glob("*-fp32/model.onnx"))
    assert len(cached) == 1
    assert tagger.predict_proba(SENTENCES).shape == (len(SENTENCES), 4)


def test_an_onnx_folder_casus_did_not_write_is_left_alone(checkpoint, tmp_path):
    (checkpoint / "onnx").write_text("a user's notes")
    load(checkpoint, backend="onnx", precision="fp32")
    assert (checkpoint / "onnx").read_text() == "a user's notes"
    assert list((tmp_path / "cache" / "onnx").glob("*-fp32/model.onnx"))


def test_unknown_backend_is_refused(tiny_checkpoint):
    with pytest.raises(ValueError, match="backend"):
        load(tiny_checkpoint, backend="tensorrt")


def test_unknown_backend_is_a_usage_error_on_the_command_line(tiny_checkpoint, tmp_path, capsys):
    from casus.cli import main

    article = tmp_path / "a.txt"
    article.write_text("Rockets hit the base.")
    assert main(["tag", str(article), "--model", str(tiny_checkpoint), "--backend", "tensorrt"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'tensorrt'" in err and "Traceback" not in err


def test_tag_and_eval_run_on_the_onnx_backend(checkpoint, tmp_path, capsys, tiny_jsonl):
    from casus.cli import main

    article = tmp_path / "a.txt"
    article.write_text("Rockets hit the base. The minister condemned the attack.")
    assert main(["tag", str(article), "--model", str(checkpoint), "--backend", "onnx", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in rows] == ["Rockets hit the base.", "The minister condemned the attack."]
    assert main(["eval", "--model", str(checkpoint), "--data", str(tiny_jsonl), "--no-baseline", "--no-benchmark",
                 "--bootstrap", "0", "--backend", "onnx", "--precision", "fp32", "--out", str(tmp_path / "eval")]) == 0
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["backend"] == "onnx" and summary["precision"] == "fp32"


@pytest.mark.parametrize("precision,backend,device,bf16,chosen", [
    ("auto", "torch", "cpu", False, "fp32"),
    ("int8", "torch", "cpu", False, "int8"),
    ("auto", "torch", "cuda", True, "bf16"),
    ("auto", "torch", "cuda", False, "fp16"),
    ("fp32", "torch", "cuda", True, "fp32"),
    ("fp16", "torch", "cuda", True, "fp16"),
    ("auto", "onnx", "cpu", False, "fp32"),
    ("int8", "onnx", "cpu", False, "int8"),
    ("fp32", "onnx", "cpu", False, "fp32"),
])
def test_precision_choice(precision, backend, device, bf16, chosen):
    assert resolve_precision(precision, backend, device, bf16) == chosen


@pytest.mark.parametrize("precision,backend,device", [("int8", "torch", "cuda"), ("auto", "onnx", "cuda"),
                                                      ("fp16", "onnx", "cpu"), ("bf16", "onnx", "cpu")])
def test_impossible_precisions_are_refused(precision, backend, device):
    with pytest.raises(ValueError):
        resolve_precision(precision, backend, device, True)


def test_autocast_path_runs_and_stays_close_to_fp32(tiny_checkpoint, fp32):
    # the GPU's bf16 autocast, run on the CPU: the same code path, minus the GPU
    tagger = load(tiny_checkpoint, precision="bf16", device="cpu")
    assert tagger.runner.autocast_dtype == torch.bfloat16
    np.testing.assert_allclose(tagger.predict_proba(SENTENCES), fp32, atol=0.05)
