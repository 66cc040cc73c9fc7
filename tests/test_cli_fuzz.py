"""Bad input through the `casus` command, in-process: every case must end in its exit code with one clear
line on stderr (or argparse's usage block), never a traceback. 2 = usage or input error, 130 = Ctrl-C."""
import io
import json
import shutil
import socket
import sys
import tomllib
from pathlib import Path

import pytest

import casus

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """A broken checkpoint or a missing base model must fail here, not send transformers to the hub."""
    def refuse(*args, **kwargs):
        raise AssertionError("casus tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def ctx(tiny_checkpoint, tiny_base, tiny_jsonl, tmp_path):
    """Paths the cases refer to by name: {name} in a case's argv is filled from here."""
    article = tmp_path / "article.txt"
    article.write_text("Troops shelled the town. The ministry condemned it.\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Les troupes ont bombard\xe9 la ville.".encode("latin-1"))
    labels = ("threat", "condemnation", "military_action")
    nan_priors = tmp_path / "nan_priors.json"
    nan_priors.write_text('{"threat": NaN, "condemnation": 0.1, "military_action": 0.1, "background": 0.8}')
    inf_priors = tmp_path / "inf_priors.json"
    inf_priors.write_text(json.dumps({**{label: 0.1 for label in labels}, "background": 1e999}))
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("not casus's")
    return {"model": tiny_checkpoint, "base": tiny_base, "data": tiny_jsonl, "article": article,
            "latin1": latin1, "nan_priors": nan_priors, "inf_priors": inf_priors, "a_file": a_file,
            "link": link, "foreign": foreign, "tmp": tmp_path,
            "no_tokenizer": broken_copy(tiny_checkpoint, tmp_path / "no_tokenizer", drop_tokenizer),
            "truncated": broken_copy(tiny_checkpoint, tmp_path / "truncated", truncate_weights),
            "list_json": broken_copy(tiny_checkpoint, tmp_path / "list_json", metadata_is_a_list)}


def broken_copy(checkpoint, target, damage):
    shutil.copytree(checkpoint, target)
    damage(target)
    return target


def drop_tokenizer(folder):
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)


def truncate_weights(folder):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


def metadata_is_a_list(folder):
    (folder / "casus.json").write_text("[1, 2, 3]")


TRAIN = ["train", "--train-file", "{data}", "--dev-file", "{data}", "--base-model", "{base}", "--max-steps", "1",
         "--batch-size", "4", "--max-length", "16"]
EVAL = ["eval", "--data", "{data}", "--no-baseline", "--no-benchmark", "--bootstrap", "0"]

# (id, argv, exit code, what stderr holds: "line" = one line, "usage" = argparse's usage and error,
#  "" = nothing, and for "line" a text it must contain)
CASES = [
    ("no arguments", [], 2, "usage", "usage: casus <command>"),
    ("unknown command", ["tagg"], 2, "usage", "unknown command 'tagg'"),
    ("tag: invalid UTF-8 file", ["tag", "--model", "{model}", "{latin1}"], 2, "line", "is not UTF-8 text"),
    ("tag: missing input", ["tag", "--model", "{model}", "{tmp}/missing.txt"], 2, "line", "cannot read"),
    ("tag: batch size 0", ["tag", "--batch-size", "0", "{article}"], 2, "usage", "--batch-size must be at least 1"),
    ("tag: negative batch size", ["tag", "--batch-size", "-3", "{article}"], 2, "usage", "--batch-size"),
    ("tag: NaN prior", ["tag", "--model", "{model}", "--priors", "{nan_priors}", "{article}"], 2, "line",
     "nan_priors.json: every prior share must be a positive, finite number"),
    ("tag: infinite prior", ["tag", "--model", "{model}", "--priors", "{inf_priors}", "{article}"], 2, "line",
     "inf_priors.json: every prior share must be a positive, finite number"),
    ("tag: priors not JSON", ["tag", "--model", "{model}", "--priors", "{article}", "{article}"], 2, "line",
     "cannot read priors"),
    ("tag: no tokenizer files", ["tag", "--model", "{no_tokenizer}", "{article}"], 2, "line",
     "no_tokenizer: incomplete checkpoint, missing tokenizer.json or vocab.txt"),
    ("tag: truncated weights", ["tag", "--model", "{truncated}", "{article}"], 2, "line",
     "truncated: cannot load the model"),
    ("tag: casus.json a list", ["tag", "--model", "{list_json}", "{article}"], 2, "line",
     "list_json/casus.json: not a JSON object"),
    ("tag: not a checkpoint", ["tag", "--model", "{foreign}", "{article}"], 2, "line", "not a casus checkpoint"),
    ("eval: casus.json a list", [*EVAL, "--model", "{list_json}"], 2, "line", "casus.json: not a JSON object"),
    ("eval: truncated weights", [*EVAL, "--model", "{truncated}"], 2, "line", "cannot load the model"),
    ("eval: --out is a file", [*EVAL, "--model", "{model}", "--out", "{a_file}"], 2, "line", "is a file"),
    ("eval: --out holds other files", [*EVAL, "--model", "{model}", "--out", "{foreign}"], 2, "line",
     "did not write (mine.txt)"),
    ("train: learning rate nan", ["train", "--learning-rate", "nan"], 2, "usage", "--learning-rate"),
    ("train: learning rate inf", ["train", "--learning-rate", "inf"], 2, "usage", "--learning-rate"),
    ("train: learning rate not a number", ["train", "--learning-rate", "fast"], 2, "usage", "invalid float"),
    ("train: threads -1", ["train", "--num-threads", "-1"], 2, "usage", "--num-threads"),
    ("train: warm-up 1", ["train", "--warmup-ratio", "1"], 2, "usage", "--warmup-ratio"),
    ("train: warm-up negative", ["train", "--warmup-ratio", "-0.5"], 2, "usage", "--warmup-ratio"),
    ("train: weight decay negative", ["train", "--weight-decay", "-1"], 2, "usage", "--weight-decay"),
    ("train: no such base model", [*TRAIN, "--base-model", "{tmp}/nowhere", "--out-dir", "{tmp}/run"], 2, "line",
     "nowhere: not minilm, mpnet or a local model folder"),
    ("train: base model a hub-like name", [*TRAIN, "--base-model", "someone/bert", "--out-dir", "{tmp}/run"], 2,
     "line", "casus never downloads a model"),
    ("train: --out-dir is a file", [*TRAIN, "--out-dir", "{a_file}"], 2, "line", "is a file or a symlink"),
    ("train: --out-dir is a symlink", [*TRAIN, "--out-dir", "{link}"], 2, "line", "is a file or a symlink"),
    ("train: --out-dir not casus's", [*TRAIN, "--out-dir", "{foreign}"], 2, "line", "not a casus checkpoint"),
    ("train: --out-dir a checkpoint", [*TRAIN, "--out-dir", "{model}"], 2, "line", "pass --overwrite"),
    ("data check: missing file", ["data", "check", "{tmp}/missing.jsonl"], 1, "any", ""),
]


@pytest.mark.parametrize("argv, code, kind, text", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_gives_one_clear_line(ctx, capsys, argv, code, kind, text):
    argv = [arg.format(**ctx) for arg in argv]
    before = snapshot(ctx["foreign"]), snapshot(ctx["model"])
    assert casus.main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    if kind == "line":
        assert len(lines) == 1, err
        assert lines[0].startswith("casus") and text in lines[0], err
    elif kind == "usage":
        assert any(line.startswith("usage:") for line in lines) and text in err, err
    assert (snapshot(ctx["foreign"]), snapshot(ctx["model"])) == before, "a failed command changed no file"


def snapshot(folder):
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def test_version_comes_from_one_constant_that_pyproject_matches(capsys):
    assert casus.main(["--version"]) == 0
    assert capsys.readouterr().out == f"casus {casus.__version__}\n"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == casus.__version__ == "0.2.0"


def test_help_goes_to_stdout_with_exit_0(capsys):
    assert casus.main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: casus")
    assert casus.main(["tag", "--help"]) == 0


def test_invalid_utf8_on_standard_input(ctx, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Troops \xff\xfe shelled.\n")))
    assert casus.main(["tag", "--model", str(ctx["model"]), "--sentences", "-"]) == 2
    err = capsys.readouterr().err
    assert err == "casus tag: error: - is not UTF-8 text (byte 0xff at offset 7)\n"


class ClosedPipe(io.StringIO):
    """Standard output whose reader has gone, as in `casus tag article.txt | head -1`."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_output_pipe_ends_quietly(ctx, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert casus.main(["tag", "--model", str(ctx["model"]), str(ctx["article"])]) == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv, where", [
    (["tag", "--model", "{model}", "{article}"], "casus.model.tagger.load"),
    (["data", "check", "{data}"], "casus.data.cli.check_files"),
    ([*TRAIN, "--out-dir", "{tmp}/run"], "casus.training.loop.load_splits"),
])
def test_ctrl_c_exits_130_with_one_line(ctx, monkeypatch, capsys, argv, where):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupt)
    assert casus.main([arg.format(**ctx) for arg in argv]) == 130
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err and "Traceback" not in err


@pytest.mark.slow  # a second Python process that imports torch and loads the model
def test_a_closed_pipe_in_a_real_process_prints_nothing(ctx):
    # the in-process test cannot see Python's own flush at exit, which is where a second error would show
    import subprocess

    process = subprocess.Popen([sys.executable, "-m", "casus", "tag", "--model", str(ctx["model"]),
                                str(ctx["article"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()  # the reader is gone before casus writes a line, as with `| head -0`
    err = process.stderr.read().decode()
    assert process.wait() == 141 and err == ""
