"""data/check.py: every problem of every file is reported with its place, duplicates and leakage too."""
import json

import pytest

from casus.data.check import Problem, check_files, failed, read_file, summary
from casus.data.loaders import DataError, load_examples


def write_jsonl(path, rows):
    """rows are dicts (written as JSON) or raw strings (written as they are, to make bad lines)."""
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(text, label="background", **extra):
    return {"text": text, "label": label, **extra}


def lines_of(problems):
    return [str(p) for p in problems]


def test_clean_file_has_no_problems(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [
        row("The rebels vowed to retaliate.", "threat"),
        row("The ministry condemned the raid.", "CONDEMNATION"),
        row("Air strikes hit three villages.", "military action"),
        row("Talks ended without agreement."),
    ])
    problems, files = check_files([path])
    assert problems == []
    assert not failed(problems)
    assert files[0].label_counts() == {"threat": 1, "condemnation": 1, "military_action": 1, "background": 1}


def test_every_bad_row_is_reported_not_just_the_first(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [
        row("A fine sentence."),
        "{not json",
        row("   "),
        row("Mislabelled.", "threatening"),
        {"sentence": "Wrong column.", "label": "threat"},
        {"text": "No label here."},
        "[1, 2]",
        row("Another fine sentence.", "threat"),
    ])
    problems, files = check_files([path])
    assert lines_of(problems) == [
        f"{path}:2: invalid-json: invalid JSON (Expecting property name enclosed in double quotes)",
        f"{path}:3: empty-text: empty text",
        f"{path}:4: unknown-label: unknown label 'threatening'; expected one of threat, condemnation, "
        "military_action, background",
        f"{path}:5: missing-column: missing column 'text' (has: sentence, label)",
        f"{path}:6: missing-label: missing label (column 'label')",
        f"{path}:7: not-an-object: expected an object with a 'text' field, got list",
    ]
    assert [ex.where for ex in files[0].examples] == [f"{path}:1", f"{path}:8"]
    assert failed(problems)


def test_bad_bytes_are_reported_at_their_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"text": "Fine.", "label": "threat"}\n{"text": "Caf\xe9", "label": "threat"}\n'
                     b'{"text": "Also fine.", "label": "threat"}\n')
    problems, files = check_files([path])
    assert [(p.where, p.kind) for p in problems] == [(f"{path}:2", "encoding")]
    assert len(files[0].examples) == 2


def test_csv_rows(tmp_path):
    path = tmp_path / "dev.csv"
    path.write_text('text,label\nThe rebels vowed revenge.,threat\n,background\n"Shells hit\nthe port.",nonsense\n'
                    "Talks resumed.,\n", encoding="utf-8")
    problems, _ = check_files([path])
    # a quoted field over two lines is reported at the line where its row ends
    assert [(p.where, p.kind) for p in problems] == [
        (f"{path}:3", "empty-text"), (f"{path}:5", "unknown-label"), (f"{path}:6", "missing-label")]


def test_csv_without_text_column_reports_every_row(tmp_path):
    path = tmp_path / "dev.csv"
    path.write_text("sentence,label\nOne.,threat\nTwo.,threat\n", encoding="utf-8")
    problems, _ = check_files([path])
    assert [(p.where, p.kind) for p in problems] == [(f"{path}:2", "missing-column"), (f"{path}:3", "missing-column")]


def test_unreadable_csv_row_ends_the_file_with_a_problem(tmp_path):
    path = tmp_path / "dev.csv"
    path.write_text(f"text,label\nFine.,threat\n\"{'x' * 200_000}\",threat\n", encoding="utf-8")
    problems, files = check_files([path])
    assert [(p.where, p.kind) for p in problems] == [(f"{path}:3", "invalid-csv")]
    assert "field larger than field limit" in problems[0].message
    assert len(files[0].examples) == 1


@pytest.mark.parametrize("name, content, kind, message", [
    ("missing.jsonl", None, "missing-file", "no such file or folder"),
    ("notes.txt", "hello\n", "unsupported-format", "unsupported format '.txt'"),
    ("empty.jsonl", "\n\n", "no-rows", "no rows"),
    ("empty.csv", "", "no-header", "no header row"),
])
def test_whole_file_problems(tmp_path, name, content, kind, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    checked = read_file(path)
    assert len(checked.problems) == 1
    problem = checked.problems[0]
    assert (problem.kind, problem.where in (str(path), f"{path}:1")) == (kind, True)
    assert message in problem.message
    assert str(path) not in problem.message  # the place is said once, before the kind


def test_duplicates_inside_a_file_are_warnings(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [
        row("The militia vowed to exact revenge for the strikes on its bases.", "threat"),
        row("Talks ended without agreement."),
        row("The militia vowed to exact revenge for the strikes on its bases.", "threat"),
        row("The militia vowed to exact revenge for the strikes on its bases!", "background"),
        row("The militia vowed to exact revenge for the strikes on its bases in Iraq.", "threat"),
    ])
    problems, files = check_files([path])
    assert lines_of(problems) == [
        f"{path}:3: duplicate: duplicate of {path}:1",
        f"{path}:4: near-duplicate: near-duplicate of {path}:1 (labelled threat there, background here)",
        f"{path}:5: near-duplicate: near-duplicate of {path}:1",
    ]
    assert all(p.is_warning for p in problems)
    assert not failed(problems)
    assert failed(problems, strict=True)
    assert "0 errors, 3 warnings" in summary(problems, files)


def test_duplicates_are_reported_in_line_order(tmp_path):
    a = "The militia vowed to exact revenge for the strikes on its bases."
    b = "Air strikes hit three villages near the front line overnight."
    path = write_jsonl(tmp_path / "train.jsonl", [row(a), row(b), row(b), row(a)])
    problems, _ = check_files([path])
    assert [p.where for p in problems] == [f"{path}:3", f"{path}:4"]
    assert [p.message for p in problems] == [f"duplicate of {path}:2", f"duplicate of {path}:1"]


def test_sentence_leak_between_splits(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [
        row("Air strikes hit three villages near the front line overnight.", "military_action"),
        row("The group is led by a former schoolteacher who founded it in 2004."),
    ])
    dev = write_jsonl(tmp_path / "dev.jsonl", [
        row("Talks between the two delegations ended on Friday without any agreement on the border."),
        row("Air strikes hit three villages near the front line overnight.", "military_action"),
    ])
    test = write_jsonl(tmp_path / "test.jsonl", [
        row("The group is led by a former schoolteacher who founded it in 1998."),  # digits fold: same text
        row("Talks between the two delegations ended on Friday without any agreement on the border dispute."),
    ])
    problems, _ = check_files([train, dev, test])
    assert lines_of(problems) == [
        f"{dev}:2: leak: duplicate of {train}:1",
        f"{test}:1: leak: near-duplicate of {train}:2",
        f"{test}:2: leak: near-duplicate of {dev}:1",
    ]
    assert failed(problems)


def test_doc_id_leak_between_splits(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [
        row("First sentence of article one.", doc_id="a1"),
        row("Second sentence of article one.", doc_id="a1"),  # one document, one file: fine
        row("An unrelated line.", doc_id=7),
    ])
    dev = write_jsonl(tmp_path / "dev.jsonl", [
        row("A different sentence from the same article.", doc_id="a1"),
        row("And another one from it.", doc_id="a1"),
        row("A line from article seven, given as a string.", doc_id="7"),
        row("A line without a document."),
    ])
    problems, _ = check_files([train, dev])
    assert lines_of(problems) == [
        f"{dev}:1: leak: doc_id 'a1' also in {train}:1",
        f"{dev}:3: leak: doc_id '7' also in {train}:3",
    ]


def test_same_file_twice_is_checked_once(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [row("Talks ended without agreement.", doc_id="d")])
    problems, files = check_files([path, str(path), tmp_path / "." / "train.jsonl"])
    assert problems == [] and len(files) == 1


def test_summary_counts_per_label_per_file(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [row("One.", "threat"), row("Two.", "threat"), row("Three.")])
    dev = write_jsonl(tmp_path / "dev.jsonl", [row("Four is here.", "condemnation"), row("", "threat")])
    problems, files = check_files([train, dev])
    assert summary(problems, files).splitlines() == [
        f"{train}: 3 valid rows (threat 2, condemnation 0, military_action 0, background 1)",
        f"{dev}: 1 valid row (threat 0, condemnation 1, military_action 0, background 0)",
        "1 error, 0 warnings",
    ]


def test_problem_format():
    assert str(Problem("train.jsonl:4", "empty-text", "empty text")) == "train.jsonl:4: empty-text: empty text"


def test_load_examples_still_stops_at_the_first_error(tmp_path):
    # the checker collects what the loader raises; the loader itself must keep failing fast, same messages
    path = write_jsonl(tmp_path / "train.jsonl", [row("Fine."), "{not json", row("  ")])
    with pytest.raises(DataError, match=r"train\.jsonl:2: invalid JSON") as caught:
        load_examples(path)
    assert caught.value.kind == "invalid-json"
    path = write_jsonl(tmp_path / "train.jsonl", [row("Fine."), row("Also fine.", "nope"), row("  ")])
    with pytest.raises(DataError, match=r"train\.jsonl:2: unknown label 'nope'"):
        load_examples(path)
