import io
import json

from model.cli import main


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
