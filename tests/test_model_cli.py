import io
import json

from casus.model.cli import main


def test_tag_a_file_as_jsonl(tiny_checkpoint, tmp_path, capsys):
    article = tmp_path / "article.txt"
    article.write_text("Troops shelled the town. The ministry condemned it.\n", encoding="utf-8")
    assert main([str(article), "--model", str(tiny_checkpoint), "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["Troops shelled the town.", "The ministry condemned it."]
    assert [r["index"] for r in rows] == [1, 2] and all(set(r["probs"]) == {
        "threat", "condemnation", "military_action", "background"} for r in rows)


def test_tag_lines_from_stdin_as_text(tiny_checkpoint, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("First sentence here. Still the first line.\n\nSecond line.\n"))
    assert main(["-", "--model", str(tiny_checkpoint), "--sentences"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].endswith("First sentence here. Still the first line.")


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Text.", encoding="utf-8")
    assert main([str(article), "--model", str(tmp_path / "nope")]) == 2
    assert "no such model folder" in capsys.readouterr().err


def test_missing_input_file_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_priors_from_a_file_change_the_probabilities(tiny_checkpoint, tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Troops shelled the town. The ministry condemned it.", encoding="utf-8")
    assert main([str(article), "--model", str(tiny_checkpoint), "--format", "jsonl", "--precision", "fp32"]) == 0
    plain = [json.loads(line)["probs"] for line in capsys.readouterr().out.splitlines()]
    priors = tmp_path / "priors.json"
    priors.write_text(json.dumps({"threat": 0.01, "condemnation": 0.01, "military_action": 0.01,
                                  "background": 0.97}))
    assert main([str(article), "--model", str(tiny_checkpoint), "--format", "jsonl", "--precision", "fp32",
                 "--priors", str(priors)]) == 0
    shifted = [json.loads(line)["probs"] for line in capsys.readouterr().out.splitlines()]
    assert all(s["background"] > p["background"] for s, p in zip(shifted, plain))


def test_bad_priors_file_is_a_clear_error(tiny_checkpoint, tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Text here.", encoding="utf-8")
    priors = tmp_path / "priors.json"
    priors.write_text('{"threat": 1.0}')
    assert main([str(article), "--model", str(tiny_checkpoint), "--priors", str(priors)]) == 2
    assert "a share for each" in capsys.readouterr().err


def test_adapt_priors_on_the_input_warns_when_it_is_small(tiny_checkpoint, tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Troops shelled the town. The ministry condemned it.", encoding="utf-8")
    assert main([str(article), "--model", str(tiny_checkpoint), "--adapt-priors"]) == 0
    err = capsys.readouterr().err
    assert "unreliable" in err and "label mix: threat" in err
