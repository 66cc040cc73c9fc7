"""Turn CAMEO- or PLOVER-coded event records into the four tags, as silver labels for their sentences."""
import re
from dataclasses import replace

from casus.data.loaders import DataError, Example, load_examples, read_rows, to_example

# CAMEO root code (the first two digits) -> tag. Every other root (01-10, 12, 14-17) is background.
CAMEO_ROOT_TAGS = {
    "11": "condemnation",  # DISAPPROVE
    "13": "threat",  # THREATEN
    "18": "military_action",  # ASSAULT
    "19": "military_action",  # FIGHT
    "20": "military_action",  # USE UNCONVENTIONAL MASS VIOLENCE
}
_CAMEO_CODE = re.compile(r"\d{2,4}")

# PLOVER event type -> tag; the other known types are background.
PLOVER_TAGS = {
    "THREATEN": "threat",
    "DISAPPROVE": "condemnation",
    # PLOVER 0.7 (the version POLECAT uses) replaced DISAPPROVE with ACCUSE, defined as "express
    # disapprovals ... condemn, decry ... accuse, allege, blame": condemnation in labels.md. It also took
    # in INVESTIGATE, so a few ACCUSE records are investigations: silver labels, not gold.
    "ACCUSE": "condemnation",
    "ASSAULT": "military_action",
    "FIGHT": "military_action",  # earlier PLOVER drafts; merged into ASSAULT in 0.7
}
# Every type of the PLOVER drafts and of 0.7, so a misspelt type is an error rather than silent background.
PLOVER_TYPES = set(PLOVER_TAGS) | {
    "AGREE", "CONSULT", "SUPPORT", "CONCEDE", "COOPERATE", "AID", "RETREAT", "INVESTIGATE", "DEMAND",
    "REQUEST", "REJECT", "PROTEST", "MOBILIZE", "SANCTION", "COERCE", "CRIME",
}

SCHEMES = ("cameo", "plover")
DEFAULT_CODE_COLUMNS = {"cameo": ("cameo_code", "EventCode"), "plover": ("event_type",)}


def cameo_to_tag(code) -> str:
    """The tag of a CAMEO event code given as a string of 2-4 digits ("13", "190", "1823", "042").
    The root is the first two digits, so leading zeros matter: "0131" is root 01, not 13."""
    if not isinstance(code, str):
        # an int has lost any leading zero: 42 could have been "042" (root 04) or a malformed "42"
        raise ValueError(f"CAMEO code must be a string of 2-4 digits, got {type(code).__name__} {code!r}")
    code = code.strip()
    if not _CAMEO_CODE.fullmatch(code):
        raise ValueError(f"malformed CAMEO code {code!r}: expected 2-4 digits, e.g. '13', '190', '042'")
    root = code[:2]
    if not "01" <= root <= "20":
        raise ValueError(f"malformed CAMEO code {code!r}: root {root} is not one of 01-20")
    return CAMEO_ROOT_TAGS.get(root, "background")


def plover_to_tag(event_type) -> str:
    """The tag of a PLOVER event type ("THREATEN", "assault", ...), case-insensitive."""
    if not isinstance(event_type, str) or not event_type.strip():
        raise ValueError(f"PLOVER event type must be a non-empty string, got {event_type!r}")
    name = event_type.strip().upper()
    if name not in PLOVER_TYPES:
        raise ValueError(f"unknown PLOVER event type {event_type!r}; expected one of {', '.join(sorted(PLOVER_TYPES))}")
    return PLOVER_TAGS.get(name, "background")


def load_event_records(path, scheme, text_column="text", code_column=None) -> list[Example]:
    """The records of a .jsonl or .csv file as Examples labelled from their event code. code_column defaults
    to "cameo_code" or else "EventCode" for cameo, "event_type" for plover. Errors name file and line."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    to_tag = cameo_to_tag if scheme == "cameo" else plover_to_tag
    code_columns = (code_column,) if code_column else DEFAULT_CODE_COLUMNS[scheme]

    examples = []
    for where, row in read_rows(path):
        example = to_example(row, where, text_column, label_column=None, require_labels=False)
        column = next((c for c in code_columns if c in row), None)
        if column is None:
            raise DataError(f"{where}: missing column {' or '.join(map(repr, code_columns))}", kind="missing-column")
        try:
            examples.append(replace(example, label=to_tag(row[column])))
        except ValueError as err:
            raise DataError(f"{where}: {err}", kind="bad-event-code") from None
    if not examples:
        raise DataError(f"{path}: no rows", kind="no-rows")
    return examples


def load_labelled(path, scheme="tags", text_column="text", label_column="label") -> list[Example]:
    """Labelled examples from a file whose labels are the four tags (scheme "tags") or event codes
    ("cameo", "plover"; label_column then names the code column, "label" meaning the default ones)."""
    if scheme == "tags":
        return load_examples(path, text_column, label_column)
    return load_event_records(path, scheme, text_column, None if label_column == "label" else label_column)
