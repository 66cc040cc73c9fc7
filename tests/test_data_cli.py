"""`casus data check` (data/cli.py): output lines, summary and exit codes."""
import json
import subprocess
import sys
from pathlib import Path

import casus
from casus.data.cli import main


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_clean_files_exit_0(tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "The rebels vowed revenge.", "label": "threat"}])
    dev = write_jsonl(tmp_path / "dev.jsonl", [{"text": "Talks ended without agreement.", "label": "background"}])
    assert main(["check", str(train), str(dev)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{train}: 1 valid row (threat 1, condemnation 0, military_action 0, background 0)",
        f"{dev}: 1 valid row (threat 0, condemnation 0, military_action 0, background 1)",
        "0 errors, 0 warnings",
    ]


def test_errors_exit_1_with_one_line_per_problem(tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", [
        {"text": "The rebels vowed revenge.", "label": "threat", "doc_id": "d1"},
        {"text": "", "label": "threat"},
        {"text": "Shelling resumed.", "label": "shelling"},
    ])
    test = write_jsonl(tmp_path / "test.jsonl",
                       [{"text": "The rebels vowed revenge!", "label": "threat", "doc_id": "d1"}])
    assert casus.main(["data", "check", str(train), str(test)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        f"{train}:2: empty-text: empty text",
        f"{train}:3: unknown-label: unknown label 'shelling'; expected one of threat, condemnation, "
        "military_action, background",
        f"{test}:1: leak: near-duplicate of {train}:1",
        f"{test}:1: leak: doc_id 'd1' also in {train}:1",
    ]
    assert out[-1] == "4 errors, 0 warnings"


def test_duplicates_inside_a_file_fail_only_with_strict(tmp_path, capsys):
    path = write_jsonl(tmp_path / "train.jsonl", [{"text": "Talks ended.", "label": "background"}] * 2)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:2: duplicate: duplicate of {path}:1" in out
    assert "0 errors, 1 warning (duplicates inside a file are warnings; --strict makes them errors)" in out
    assert main(["check", "--strict", str(path)]) == 1


def test_missing_file_is_an_error(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.jsonl")]) == 1
    assert f"{tmp_path / 'nope.jsonl'}: missing-file: no such file or folder" in capsys.readouterr().out


def test_usage_errors_and_help_return_codes(capsys):
    assert main([]) == 2
    assert main(["check"]) == 2
    assert main(["check", "--help"]) == 0
    assert "--strict" in capsys.readouterr().out


def test_python_dash_m_data(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [{"text": "Fine.", "label": "nope"}])
    result = subprocess.run([sys.executable, "-m", "casus.data", "check", str(path)], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 1
    assert f"{path}:1: unknown-label:" in result.stdout
