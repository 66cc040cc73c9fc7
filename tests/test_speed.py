"""python -m casus.eval.speed end to end on the tiny model and tiny sizes: it reports, it asserts nothing."""
import json
import shutil

from casus.eval.speed import format_report, main


def test_speed_runs_every_kind_of_system_and_the_scaling_table(tiny_checkpoint, tiny_jsonl, tmp_path, monkeypatch,
                                                               capsys):
    monkeypatch.setenv("CASUS_CACHE", str(tmp_path / "cache"))
    model = shutil.copytree(tiny_checkpoint, tmp_path / "model")  # the ONNX export is written beside it
    out = tmp_path / "speed.json"
    code = main(["--model", str(model), "--data", str(tiny_jsonl), "--systems", "casus onnx-fp32", "hf pipeline",
                 "tfidf+lr", "--batch-sizes", "1", "4", "--max-seconds", "0.05", "--sizes", "5", "12",
                 "--threads", "1", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert list(report["throughput"]) == ["casus onnx-fp32", "hf pipeline", "tfidf+lr"]
    for result in report["throughput"].values():
        assert [row["batch_size"] for row in result["results"]] == [1, 4]
        assert all(row["sentences_per_s"] > 0 and row["p95_ms"] >= row["p50_ms"] for row in result["results"])
        assert result["peak_rss_mib"] > 0
    # one-sentence articles through tag_collection: one row per sentence
    assert [(row["size"], row["rows"]) for row in report["scaling"]] == [(5, 5), (12, 12)]
    assert report["scaling"][0]["system"] == "casus onnx-fp32"
    assert capsys.readouterr().out.strip() == format_report(report)


def test_a_folder_that_is_not_a_checkpoint_is_a_usage_error(tmp_path, capsys):
    assert main(["--model", str(tmp_path), "--sizes"]) == 2
    assert capsys.readouterr().err.strip() == f"casus speed: error: {tmp_path}: not a casus checkpoint (no casus.json)"
