import os

import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from casus.model.checkpoint import CheckpointError, check_out_dir, read_metadata, save_checkpoint, update_metadata


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


def test_a_new_save_replaces_casus_files_and_keeps_the_users(parts, tmp_path):
    model, tokenizer = parts
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})
    (tmp_path / "ckpt" / "notes.txt").write_text("mine")
    (tmp_path / "ckpt" / "eval" / "test").mkdir(parents=True)
    (tmp_path / "ckpt" / "eval" / "test" / "summary.json").write_text("{}")
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 2})
    assert read_metadata(tmp_path / "ckpt") == {"version": 2}
    assert (tmp_path / "ckpt" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "ckpt" / "eval" / "test" / "summary.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_never_replaces_a_folder_casus_did_not_write(parts, tmp_path):
    model, tokenizer = parts
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(CheckpointError, match="not a casus checkpoint"):
        save_checkpoint(model, tokenizer, tmp_path / "mine", {"version": 1})
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_killed_saves_leftovers_are_cleaned_at_the_next_save(parts, tmp_path):
    model, tokenizer = parts
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})
    stale = tmp_path / ".ckpt.tmp-a1b2c3"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    (tmp_path / ".ckpt.old").mkdir()  # half deleted after a finished swap
    (tmp_path / ".other.tmp-x").mkdir()  # another checkpoint's: not ours to touch
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-x", "ckpt"]
    assert read_metadata(tmp_path / "ckpt") == {"version": 2}


def test_a_save_killed_between_the_renames_gets_its_previous_checkpoint_back(parts, tmp_path):
    model, tokenizer = parts
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})
    (tmp_path / "ckpt" / "notes.txt").write_text("mine")
    os.replace(tmp_path / "ckpt", tmp_path / ".ckpt.old")  # the state after the first rename
    with pytest.raises(CheckpointError, match="previous checkpoint is at"):
        read_metadata(tmp_path / "ckpt")
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 2})
    assert read_metadata(tmp_path / "ckpt") == {"version": 2}
    assert (tmp_path / "ckpt" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_every_file_and_the_parent_folder_are_synced(parts, tmp_path, monkeypatch):
    model, tokenizer = parts
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"version": 1})
    names = {os.path.basename(path) for path in synced}
    assert {"casus.json", "model.safetensors", "config.json", "tokenizer.json"} <= names
    assert str(tmp_path) == synced[-1], "the parent folder, after the renames"
    update_metadata(tmp_path / "ckpt", {"more": 1})
    assert read_metadata(tmp_path / "ckpt") == {"version": 1, "more": 1}
    assert synced[-1] == str(tmp_path / "ckpt")


@pytest.mark.parametrize("setup, message", [
    (lambda d: d.write_text("x"), "is a file or a symlink"),
    (lambda d: d.symlink_to(d.parent), "is a file or a symlink"),
    (lambda d: (d.mkdir(), (d / "data.csv").write_text("x")), "not a casus checkpoint"),
    (lambda d: (d.mkdir(), (d / "casus.json").write_text("{}")), "pass --overwrite"),
    (lambda d: (d.with_name(".out.old").mkdir()), "interrupted save"),
])
def test_out_dirs_a_save_would_harm_are_refused(tmp_path, setup, message):
    setup(tmp_path / "out")
    with pytest.raises(CheckpointError, match=message):
        check_out_dir(tmp_path / "out")


def test_out_dirs_that_are_fine(tmp_path):
    check_out_dir(tmp_path / "new" / "deeper")
    (tmp_path / "empty").mkdir()
    check_out_dir(tmp_path / "empty")
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "casus.json").write_text("{}")
    check_out_dir(tmp_path / "ckpt", overwrite=True)


def test_out_dir_in_a_folder_casus_cannot_write_in_is_refused(tmp_path, monkeypatch):
    # os.access stands in for a read-only folder: the tests may run as root, who can write anywhere
    monkeypatch.setattr(os, "access", lambda path, mode: str(path) != str(tmp_path))
    with pytest.raises(CheckpointError, match=f"cannot write in {tmp_path}"):
        check_out_dir(tmp_path / "not-yet" / "run")
