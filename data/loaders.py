"""Read labelled sentences from CSV, JSONL or a `datasets` folder, with errors that name file and line."""
import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from casus.data.labels import UnknownLabelError, normalize_label


class DataError(ValueError):
    """Bad input data; the message names the file and line (or row) at fault. `kind` names the problem
    in a word or two ("invalid-json", "empty-text", ...) for reports that list many of them."""

    def __init__(self, message, kind="bad-data"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Example:
    text: str
    label: str | None  # canonical label, or None when the file is unlabelled
    where: str  # "path:line" (or "path:row N" for a datasets folder), for error messages and reports
    doc_id: str | None = None
    hard: str | None = None  # the corpus' hard-case category ("metaphor", "fear", ...), where annotated


def load_examples(path, text_column="text", label_column="label", require_labels=True) -> list[Example]:
    """All rows of a .jsonl, .csv/.tsv file or a `datasets.save_to_disk` folder as Examples."""
    path = Path(path)
    examples = [to_example(row, where, text_column, label_column, require_labels) for where, row in read_rows(path)]
    if not examples:
        raise DataError(f"{path}: no rows", kind="no-rows")
    return examples


def read_rows(path):
    """(where, row) for every row of a file or folder. A row that cannot be parsed comes as its DataError
    instead of a dict, so a caller can stop at it (to_example raises it) or collect it and go on
    (data/check.py). A problem with the whole file (missing, unknown format, no header) raises a DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder", kind="missing-file")
    if path.is_dir():
        return _datasets_rows(path)
    if path.suffix in (".jsonl", ".json"):
        return _jsonl_rows(path)
    if path.suffix in (".csv", ".tsv"):
        return _csv_rows(path)
    raise DataError(f"{path}: unsupported format {path.suffix!r}; use .jsonl, .csv, .tsv or a datasets folder",
                    kind="unsupported-format")


def fingerprint(examples) -> str:
    """A sha256 over texts and labels: names the exact training data in checkpoint metadata."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.text}\t{ex.label}\n".encode())
    return digest.hexdigest()


def to_example(row, where, text_column="text", label_column="label", require_labels=True) -> Example:
    """One row from read_rows as an Example, or a DataError naming `where`.
    label_column=None with require_labels=False reads no label (data/event_codes.py maps its own)."""
    if isinstance(row, DataError):
        raise row
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected an object with a {text_column!r} field, got {type(row).__name__}",
                        kind="not-an-object")
    if text_column not in row:
        raise DataError(f"{where}: missing column {text_column!r} (has: {', '.join(map(str, row)) or 'nothing'})",
                        kind="missing-column")
    text = row[text_column]
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: empty text", kind="empty-text")
    # csv.DictReader files extra cells under the key None, so None is never looked up as a column
    label = row.get(label_column) if label_column is not None else None
    if label is None or label == "":
        if require_labels:
            raise DataError(f"{where}: missing label (column {label_column!r})", kind="missing-label")
    else:
        try:
            label = normalize_label(label)
        except UnknownLabelError as err:
            raise DataError(f"{where}: {err}", kind="unknown-label") from None
    doc_id, hard = row.get("doc_id"), row.get("hard")
    # an empty CSV cell is no doc_id, as a missing JSON key is: "" would make all such rows one document
    return Example(text=text.strip(), label=label, where=where, doc_id=None if doc_id in (None, "") else str(doc_id),
                   hard=hard or None)


def _jsonl_rows(path):
    with open(path, "rb") as f:
        yield from jsonl_rows(f, path)


def jsonl_rows(f, name):
    """(where, row) for each line of a JSONL stream opened in binary mode (a file, or sys.stdin.buffer), as
    read_rows gives them. Bytes are decoded per line, so one bad byte is reported at its line, not as a
    bare UnicodeDecodeError."""
    for n, raw in enumerate(f, 1):
        where = f"{name}:{n}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield where, DataError(f"{where}: not UTF-8 ({err.reason} at byte {err.start + 1} of the line)",
                                   kind="encoding")
            continue
        if not line.strip():
            continue
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as err:
            yield where, DataError(f"{where}: invalid JSON ({err.msg})", kind="invalid-json")


def _csv_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        try:
            if not reader.fieldnames:
                raise DataError(f"{path}:1: no header row", kind="no-header")
            for row in reader:
                # line_num is the last physical line read, so a quoted multi-line field still points at its row
                yield f"{path}:{reader.line_num}", row
        except csv.Error as err:
            # the csv reader cannot resume after an error, so this ends the file. DictReader's own line_num
            # is only updated after a good row; the inner reader's counts the line that failed.
            where = f"{path}:{reader.reader.line_num}"
            yield where, DataError(f"{where}: unreadable CSV ({err})", kind="invalid-csv")
        except UnicodeDecodeError as err:
            # text is decoded in blocks, not lines: the line comes from decoding the file's bytes again
            raise DataError(f"{path}:{_first_undecodable_line(path)}: not UTF-8 ({err.reason})",
                            kind="encoding") from None


def _first_undecodable_line(path) -> int:
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return data.count(b"\n", 0, err.start) + 1
    return 1  # not reached: the caller saw the file fail to decode


def _datasets_rows(path):
    import datasets  # imported here: it is slow to import and only this format needs it

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as err:  # datasets raises several types for a folder that is not one of its own
        raise DataError(f"{path}: not a datasets folder ({err})") from None
    if isinstance(ds, datasets.DatasetDict):
        raise DataError(f"{path}: a DatasetDict with splits {list(ds)}; point at one split's folder")
    for i, row in enumerate(ds):
        yield f"{path}:row {i}", row
