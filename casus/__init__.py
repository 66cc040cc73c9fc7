"""casus: tag every sentence of an international-conflict news article as threat, condemnation,
military_action or background.

    import casus
    tagger = casus.load("runs/default")          # or casus.Tagger.from_pretrained("runs/default")
    tagger.tag_article(text)
    casus.train(casus.TrainConfig(out_dir="runs/mine"))

The folders model/, training/, data/ and eval/ of the source tree install as casus.model,
casus.training, casus.data and casus.eval (pyproject.toml's package-dir), so nothing named `model` or
`data` lands in site-packages. Names below load on first use: `import casus` stays light (no torch).
"""
__version__ = "0.2.0"  # `casus --version`; pyproject.toml's version must match (tests/test_cli_fuzz.py checks)

from casus.cli import main  # noqa: E402  (the CLI imports each command's module only when it runs)

_PUBLIC = {
    "load": "casus.model.tagger",
    "Tagger": "casus.model.tagger",
    "Tag": "casus.model.tagger",
    "train": "casus.training.loop",
    "TrainConfig": "casus.training.config",
    "split_sentences": "casus.data.sentences",
    "LABELS": "casus.data.labels",
}

__all__ = ["__version__", "main", *_PUBLIC]


def __getattr__(name):
    if name in _PUBLIC:
        import importlib

        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'casus' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
