import os

import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from model.checkpoint import CheckpointError, read_metadata, save_checkpoint


@pytest.fixture
def parts(tiny_checkpoint):
    return (AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint),
            AutoTokenizer.from_pretrained(tiny_checkpoint))


def test_save_then_read(parts, tmp_path):
    model, tokenizer = parts
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})
    assert read_metadata(tmp_path / "ckpt") == {"version": 1}
    assert (tmp_path / "ckpt" / "model.safetensors").exists()


def test_a_crash_mid_save_keeps_the_previous_checkpoint(parts, tmp_path, monkeypatch):
    model, tokenizer = parts
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tokenizer, "save_pretrained", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 2})
    assert read_metadata(tmp_path / "ckpt") == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"], "temporary folder removed"


def test_overwrite_replaces_whole_folder(parts, tmp_path):
    model, tokenizer = parts
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})
    (tmp_path / "ckpt" / "stale.txt").write_text("from an older run")
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 2})
    assert read_metadata(tmp_path / "ckpt") == {"version": 2}
    assert not (tmp_path / "ckpt" / "stale.txt").exists()


def test_read_metadata_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such model folder"):
        read_metadata(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(CheckpointError, match="not a casus checkpoint"):
        read_metadata(tmp_path / "plain")


def test_checkpoint_folder_is_not_private(parts, tmp_path):
    model, tokenizer = parts
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})
    umask = os.umask(0)
    os.umask(umask)
    # as any folder made with mkdir would be, not mkdtemp's private 0700
    assert (tmp_path / "ckpt").stat().st_mode & 0o777 == 0o777 & ~umask
