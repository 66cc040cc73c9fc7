"""The folder `casus eval` writes to: it never overwrites or deletes a file that casus did not write.

casus eval writes TOP_FILES at the top of the folder and SYSTEM_FILES in one subfolder per scored
system. A folder holding only those is a previous evaluation: it is cleared and written again. A folder
holding anything else is refused unless --overwrite, and even then only casus's files are removed."""
from pathlib import Path

from casus.eval.report import SYSTEM_FILES

TOP_FILES = ("summary.json", "priors.json", "reliability.png")


class OutDirError(Exception):
    """The output folder cannot be used; the message says why, in one line."""


def prepare_out_dir(out_dir, overwrite=False) -> Path:
    """Make out_dir ready for a new evaluation: refuse a file or a folder holding others' files (unless
    overwrite), then remove the files an earlier evaluation left, so no stale system lingers."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutDirError(f"--out {out_dir}: is a file, not a folder")
    if not out_dir.exists():
        return out_dir
    ours, others = survey(out_dir)
    if others and not overwrite:
        shown = ", ".join(str(path.relative_to(out_dir)) for path in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        raise OutDirError(f"{out_dir}: holds files casus eval did not write ({shown}{more}); "
                          "pass --overwrite to write there anyway (only casus's own files are replaced)")
    for path in ours:
        path.unlink()
    for folder in {path.parent for path in ours} - {out_dir}:
        if not any(folder.iterdir()):  # a system folder that casus made and that now holds nothing
            folder.rmdir()
    return out_dir


def survey(out_dir: Path) -> tuple[list, list]:
    """(files casus eval writes, everything else) in out_dir. Symlinks are never casus's."""
    ours, others = [], []
    for entry in sorted(out_dir.iterdir()):
        if _plain_file(entry):
            (ours if entry.name in TOP_FILES else others).append(entry)
        elif entry.is_dir() and not entry.is_symlink():
            for inner in sorted(entry.iterdir()):
                (ours if _plain_file(inner) and inner.name in SYSTEM_FILES else others).append(inner)
        else:
            others.append(entry)
    return ours, others


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()
