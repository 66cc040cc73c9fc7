"""Save and read casus checkpoints: a Hugging Face `save_pretrained` folder, casus.json metadata and a model card.

Writes are atomic and durable: everything goes to a temporary sibling folder, every file in it is synced
to disk, and it is renamed into place only when complete, so a crash or a power cut leaves either the
previous checkpoint or the new one, never half of one. casus never deletes what it did not write: it
refuses to replace a folder that is not a casus checkpoint, and files a user put into a checkpoint are
carried over into the new one."""
import json
import os
import shutil
import tempfile
from pathlib import Path

METADATA_FILE = "casus.json"
# A folder that lacks these cannot be loaded; say so instead of letting transformers guess (without its
# tokenizer files it quietly builds an empty tokenizer).
MODEL_FILES = ("config.json", "model.safetensors")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")  # either will do


class CheckpointError(RuntimeError):
    pass


def check_out_dir(out_dir, overwrite=False):
    """Refuse, before any training, an --out-dir that a save would harm: a file or symlink, a folder that
    is not a casus checkpoint, a checkpoint without overwrite, or a parent casus cannot write in."""
    out_dir = Path(out_dir)
    old = _old(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise CheckpointError(f"{out_dir}: is a file or a symlink, not a folder; pick another output folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not (out_dir / METADATA_FILE).is_file():
            raise CheckpointError(f"{out_dir}: exists and is not a casus checkpoint (no {METADATA_FILE}); "
                                  "casus will not touch its files, pick another output folder")
        if not overwrite:
            raise CheckpointError(f"{out_dir}: holds a casus checkpoint; pass --overwrite to replace it")
    elif old.is_dir() and not overwrite:  # an interrupted save left the previous checkpoint there
        raise CheckpointError(f"{old} holds the checkpoint of an interrupted save; pass --overwrite to replace it")
    parent = out_dir.absolute().parent
    while not parent.exists():  # save_checkpoint makes the missing folders
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CheckpointError(f"{out_dir}: cannot write in {parent}")


def save_checkpoint(model, tokenizer, out_dir, metadata: dict, model_card=None) -> Path:
    """model_card: metadata -> README.md text, written into the checkpoint when given."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _recover(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / METADATA_FILE).is_file():
        raise CheckpointError(f"{out_dir}: is not a casus checkpoint (no {METADATA_FILE}); casus will not replace it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a checkpoint is shared like any folder
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if model_card is not None:
            (tmp / "README.md").write_text(model_card(metadata), encoding="utf-8")
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True), encoding="utf-8")
        _carry_over(out_dir, tmp)
        _sync_tree(tmp)
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def update_metadata(out_dir, changes: dict):
    """Merge changes into a saved checkpoint's casus.json, atomically and durably."""
    path = Path(out_dir) / METADATA_FILE
    metadata = {**read_metadata(out_dir), **changes}
    tmp = path.with_name(f".{METADATA_FILE}.tmp")
    tmp.write_text(json.dumps(metadata, indent=2, sort_keys=True), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


def _old(out_dir: Path) -> Path:
    return out_dir.with_name(f".{out_dir.name}.old")


def _recover(out_dir: Path):
    """Tidy what a killed save left: its temporary folders, and `.old`, which is either the previous
    checkpoint (the kill came between the two renames: put it back) or half deleted (after them: drop it)."""
    for stale in out_dir.parent.iterdir():
        if stale.name.startswith(f".{out_dir.name}.tmp-") and stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale)  # holds only files casus wrote, or hard links to a user's files
    old = _old(out_dir)
    if old.is_dir() and not old.is_symlink():
        if out_dir.exists():
            shutil.rmtree(old)
        else:
            os.replace(old, out_dir)


def _carry_over(out_dir: Path, tmp: Path):
    """Hard-link into the new checkpoint whatever the old one holds that this save did not write (a user's
    notes, casus eval results): the originals stay where they are until the swap, so no crash loses them."""
    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        target = tmp / entry.name
        if target.exists() or target.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target, follow_symlinks=False)


def _link_or_copy(src, dst, follow_symlinks=True):
    if Path(src).is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst)


def _swap_into_place(tmp: Path, out_dir: Path):
    # A folder cannot be replaced by rename while it exists, so the old one steps aside first; between
    # the two renames a crash leaves the old checkpoint at `.old`, which read_metadata points at and the
    # next save puts back.
    old = _old(out_dir)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    _fsync(out_dir.parent)  # the renames themselves are durable only once the parent folder is synced
    shutil.rmtree(old, ignore_errors=True)


def _sync_tree(root: Path):
    """fsync every file and folder under root: save_pretrained does not, and a rename can reach the disk
    before the data it points at."""
    for folder, _, files in os.walk(root):
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                _fsync(Path(folder) / name)
        _fsync(Path(folder))


def _fsync(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_metadata(model_dir) -> dict:
    model_dir = Path(model_dir)
    path = model_dir / METADATA_FILE
    if not model_dir.is_dir():
        hint = ""
        old = _old(model_dir)
        if old.is_dir():
            hint = f" (a save was interrupted; the previous checkpoint is at {old})"
        raise CheckpointError(f"{model_dir}: no such model folder{hint}; train one with `casus train`")
    if not path.exists():
        raise CheckpointError(f"{model_dir}: not a casus checkpoint (no {METADATA_FILE})")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: bad JSON or bad UTF-8
        raise CheckpointError(f"{path}: cannot read it: {err}") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: not a JSON object")
    return metadata


def check_model_files(model_dir):
    """Name the folder when the files a model needs are missing, before transformers fails obscurely."""
    model_dir = Path(model_dir)
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if not any((model_dir / name).is_file() for name in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if missing:
        raise CheckpointError(f"{model_dir}: incomplete checkpoint, missing {', '.join(missing)}")
