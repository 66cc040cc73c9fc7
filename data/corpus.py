"""Where the shipped corpus lives: data/corpus/{train,dev,test}.jsonl, split by document."""
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"
SPLITS = ("train", "dev", "test")


def corpus_file(split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return CORPUS_DIR / f"{split}.jsonl"
