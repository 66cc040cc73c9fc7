"""The classifier: checkpoint save/load and the inference function `load(dir).tag([...])`."""
from casus.model.tagger import Tag, Tagger, load

__all__ = ["Tag", "Tagger", "load"]
