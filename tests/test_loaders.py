"""data/loaders.py, property-based: any valid rows come back as written, from CSV and from JSONL; any bad
file gives a DataError that names file and line, never another exception."""
import csv
import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casus.data.labels import LABELS
from casus.data.loaders import DataError, load_examples

# Few examples, no deadline: the fast suite stays fast, and a busy machine cannot fail a test by timing
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any text a sentence can hold except NUL, with something besides whitespace
characters = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")  # Cs: lone surrogates
texts = st.text(characters, min_size=1, max_size=60).filter(str.strip)
# The spellings normalize_label accepts: case, spaces or hyphens for the underscore, padding
labels = st.sampled_from(LABELS).flatmap(lambda label: st.sampled_from([
    label, label.upper(), label.replace("_", " ").title(), label.replace("_", "-"), f" {label} "]))
ids = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8)
rows = st.lists(st.fixed_dictionaries({"text": texts, "label": labels},
                                      optional={"doc_id": ids, "hard": st.sampled_from(["metaphor", "fear"])}),
                min_size=1, max_size=8)


def in_temp_file(name, write):
    folder = tempfile.mkdtemp()
    path = Path(folder) / name
    write(path)
    return path


def expected(row):
    canonical = row["label"].strip().lower().replace(" ", "_").replace("-", "_")
    return row["text"].strip(), canonical, row.get("doc_id"), row.get("hard")


def as_read(examples):
    return [(ex.text, ex.label, ex.doc_id, ex.hard) for ex in examples]


@PROPERTY
@given(rows)
def test_jsonl_rows_round_trip(rows):
    for ensure_ascii in (True, False):
        path = in_temp_file("rows.jsonl", lambda p: p.write_text(
            "".join(json.dumps(row, ensure_ascii=ensure_ascii) + "\n" for row in rows), encoding="utf-8"))
        examples = load_examples(path)
        assert as_read(examples) == [expected(row) for row in rows]
        assert [ex.where for ex in examples] == [f"{path}:{n}" for n in range(1, len(rows) + 1)]


@PROPERTY
@given(rows, st.sampled_from([".csv", ".tsv"]))
def test_csv_rows_round_trip(rows, suffix):
    def write(path):
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, ["text", "label", "doc_id", "hard"], delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)

    examples = load_examples(in_temp_file("rows" + suffix, write))
    # a cell left empty reads as no value, as a missing key does in JSONL
    assert as_read(examples) == [expected(row) for row in rows]


def assert_names_a_line(path, call):
    """call() succeeds, or raises a one-line DataError naming path and line; only a file without a single
    row is named without a line."""
    try:
        call()
    except DataError as err:
        assert "\n" not in str(err)
        if err.kind == "no-rows":
            assert str(err) == f"{path}: no rows"
        else:
            assert re.match(rf"{re.escape(str(path))}:\d+: \S", str(err)), str(err)


# Lines that may or may not be valid rows: JSON values of any kind, broken JSON, and raw bytes
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=6)
row_like = st.fixed_dictionaries({}, optional={"text": json_values | texts, "label": json_values | labels,
                                               "doc_id": json_values, "hard": json_values})
lines = st.one_of(row_like.map(json.dumps).map(str.encode), json_values.map(json.dumps).map(str.encode),
                  st.binary(max_size=30).map(lambda b: b.replace(b"\n", b" ")),
                  st.text(max_size=30).map(lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")))


@PROPERTY
@given(st.lists(lines, min_size=1, max_size=6))
def test_any_jsonl_line_gives_an_example_or_a_data_error_with_its_line(lines):
    path = in_temp_file("any.jsonl", lambda p: p.write_bytes(b"\n".join(lines) + b"\n"))
    assert_names_a_line(path, lambda: load_examples(path))


cells = st.text(characters, max_size=20)


@PROPERTY
@given(st.lists(st.lists(cells, max_size=4), min_size=1, max_size=6), st.text(max_size=10), st.booleans())
def test_any_csv_body_gives_examples_or_a_data_error_with_its_line(records, raw, bad_byte):
    """Rows of any width and content under a valid header, then raw text (stray quotes, lone \\r), and
    perhaps a byte that is not UTF-8."""
    def write(path):
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("text,label\n")
            csv.writer(f).writerows(records)
            f.write(raw)
        if bad_byte:
            with open(path, "ab") as f:
                f.write(b"\xff\n")

    path = in_temp_file("any.csv", write)
    assert_names_a_line(path, lambda: load_examples(path))


def test_a_csv_byte_that_is_not_utf8_is_reported_at_its_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"text,label\nFine.,threat\nBombard\xe9.,threat\n")
    try:
        load_examples(path)
    except DataError as err:
        assert str(err).startswith(f"{path}:3: not UTF-8")
    else:
        raise AssertionError("no DataError")


def test_an_empty_doc_id_cell_is_no_doc_id(tmp_path):
    # "" would put every such row into one document when a dev split is cut by documents
    path = tmp_path / "ids.csv"
    path.write_text("text,label,doc_id\nA.,threat,\nB.,threat,d1\n", encoding="utf-8")
    assert [ex.doc_id for ex in load_examples(path)] == [None, "d1"]
