"""The label schema of ../shared/spec/labels.md: four tags, lower-case, in tie-break order."""

# Order matters: it is the tie-break order of the guidelines (step 3) and the class index order.
LABELS = ("threat", "condemnation", "military_action", "background")
LABEL2ID = {label: i for i, label in enumerate(LABELS)}
ID2LABEL = dict(enumerate(LABELS))

DEFINITIONS = {
    "threat": "an actor signals future harm, force, punishment or coercion against another actor",
    "condemnation": "an actor expresses disapproval of another actor's act (condemns, blames, accuses, protests)",
    "military_action": "armed force is used, or a concrete military move is made, as news of the story",
    "background": "everything else: context, history, profiles, diplomacy, analysis, support or sympathy",
}


class UnknownLabelError(ValueError):
    pass


def normalize_label(value) -> str:
    """Map a raw label to its canonical name, accepting case and spacing variants ("MILITARY_ACTION",
    "military action"). Raises UnknownLabelError for anything outside the schema."""
    if not isinstance(value, str):
        raise UnknownLabelError(f"label must be a string, got {value!r}")
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in LABEL2ID:
        raise UnknownLabelError(f"unknown label {value!r}; expected one of {', '.join(LABELS)}")
    return key
