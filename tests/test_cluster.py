"""model/cluster.py and `casus tag --engine ray`: on a local Ray cluster of 2 CPUs, the rows of the local job."""
import logging

import pytest
import ray  # the test install has it (the cluster extra): a missing Ray fails here, it is not skipped

from casus.model import load
from casus.model.collection import tag_file
from test_collection import ARTICLES, assert_same_rows, cli, read_rows, write_jsonl

MANY = [{"id": f"{a['id']}-{n}", "text": a["text"]} for n in range(10) for a in ARTICLES]  # 100 sentences

pytestmark = pytest.mark.slow  # starts Ray, whose actors each import torch: tens of seconds on 2 cores


@pytest.fixture(scope="module")
def local_ray():
    # started here so the tests share it; casus then leaves it running (it stops only a Ray it started)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def tagger(tiny_checkpoint):
    return load(tiny_checkpoint, precision="fp32")


def test_ray_job_writes_the_rows_of_the_local_job(local_ray, tagger, tmp_path, monkeypatch):
    monkeypatch.setattr("casus.model.cluster.WINDOW_PER_WORKER", 4)  # 13 chunks of 8 sentences: 2 Ray Data jobs
    source = write_jsonl(tmp_path / "news.jsonl", MANY)
    assert tag_file(tagger, source, tmp_path / "local.jsonl", chunk_sentences=8) == 0
    assert tag_file(tagger, source, tmp_path / "ray.jsonl", chunk_sentences=8, engine="ray", workers=2) == 0
    local, on_ray = read_rows(tmp_path / "local.jsonl"), read_rows(tmp_path / "ray.jsonl")
    assert len(local) == 100
    assert_same_rows(on_ray, local)
    key = [(str(r["id"]), r["sentence_index"]) for r in on_ray]
    assert key == [(str(r["id"]), r["sentence_index"]) for r in local] and len(set(key)) == 100
    assert ray.is_initialized()  # not casus' to stop
    assert ray.data.DataContext.get_current().execution_options.preserve_order is False  # given back


def test_ray_job_resumes_a_cut_file_and_the_cli_runs_it(local_ray, tiny_checkpoint, tagger, tmp_path, capsys):
    source = write_jsonl(tmp_path / "news.jsonl", MANY)
    clean = tmp_path / "clean.csv"
    assert tag_file(tagger, source, clean) == 0
    data = clean.read_bytes()
    crashed = tmp_path / "crashed.csv"
    crashed.write_bytes(data[:len(data) // 3 + 5])
    assert cli(tiny_checkpoint, source, "--output", crashed, "--resume", "--engine", "ray", "--workers", "2") == 0
    assert_same_rows(read_rows(crashed), read_rows(clean))
    err = capsys.readouterr().err
    assert "resuming" in err and "tagged" in err and "Traceback" not in err
    assert cli(tiny_checkpoint, source, "--output", crashed, "--engine", "ray") == 2  # never over a file
    assert "exists" in capsys.readouterr().err
