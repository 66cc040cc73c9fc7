"""model/collection.py and `casus tag COLLECTION`: streaming, resumable tagging of many articles."""
import csv
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from casus.data.labels import LABELS
from casus.data.loaders import DataError
from casus.data.sentences import split_sentences, split_sentences_with_offsets
from casus.model import load
from casus.model.cli import main
from casus.model.collection import columns, tag_file

ARTICLES = [
    {"id": "a1", "text": "Air strikes hit three villages near the front line overnight, killing nine people.\n\n"
                         '"We will strike back at anyone who crosses the line," the commander said. '
                         "The council deplored the attack on the aid convoy in the strongest terms."},
    {"id": "a2", "text": "  The province has been contested since the end of the colonial era.  Talks between\n"
                         "the two delegations ended without agreement in Geneva.\n\nThe minister warned the "
                         "neighbours that they would pay a heavy price for any incursion."},
    {"id": 3, "text": "Insurgents ambushed an army patrol on the highway, officials said."},
    {"id": "a4", "text": "Rights groups denounced the raid.\tArtillery shelled the port for a second day as troops "
                         "advanced on the town. Analysts say the risk of a wider war remains high."},
]
FLOATS = ("score", *(f"p_{label}" for label in LABELS))


@pytest.fixture(scope="module")
def tagger(tiny_checkpoint):
    return load(tiny_checkpoint, precision="fp32")


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_rows(path):
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_same_rows(rows, expected):
    """Equal row for row; probabilities to 1e-5 (a different batch mix pads differently), CSV strings too."""
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected):
        assert list(row) == list(want)
        assert {k: v for k, v in row.items() if k not in FLOATS} == {k: v for k, v in want.items() if k not in FLOATS}
        for key in FLOATS:
            assert float(row[key]) == pytest.approx(float(want[key]), abs=1e-5)


def cli(tiny_checkpoint, *args):
    return main([*map(str, args), "--model", str(tiny_checkpoint), "--precision", "fp32"])


def test_jsonl_collection_gives_one_row_per_sentence_with_offsets(tiny_checkpoint, tmp_path):
    source, out = write_jsonl(tmp_path / "news.jsonl", ARTICLES), tmp_path / "tags.jsonl"
    assert cli(tiny_checkpoint, source, "--output", out) == 0
    rows = read_rows(out)
    assert all(list(row) == columns(LABELS) for row in rows)
    texts = {a["id"]: a["text"] for a in ARTICLES}
    expected = [(a["id"], i, start, end, sentence) for a in ARTICLES
                for i, (sentence, start, end) in enumerate(split_sentences_with_offsets(a["text"]))]
    assert [(r["id"], r["sentence_index"], r["start"], r["end"], r["text"]) for r in rows] == expected
    assert len(rows) == 10 and rows[0]["start"] == 0 and rows[3]["start"] == 2  # a2 opens with two spaces
    for row in rows:
        assert " ".join(texts[row["id"]][row["start"]:row["end"]].split()) == row["text"]
        probs = {label: row[f"p_{label}"] for label in LABELS}
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert row["score"] == max(probs.values()) == probs[row["label"]]


def test_csv_input_with_renamed_fields_and_csv_output(tiny_checkpoint, tmp_path):
    source = tmp_path / "news.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["doc", "body", "date"])
        writer.writeheader()
        writer.writerows({"doc": a["id"], "body": a["text"], "date": "2020-01-05"} for a in ARTICLES)
    assert cli(tiny_checkpoint, source, "--id-field", "doc", "--text-field", "body",
               "--output", tmp_path / "tags.csv") == 0
    assert cli(tiny_checkpoint, write_jsonl(tmp_path / "news.jsonl", ARTICLES), "--output", tmp_path / "tags.jsonl") == 0
    as_strings = [{k: str(v) for k, v in row.items()} for row in read_rows(tmp_path / "tags.jsonl")]
    assert_same_rows(read_rows(tmp_path / "tags.csv"), as_strings)  # paragraphs survive CSV quoting


def test_jsonl_on_stdout_by_default_and_from_stdin_with_collection(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
        "".join(json.dumps(a) + "\n" for a in ARTICLES).encode())))
    assert cli(tiny_checkpoint, "-", "--collection") == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["id"] for r in rows] == ["a1"] * 3 + ["a2"] * 3 + [3] + ["a4"] * 3
    assert "tagged 4 articles, 10 sentences; 0 bad records skipped" in captured.err


def test_tag_collection_streams_and_agrees_with_tag(tagger):
    rows = list(tagger.tag_collection(ARTICLES, batch_size=2))
    sentences = [s for a in ARTICLES for s in split_sentences(a["text"])]
    tags = tagger.tag(sentences)
    assert [r["text"] for r in rows] == sentences
    assert [r["label"] for r in rows] == [t.label for t in tags]
    for row, tag in zip(rows, tags):
        assert row["score"] == pytest.approx(tag.score, abs=1e-5)
        assert [row[f"p_{label}"] for label in tagger.labels] == pytest.approx(list(tag.probs.values()), abs=1e-5)
    # lazy: the first rows come after a chunk of a few hundred sentences is read, not the whole stream
    read = []
    stream = ({"id": read.append(n) or n, "text": ARTICLES[n % 4]["text"]} for n in range(5000))
    first = list(itertools.islice(tagger.tag_collection(stream), 10))
    assert len(first) == 10 and 50 < len(read) < 200


def test_tag_collection_with_renamed_fields_and_bad_records(tagger):
    rows = list(tagger.tag_collection([{"key": "k", "body": "Shelling hit the port."}], "key", "body"))
    assert [(r["id"], r["sentence_index"], r["start"], r["end"]) for r in rows] == [("k", 0, 0, 22)]
    with pytest.raises(DataError, match="record 2: missing text"):
        list(tagger.tag_collection([{"id": "x", "text": "Fine."}, {"id": "y"}]))
    with pytest.raises(DataError, match="record 2: duplicate id 'x'"):
        list(tagger.tag_collection([{"id": "x", "text": "Fine."}, {"id": "x", "text": "Again."}]))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_after_a_crash_mid_document_equals_a_clean_run(tagger, tmp_path, suffix, capsys):
    source = write_jsonl(tmp_path / "news.jsonl", ARTICLES)
    clean = tmp_path / f"clean{suffix}"
    assert tag_file(tagger, source, clean, chunk_sentences=4) == 0
    data = clean.read_bytes()
    lines = data.splitlines(keepends=True)
    header = len(lines[0]) if suffix == ".csv" else 0
    second_doc = header + sum(map(len, lines[1 if header else 0:4 if header else 3]))  # a1 has 3 rows
    # cuts: mid-line inside a2, a line end inside a2, the a1/a2 boundary, mid-header/first line, nothing
    for cut in (second_doc + len(lines[3 + bool(header)]) + 7, second_doc + len(lines[3 + bool(header)]),
                second_doc, 5, 0, len(data)):
        crashed = tmp_path / f"crashed{suffix}"
        crashed.write_bytes(data[:cut])
        assert tag_file(tagger, source, crashed, resume=True) == 0
        rows = read_rows(crashed)
        assert_same_rows(rows, read_rows(clean))
        keys = [(r["id"], r["sentence_index"]) for r in rows]
        assert len(keys) == len(set(keys)) == 10
    assert "resuming" in capsys.readouterr().err


def test_resume_skips_finished_articles_and_adds_new_ones(tiny_checkpoint, tmp_path, capsys):
    source, out = write_jsonl(tmp_path / "news.jsonl", ARTICLES[:2]), tmp_path / "tags.jsonl"
    assert cli(tiny_checkpoint, source, "--output", out) == 0
    write_jsonl(source, ARTICLES)  # the archive grew
    assert cli(tiny_checkpoint, source, "--output", out, "--resume") == 0
    assert [r["id"] for r in read_rows(out)] == ["a1"] * 3 + ["a2"] * 3 + [3] + ["a4"] * 3
    err = capsys.readouterr().err
    assert "1 articles already tagged" in err  # a2, the last one written, is tagged again
    assert "tagged 3 articles" in err


def test_resume_refuses_a_file_it_did_not_write(tiny_checkpoint, tmp_path, capsys):
    source, out = write_jsonl(tmp_path / "news.jsonl", ARTICLES), tmp_path / "tags.jsonl"
    out.write_text("my notes\n", encoding="utf-8")
    assert cli(tiny_checkpoint, source, "--output", out, "--resume") == 2
    assert "cannot resume" in capsys.readouterr().err and out.read_text() == "my notes\n"


def test_existing_output_is_refused_unless_overwrite(tiny_checkpoint, tmp_path, capsys):
    source, out = write_jsonl(tmp_path / "news.jsonl", ARTICLES), tmp_path / "tags.jsonl"
    out.write_text("precious\n", encoding="utf-8")
    assert cli(tiny_checkpoint, source, "--output", out) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "precious\n"
    assert cli(tiny_checkpoint, source, "--output", out, "--overwrite") == 0
    assert len(read_rows(out)) == 10
    assert cli(tiny_checkpoint, source, "--output", source, "--overwrite") == 2  # never over the input
    assert "is the input" in capsys.readouterr().err


BAD = [
    json.dumps(ARTICLES[0]),
    "{not json",
    json.dumps({"text": "No id here."}),
    json.dumps({"id": "e", "text": "   "}),
    json.dumps({"id": "n"}),
    json.dumps(ARTICLES[2]),
    json.dumps({"id": "a1", "text": "A second article with the same id."}),
    json.dumps(ARTICLES[3]),
]


def test_on_error_skip_reports_every_bad_record_by_line(tiny_checkpoint, tmp_path, capsys):
    source, out = tmp_path / "news.jsonl", tmp_path / "tags.jsonl"
    source.write_text("\n".join(BAD) + "\n", encoding="utf-8")
    assert cli(tiny_checkpoint, source, "--output", out) == 0
    assert sorted({str(r["id"]) for r in read_rows(out)}) == ["3", "a1", "a4"]
    err = capsys.readouterr().err
    for line, kind in [(2, "invalid JSON"), (3, "missing id"), (4, "empty text"), (5, "missing text"),
                       (7, "duplicate id 'a1'")]:
        assert f"skipped: {source}:{line}: {kind}" in err
    assert "5 bad records skipped" in err


def test_on_error_stop_exits_2_after_writing_the_articles_before(tiny_checkpoint, tmp_path, capsys):
    source, out = tmp_path / "news.jsonl", tmp_path / "tags.jsonl"
    source.write_text("\n".join(BAD) + "\n", encoding="utf-8")
    assert cli(tiny_checkpoint, source, "--output", out, "--on-error", "stop") == 2
    assert {r["id"] for r in read_rows(out)} == {"a1"}
    assert f"error: {source}:2: invalid JSON" in capsys.readouterr().err


def test_empty_collection(tiny_checkpoint, tmp_path, capsys):
    source = tmp_path / "news.jsonl"
    source.write_text("", encoding="utf-8")
    assert cli(tiny_checkpoint, source, "--output", tmp_path / "tags.jsonl") == 0
    assert cli(tiny_checkpoint, source, "--output", tmp_path / "tags.csv") == 0
    assert cli(tiny_checkpoint, source) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "tagged 0 articles" in captured.err
    assert (tmp_path / "tags.jsonl").read_text() == ""
    assert (tmp_path / "tags.csv").read_text() == ",".join(columns(LABELS)) + "\n"


def test_parquet_input(tiny_checkpoint, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    source = tmp_path / "news.parquet"
    pq.write_table(pa.table({"id": [str(a["id"]) for a in ARTICLES], "text": [a["text"] for a in ARTICLES]}), source)
    assert cli(tiny_checkpoint, source, "--output", tmp_path / "tags.jsonl") == 0
    assert [r["id"] for r in read_rows(tmp_path / "tags.jsonl")] == ["a1"] * 3 + ["a2"] * 3 + ["3"] + ["a4"] * 3
    assert cli(tiny_checkpoint, source, "--id-field", "doc", "--output", tmp_path / "other.jsonl") == 2


def test_flags_that_do_not_fit_the_input_are_refused(tiny_checkpoint, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text("Troops shelled the town.", encoding="utf-8")
    source = write_jsonl(tmp_path / "news.jsonl", ARTICLES)
    for args in ([article, "--output", tmp_path / "x.jsonl"], [article, "--resume"], [article, "--workers", "2"],
                 [article, "--engine", "local"], [source, "--sentences"], [source, "--format", "jsonl"],
                 [source, "--workers", "0"], [source, "--engine", "spark"]):
        with pytest.raises(SystemExit) as exit_:
            cli(tiny_checkpoint, *args)
        assert exit_.value.code == 2
    assert cli(tiny_checkpoint, source, "--output", tmp_path / "tags.parquet") == 2
    assert cli(tiny_checkpoint, source, "--resume") == 2  # nothing to resume on standard output


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_a_closed_output_pipe_ends_quietly_with_141(tiny_checkpoint, tmp_path, workers):
    """`casus tag archive.jsonl | head -1`: the reader goes away after one row while casus has more to write."""
    many = [{"id": f"{a['id']}-{n}", "text": a["text"]} for n in range(200) for a in ARTICLES]  # 500 KB of rows
    source = write_jsonl(tmp_path / "news.jsonl", many)
    process = subprocess.Popen([sys.executable, "-m", "casus", "tag", "--model", str(tiny_checkpoint), "--precision",
                                "fp32", "--workers", workers, str(source)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent)
    assert json.loads(process.stdout.readline())["id"] == "a1-0"
    process.stdout.close()  # more than a pipe's 64 KB is still to come: the next write fails
    err = process.stderr.read().decode()
    assert process.wait() == 141 and err == ""


def test_engine_ray_without_ray_installed_is_one_line(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray.data", None)  # import ray.data now raises ImportError
    source = write_jsonl(tmp_path / "news.jsonl", ARTICLES)
    assert cli(tiny_checkpoint, source, "--engine", "ray") == 2
    assert capsys.readouterr().err == "casus tag: error: --engine ray needs Ray Data: pip install 'casus[cluster]'\n"
