"""Is the evaluation data what the model learned from or was chosen on? Scores on it are optimistic.

casus.json names the model's training and dev data with a sha256 fingerprint of their sentences and labels
(training/loop.py); an evaluation file with the same fingerprint is that data. A file that only shares some
sentences is found by reading the model's training and dev files, where they can still be read."""
import warnings
from pathlib import Path

from casus.data.loaders import DataError, fingerprint
from casus.model.checkpoint import CheckpointError, read_metadata

ROLES = {"train": "training", "dev": "dev"}
CONSEQUENCE = {
    "train": "the model learned from these sentences, so its scores on them are optimistic",
    "dev": "its checkpoint and calibration were chosen on these sentences, so its scores on them are optimistic",
}


class SeenDataWarning(UserWarning):
    """The evaluation data is, in whole or in part, the model's own training or dev data."""


def check_unseen(examples, data_name, model_dir) -> dict:
    """Warn (SeenDataWarning, one per role) when `examples` are the model's training or dev data, by
    fingerprint, or share sentences with its readable training or dev files. Returns what was found, per
    role: {"same_data": bool, "sentences_seen": int or None (files unreadable), "share": float or None}."""
    metadata = _read_metadata(model_dir)
    ours = fingerprint(examples)
    texts = [_normal(ex.text) for ex in examples]
    found = {}
    for role, name in ROLES.items():
        described = metadata.get(f"{role}_data") if isinstance(metadata.get(f"{role}_data"), dict) else {}
        source = described.get("source") or "unknown files"
        if described.get("sha256") == ours:
            found[role] = {"same_data": True, "sentences_seen": len(texts), "share": 1.0}
            warnings.warn(f"{data_name} is the model's {name} data (its sha256 matches casus.json's {role}_data, "
                          f"{source}): {CONSEQUENCE[role]}", SeenDataWarning, stacklevel=2)
            continue
        seen = _texts_of(_files(metadata, role), _config(metadata).get("text_column") or "text")
        if seen is None:
            found[role] = {"same_data": False, "sentences_seen": None, "share": None}
            continue
        count = sum(text in seen for text in texts)
        found[role] = {"same_data": False, "sentences_seen": count, "share": count / len(texts)}
        if count:
            warnings.warn(f"{count} of {len(texts)} sentences of {data_name} ({count / len(texts):.1%}) are in the "
                          f"model's {name} data ({source}): {CONSEQUENCE[role]}", SeenDataWarning, stacklevel=2)
    return found


def _read_metadata(model_dir) -> dict:
    try:
        return read_metadata(model_dir)
    except CheckpointError:  # loading the model reports a bad casus.json; here it only means "unknown"
        return {}


def _files(metadata, role) -> list:
    """The files casus.json says the model's training (or dev) sentences came from; [] when it names none."""
    config = _config(metadata)
    if role == "train":
        files = config.get("train_file") or []
        return [files] if isinstance(files, str) else list(files)
    if config.get("dev_file"):
        return [config["dev_file"]]
    source = (metadata.get("dev_data") or {}).get("source") if isinstance(metadata.get("dev_data"), dict) else None
    # without --dev-file, dev is the shipped real dev file (a path) or a share of the training files (a phrase)
    return [source] if source and Path(source).is_file() else []


def _config(metadata) -> dict:
    return metadata["config"] if isinstance(metadata.get("config"), dict) else {}


def _texts_of(files, text_column="text") -> set | None:
    """The sentences of files, normalised; None when there are none or any cannot be read."""
    from casus.data.loaders import load_examples

    if not files:
        return None
    texts = set()
    for path in files:
        try:
            # without labels: a file labelled with event codes (--label-scheme) still gives its sentences
            examples = load_examples(path, text_column, label_column=None, require_labels=False)
        except (DataError, OSError):
            return None
        texts.update(_normal(ex.text) for ex in examples)
    return texts


def _normal(text) -> str:
    return " ".join(text.split()).casefold()
