"""model/workers.py and `casus tag --workers N`: the same rows from N processes as from one."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from casus.model import load
from casus.model.collection import tag_file
from casus.model.tagger import Tagger
from casus.model.workers import ProcessRunner
from test_collection import ARTICLES, assert_same_rows, cli, read_rows, write_jsonl

# 40 articles of 1 to 3 sentences: with 8-sentence chunks, a dozen chunks of different sizes, which
# two workers finish out of order
MANY = [{"id": f"{a['id']}-{n}", "text": a["text"]} for n in range(10) for a in ARTICLES]


@pytest.fixture(scope="module")
def tagger(tiny_checkpoint):
    return load(tiny_checkpoint, precision="fp32")


@pytest.mark.slow  # starts two worker processes, each importing torch
def test_two_workers_write_the_rows_of_one(tagger, tmp_path):
    source = write_jsonl(tmp_path / "news.jsonl", MANY)
    assert tag_file(tagger, source, tmp_path / "one.jsonl", chunk_sentences=8) == 0
    assert tag_file(tagger, source, tmp_path / "two.jsonl", chunk_sentences=8, workers=2) == 0
    one, two = read_rows(tmp_path / "one.jsonl"), read_rows(tmp_path / "two.jsonl")
    assert len(one) == 100
    assert_same_rows(two, one)


@pytest.mark.slow
def test_resume_with_two_workers_after_a_crash(tagger, tmp_path, capsys):
    source = write_jsonl(tmp_path / "news.jsonl", MANY)
    clean = tmp_path / "clean.csv"
    assert tag_file(tagger, source, clean, chunk_sentences=8) == 0
    data = clean.read_bytes()
    crashed = tmp_path / "crashed.csv"
    crashed.write_bytes(data[:len(data) // 2 + 11])  # mid-line, half-way through
    assert tag_file(tagger, source, crashed, chunk_sentences=8, resume=True, workers=2) == 0
    assert_same_rows(read_rows(crashed), read_rows(clean))
    assert "resuming" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_workers_and_tag_collection_workers(tiny_checkpoint, tagger, tmp_path):
    source = write_jsonl(tmp_path / "news.jsonl", MANY)
    assert cli(tiny_checkpoint, source, "--output", tmp_path / "one.jsonl") == 0
    assert cli(tiny_checkpoint, source, "--output", tmp_path / "two.jsonl", "--workers", "2") == 0
    assert_same_rows(read_rows(tmp_path / "two.jsonl"), read_rows(tmp_path / "one.jsonl"))
    assert_same_rows(list(tagger.tag_collection(MANY, workers=2)), list(tagger.tag_collection(MANY)))


def test_workers_share_the_threads(tagger, monkeypatch):
    made = {}

    class Pool:  # stands in for ProcessPoolExecutor: no processes needed to see what they would get
        def __init__(self, workers, mp_context, initializer, initargs):
            made.update(workers=workers, start_method=mp_context.get_start_method(), initargs=initargs)

    monkeypatch.setattr("casus.model.workers.ProcessPoolExecutor", Pool)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    ProcessRunner(tagger.spec(), 64, workers=3)
    assert made["workers"] == 3 and made["start_method"] == "spawn"
    assert made["initargs"] == (tagger.spec(), 2)  # 8 threads over 3 workers: 2 each, never 0
    ProcessRunner(tagger.spec(), 64, workers=16)
    assert made["initargs"][1] == 1


def test_spec_loads_the_same_tagger_with_its_priors(tiny_checkpoint, tagger):
    spec = tagger.spec()
    assert spec.model_dir == str(tiny_checkpoint.resolve()) and spec.precision == "fp32" and spec.priors is None
    shifted = load(tiny_checkpoint, precision="fp32", priors={"threat": 1, "condemnation": 1,
                                                             "military_action": 1, "background": 7})
    again = shifted.spec().load()
    assert again.priors == pytest.approx(shifted.priors)
    sentences = [a["text"] for a in ARTICLES]
    assert again.predict_proba(sentences) == pytest.approx(shifted.predict_proba(sentences), abs=1e-6)
    assert spec.load().priors is None


def test_a_tagger_not_loaded_from_a_folder_cannot_go_to_workers(tagger, tmp_path):
    bare = Tagger(tagger.model, tagger.tokenizer)
    with pytest.raises(ValueError, match="save it with save_pretrained"):
        list(bare.tag_collection(ARTICLES, workers=2))
    assert len(list(bare.tag_collection(ARTICLES))) == 10  # one process needs no spec


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_quietly_and_resume_finishes(tiny_checkpoint, tagger, tmp_path):
    """Ctrl-C reaches the whole process group: the workers leave it to the parent, which ends with 130 and
    one line, leaving a file --resume can finish."""
    many = [{"id": f"{a['id']}-{n}", "text": a["text"]} for n in range(500) for a in ARTICLES]
    source, out = write_jsonl(tmp_path / "news.jsonl", many), tmp_path / "tags.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "casus", "tag", "--model", str(tiny_checkpoint), "--precision",
                                "fp32", "--workers", "2", str(source), "--output", str(out)],
                               stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent, start_new_session=True)
    while process.poll() is None and not (out.exists() and out.stat().st_size):
        time.sleep(0.2)  # bounded by the job itself: it ends when all 2,000 articles are tagged
    os.killpg(process.pid, signal.SIGINT)
    err = process.stderr.read().decode()
    assert process.wait() == 130, err
    assert "Traceback" not in err and "interrupted after" in err and len(err.strip().splitlines()) == 1
    assert 0 < len(read_rows(out)) < 5000
    assert tag_file(tagger, source, out, resume=True) == 0
    rows = read_rows(out)
    assert len(rows) == 5000 and len({(r["id"], r["sentence_index"]) for r in rows}) == 5000
