"""Save and read casus checkpoints: a Hugging Face `save_pretrained` folder, casus.json metadata and a model card.

Writes are atomic: everything goes to a temporary sibling folder that is renamed into place only when
complete, so a crash leaves either the previous checkpoint or the new one, never half of one."""
import json
import os
import shutil
import tempfile
from pathlib import Path

METADATA_FILE = "casus.json"


class CheckpointError(RuntimeError):
    pass


def save_checkpoint(model, tokenizer, out_dir, metadata: dict, model_card=None) -> Path:
    """model_card: metadata -> README.md text, written into the checkpoint when given."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a checkpoint is shared like any folder
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if model_card is not None:
            (tmp / "README.md").write_text(model_card(metadata), encoding="utf-8")
        with open(tmp / METADATA_FILE, "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _swap_into_place(tmp: Path, out_dir: Path):
    # A folder cannot be replaced by rename while it exists, so the old one steps aside first; between
    # the two renames a crash leaves the old checkpoint at `.old`, which read_metadata points at.
    old = out_dir.with_name(f".{out_dir.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_metadata(model_dir) -> dict:
    model_dir = Path(model_dir)
    path = model_dir / METADATA_FILE
    if not model_dir.is_dir():
        hint = ""
        old = model_dir.with_name(f".{model_dir.name}.old")
        if old.is_dir():
            hint = f" (a save was interrupted; the previous checkpoint is at {old})"
        raise CheckpointError(f"{model_dir}: no such model folder{hint}; train one with `casus train`")
    if not path.exists():
        raise CheckpointError(f"{model_dir}: not a casus checkpoint (no {METADATA_FILE})")
    with open(path, encoding="utf-8") as f:
        return json.load(f)
