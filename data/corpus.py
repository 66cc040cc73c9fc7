"""Where the shipped data lives: the written corpus in data/corpus/ and the real news in data/real/, each
split by document into train, dev and test."""
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"
REAL_DIR = Path(__file__).parent / "real"
SPLITS = ("train", "dev", "test")


def corpus_file(split: str) -> Path:
    """A split of the written corpus: sentences composed in wire style for casus."""
    return _split_file(CORPUS_DIR, split)


def real_file(split: str) -> Path:
    """A split of the real news: published articles, labelled by two annotators and adjudicated."""
    return _split_file(REAL_DIR, split)


def _split_file(folder, split):
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return folder / f"{split}.jsonl"
