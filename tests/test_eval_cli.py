import json
import sys
import types

import numpy as np
import pytest

import casus
from casus.data.labels import LABELS
from casus.data.loaders import fingerprint, load_examples
from casus.eval import cli
from conftest import shared_file

KEYWORDS = {"vowed": "threat", "condemned": "condemnation", "strikes": "military_action"}
EVAL_ROWS = [
    ("The rebels vowed revenge.", "THREAT"),
    ("Officials condemned the raid.", "CONDEMNATION"),
    ("Air strikes hit the port.", "MILITARY_ACTION"),
    ("Talks resumed in Geneva.", "BACKGROUND"),
    ("The minister condemned air strikes.", "MILITARY_ACTION"),  # the fake model gets this one wrong
    ("Elections were held in May.", "BACKGROUND"),
]
TRAIN_ROWS = [
    ("They vowed retaliation.", "threat"), ("He vowed revenge on the rebels.", "threat"),
    ("She condemned the killing.", "condemnation"), ("The UN condemned the attack.", "condemnation"),
    ("Strikes hit the base.", "military_action"), ("Shelling and strikes killed three.", "military_action"),
    ("Trade talks resumed.", "background"), ("The parliament met on Monday.", "background"),
]


class FakeTagger:
    """Keyword rules instead of a network: the first keyword found wins, else background."""
    labels = LABELS

    def __init__(self):
        self.batch_sizes = []

    def predict_proba(self, texts, batch_size=64):
        self.batch_sizes.append(batch_size)
        probs = np.full((len(texts), 4), 0.1)
        for row, text in zip(probs, texts):
            label = next((label for word, label in KEYWORDS.items() if word in text), "background")
            row[LABELS.index(label)] = 0.7
        return probs


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in rows))
    return path


@pytest.fixture
def files(tmp_path):
    model_dir = tmp_path / "run1"
    model_dir.mkdir()
    return types.SimpleNamespace(
        model=model_dir,
        data=write_jsonl(tmp_path / "dev.jsonl", EVAL_ROWS),
        train=write_jsonl(tmp_path / "train.jsonl", TRAIN_ROWS),
        out=tmp_path / "out",
    )


def run(argv, tagger=None):
    tagger = tagger or FakeTagger()
    return cli.main([str(arg) for arg in argv], load_model=lambda model_dir, **kw: tagger)


@pytest.mark.slow  # trains the TF-IDF baseline
def test_evaluates_model_and_baseline(files, capsys):
    tagger = FakeTagger()
    code = run(["--model", files.model, "--data", files.data, "--train", files.train, "--out", files.out,
                "--batch-size", 8, "--no-benchmark", "--bootstrap", 50], tagger)
    assert code == 0
    assert tagger.batch_sizes == [8, 8]  # scored in fp32, then in int8 beside it

    stdout = capsys.readouterr().out
    header = stdout.splitlines()[0].split()
    assert header == ["run1", "baseline"]
    assert "evaluation: run1 on dev (n=6)" in stdout and "evaluation: baseline on dev (n=6)" in stdout

    for system in ("run1", "baseline"):
        for name in ("metrics.json", "report.txt", "confusion.png", "misclassified.jsonl"):
            assert (files.out / system / name).is_file()
    summary = json.loads((files.out / "summary.json").read_text())
    model_metrics = summary["metrics"]["run1"]
    assert model_metrics["accuracy"] == pytest.approx(5 / 6)
    assert model_metrics["confusion"][LABELS.index("military_action")] == [0, 1, 1, 0]
    assert len(model_metrics["macro_f1_ci"]) == 2
    assert set(summary["metrics"]) == {"run1", "baseline"}
    assert summary["benchmark"] is None
    assert summary["baseline_train"] == [str(files.train)]
    paired = summary["paired_macro_f1_difference_vs_baseline"]["run1"]
    assert paired["difference"] == pytest.approx(model_metrics["macro_f1"] - summary["metrics"]["baseline"]["macro_f1"])
    assert paired["samples"] == 50 and "paired bootstrap 95% CI" in stdout
    misclassified = (files.out / "run1" / "misclassified.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in misclassified] == ["The minister condemned air strikes."]


def test_default_output_folder_and_benchmark(files, capsys):
    code = run(["--model", files.model, "--data", files.data, "--no-baseline", "--batch-size", 4])
    assert code == 0
    out = files.model / "eval" / "dev"
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["metrics"]) == ["run1"]
    assert not (out / "baseline").exists()
    assert [row["batch_size"] for row in summary["benchmark"]["results"]] == [1, 4]
    assert "sentences/s" in capsys.readouterr().out


def test_runs_through_the_casus_command_with_model_load(files, monkeypatch, capsys):
    # The default loader is `casus.model.load`, imported when main runs: a stand-in module proves the wiring
    monkeypatch.setitem(sys.modules, "casus.model", types.SimpleNamespace(load=lambda d, **kw: FakeTagger()))
    monkeypatch.setitem(sys.modules, "casus.model.quiet", types.SimpleNamespace(quiet_transformers=lambda: None))
    code = casus.main(["eval", "--model", str(files.model), "--data", str(files.data), "--no-baseline",
                       "--no-benchmark", "--out", str(files.out)])
    assert code == 0
    assert (files.out / "run1" / "metrics.json").is_file()


@pytest.mark.slow  # trains the TF-IDF baseline
def test_baseline_trains_on_the_shipped_splits_by_default(files, monkeypatch, capsys):
    monkeypatch.setattr(cli, "default_train_files", lambda: [str(files.train)])
    monkeypatch.setattr(cli, "DEFAULT_REPEAT", [1.0])
    assert run(["--model", files.model, "--data", files.data, "--out", files.out, "--no-benchmark"]) == 0
    assert json.loads((files.out / "summary.json").read_text())["baseline_train"] == [str(files.train)]


@pytest.mark.slow  # trains the TF-IDF baseline
def test_baseline_trains_on_the_models_own_training_data(files, tmp_path, capsys):
    other = write_jsonl(tmp_path / "other.jsonl", TRAIN_ROWS[::-1])
    (files.model / "casus.json").write_text(json.dumps({"config": {"train_file": [str(files.train), str(other)]}}))
    assert run(["--model", files.model, "--data", files.data, "--out", files.out, "--no-benchmark"]) == 0
    summary = json.loads((files.out / "summary.json").read_text())
    assert summary["baseline_train"] == [str(files.train), str(other)]
    assert "on 16 sentences of" in capsys.readouterr().err
    # and on the same sample of each file that the model saw
    (files.model / "casus.json").write_text(json.dumps(
        {"config": {"train_file": [str(files.train), str(other)], "repeat": [2, 0.5], "seed": 0}}))
    assert run(["--model", files.model, "--data", files.data, "--out", files.out, "--no-benchmark"]) == 0
    assert "on 20 sentences of" in capsys.readouterr().err


@pytest.mark.slow  # trains the TF-IDF baseline
def test_warns_when_the_baseline_trains_on_evaluation_sentences(files, capsys):
    assert run(["--model", files.model, "--data", files.data, "--train", files.data, "--out", files.out,
                "--no-benchmark"]) == 0
    assert "warning: 6 evaluation sentences also appear" in capsys.readouterr().err


def user_error(argv, capsys, tagger=None):
    code = run(argv, tagger)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    return err


def test_missing_model_folder(files, capsys):
    err = user_error(["--model", files.model / "nope", "--data", files.data, "--no-baseline"], capsys)
    assert "no such model folder" in err


def test_bad_data_files(files, tmp_path, capsys):
    err = user_error(["--model", files.model, "--data", tmp_path / "missing.jsonl", "--no-baseline"], capsys)
    assert "missing.jsonl: no such file" in err
    bad = write_jsonl(tmp_path / "bad.jsonl", [("A sentence.", "threat"), ("Another.", "sanction")])
    err = user_error(["--model", files.model, "--data", bad, "--no-baseline"], capsys)
    assert f"{bad}:2: unknown label 'sanction'" in err
    err = user_error(["--model", files.model, "--data", files.data, "--train", bad], capsys)
    assert f"{bad}:2" in err


def test_baseline_trouble_shows_before_the_slow_model_runs(files, tmp_path, capsys):
    def never_load(model_dir, **kw):
        raise AssertionError("the model was loaded before the inputs were checked")

    one_label = write_jsonl(tmp_path / "one.jsonl", [("A.", "threat"), ("B.", "threat")])
    argv = ["--model", str(files.model), "--data", str(files.data), "--train", str(one_label)]
    assert cli.main(argv, load_model=never_load) == 2
    assert "cannot train the baseline" in capsys.readouterr().err


def test_missing_shipped_train_split_names_the_way_out(files, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "default_train_files", lambda: [str(tmp_path / "corpus" / "train.jsonl")])
    monkeypatch.setattr(cli, "DEFAULT_REPEAT", [1.0])
    err = user_error(["--model", files.model, "--data", files.data], capsys)
    assert "pass --train FILE or --no-baseline" in err


def test_model_that_cannot_load_or_has_other_labels(files, capsys):
    def broken(model_dir, **kw):
        raise OSError("no config.json")

    assert cli.main(["--model", str(files.model), "--data", str(files.data), "--no-baseline"],
                    load_model=broken) == 2
    assert "cannot load a model from" in capsys.readouterr().err
    other = FakeTagger()
    other.labels = ("background", "threat", "condemnation", "military_action")
    err = user_error(["--model", files.model, "--data", files.data, "--no-baseline"], capsys, other)
    assert "are not casus's" in err


def test_bad_options(files, capsys):
    err = user_error(["--model", files.model, "--data", files.data, "--batch-size", 0], capsys)
    assert "--batch-size must be at least 1" in err
    assert cli.main(["--data", str(files.data)]) == 2
    assert cli.main(["--help"]) == 0


@pytest.mark.slow  # trains the TF-IDF baseline
def test_upper_case_labels_of_the_shared_sample(files, capsys):
    code = run(["--model", files.model, "--data", shared_file("data/conflibert_cameo_class.jsonl"), "--train", files.train, "--out", files.out,
                "--no-benchmark", "--bootstrap", 100])
    assert code == 0
    summary = json.loads((files.out / "summary.json").read_text())
    supports = {label: c["support"] for label, c in summary["metrics"]["baseline"]["per_class"].items()}
    assert supports == {"threat": 33, "condemnation": 33, "military_action": 96, "background": 1036}


@pytest.mark.slow
def test_a_real_checkpoint_end_to_end_with_adapted_priors(tiny_checkpoint, tiny_jsonl, tmp_path, capsys):
    out = tmp_path / "out"
    code = casus.main(["eval", "--model", str(tiny_checkpoint), "--data", str(tiny_jsonl), "--train",
                       str(tiny_jsonl), "--out", str(out), "--batch-size", "8", "--bootstrap", "50", "--adapt-priors"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["model"]["n"] == 16
    assert [row["batch_size"] for row in summary["benchmark"]["results"]] == [1, 8]
    # the checkpoint is calibrated, so the model as trained is scored beside it, with a reliability diagram
    assert set(summary["metrics"]) == {"model", "model as trained", "model+priors", "baseline"}
    assert set(summary["paired_macro_f1_difference_vs_baseline"]) == {"model", "model as trained", "model+priors"}
    assert (out / "reliability.png").stat().st_size > 0
    priors = json.loads((out / "priors.json").read_text())
    assert set(priors) == set(LABELS) and sum(priors.values()) == pytest.approx(1.0)
    captured = capsys.readouterr()
    assert "sentences/s" in captured.out and "label mix estimated from the texts" in captured.err


def eval_flags(files, *more):
    return ["--model", files.model, "--data", files.data, "--train", files.train, "--out", files.out,
            "--no-benchmark", "--bootstrap", 0, *more]


def test_refuses_an_out_folder_holding_other_files(files, capsys):
    files.out.mkdir()
    (files.out / "thesis.tex").write_text("mine")
    assert run(eval_flags(files)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "thesis.tex" in err and "--overwrite" in err
    assert [p.name for p in files.out.iterdir()] == ["thesis.tex"]


@pytest.mark.slow  # trains the TF-IDF baseline
def test_rerun_replaces_its_own_outputs_and_no_stale_system_lingers(files):
    assert run(eval_flags(files)) == 0
    assert (files.out / "baseline" / "metrics.json").is_file()
    assert run(eval_flags(files, "--no-baseline")) == 0  # only casus's files there: no --overwrite needed
    assert sorted(p.name for p in files.out.iterdir()) == ["run1", "summary.json"]


@pytest.mark.slow  # trains the TF-IDF baseline
def test_overwrite_removes_only_what_casus_eval_writes(files):
    assert run(eval_flags(files)) == 0
    (files.out / "thesis.tex").write_text("mine")
    (files.out / "baseline" / "notes.txt").write_text("mine too")
    (files.out / "drafts").mkdir()
    assert run(eval_flags(files, "--no-baseline")) == 2
    assert run(eval_flags(files, "--no-baseline", "--overwrite")) == 0
    assert sorted(p.name for p in files.out.iterdir()) == ["baseline", "drafts", "run1", "summary.json", "thesis.tex"]
    assert [p.name for p in (files.out / "baseline").iterdir()] == ["notes.txt"]
    assert (files.out / "thesis.tex").read_text() == "mine"


def test_out_that_is_a_file_is_refused(files, capsys):
    files.out.write_text("not a folder")
    assert run(eval_flags(files, "--overwrite")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is a file" in err
    assert files.out.read_text() == "not a folder"


# ---- fp32 by default, int8 beside it ------------------------------------------------------------------

class LossyTagger(FakeTagger):
    """As FakeTagger, but never says condemnation: a quantized copy that lost something."""

    def predict_proba(self, texts, batch_size=64):
        probs = super().predict_proba(texts, batch_size)
        lost = probs[:, LABELS.index("condemnation")] == 0.7
        probs[lost] = [0.1, 0.1, 0.1, 0.7]
        return probs


def loader_by_precision(asked):
    def load(model_dir, precision, **kw):
        asked.append((precision, kw.get("device")))
        return FakeTagger() if precision == "fp32" else LossyTagger()
    return load


def test_scores_in_fp32_with_int8_beside_it(files, capsys):
    asked = []
    code = cli.main([str(arg) for arg in eval_flags(files, "--bootstrap", 50)], load_model=loader_by_precision(asked))
    assert code == 0
    assert asked == [("fp32", None), ("int8", "cpu")]
    summary = json.loads((files.out / "summary.json").read_text())
    model = summary["metrics"]["run1"]
    assert model["precision"] == "fp32" and model["accuracy"] == pytest.approx(5 / 6)  # the fp32 tagger's
    int8 = model["int8"]
    assert int8["accuracy"] == pytest.approx(4 / 6) and int8["labels_changed"] == 2
    assert int8["macro_f1"] < model["macro_f1"] and len(int8["macro_f1_ci"]) == 2
    assert int8["difference_vs_fp32"]["difference"] == pytest.approx(int8["macro_f1"] - model["macro_f1"])
    assert set(summary["metrics"]) == {"run1", "baseline"}  # int8 sits inside the model's metrics
    assert json.loads((files.out / "run1" / "metrics.json").read_text())["int8"] == int8
    out = capsys.readouterr().out
    table = dict((line[:20].strip(), line[20:].split()) for line in out.split("\n\n")[0].splitlines())
    assert table["int8 macro-F1"] == [f"{int8['macro_f1']:.4f}", "-"]
    assert table["labels != fp32"] == ["2", "of", "6", "-"]
    assert "macro-F1 int8 - fp32: " in out and "evaluation: run1 on dev (n=6) in fp32" in out


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_one_precision_alone(files, precision):
    asked = []
    code = cli.main([str(arg) for arg in eval_flags(files, "--precision", precision)],
                    load_model=loader_by_precision(asked))
    assert code == 0 and [p for p, _ in asked] == [precision]
    model = json.loads((files.out / "summary.json").read_text())["metrics"]["run1"]
    assert model["precision"] == precision and "int8" not in model
    assert model["accuracy"] == pytest.approx(5 / 6 if precision == "fp32" else 4 / 6)


def test_benchmark_times_fp32_as_casus_tag_runs_by_default(files, capsys):
    asked = []
    code = cli.main(["--model", str(files.model), "--data", str(files.data), "--no-baseline", "--bootstrap", "0",
                     "--out", str(files.out), "--batch-size", "2"], load_model=loader_by_precision(asked))
    assert code == 0
    benchmark = json.loads((files.out / "summary.json").read_text())["benchmark"]
    assert benchmark["precision"] == "fp32" and "run1 in fp32" in capsys.readouterr().out


# ---- a warning when --data is what the model learned from or was chosen on ----------------------------

def write_metadata(model_dir, **fields):
    (model_dir / "casus.json").write_text(json.dumps(fields))


def warnings_in(err):
    lines = [line for line in err.splitlines() if "warning:" in line]
    assert all(line.startswith("casus eval: warning: ") for line in lines), err
    return lines


@pytest.mark.parametrize("role, says", [("train", "is the model's training data"), ("dev", "is the model's dev data")])
def test_warns_when_data_is_the_models_own_by_fingerprint(files, capsys, role, says):
    write_metadata(files.model, **{f"{role}_data": {"source": "its.jsonl", "sha256": fingerprint(load_examples(files.data))}})
    assert run(eval_flags(files, "--no-baseline")) == 0
    [warning] = warnings_in(capsys.readouterr().err)
    assert f"{files.data} {says}" in warning and "its.jsonl" in warning and "optimistic" in warning
    seen = json.loads((files.out / "summary.json").read_text())["seen_by_model"][role]
    assert seen == {"same_data": True, "sentences_seen": 6, "share": 1.0}


def test_warns_on_partial_overlap_with_the_models_training_files(files, tmp_path, capsys):
    mixed = write_jsonl(tmp_path / "mixed.jsonl", TRAIN_ROWS + EVAL_ROWS[:2])
    dev = write_jsonl(tmp_path / "mydev.jsonl", [("  talks  RESUMED in Geneva. ", "background")])
    write_metadata(files.model, train_data={"source": str(mixed), "sha256": "0" * 64},
                   dev_data={"source": str(dev), "sha256": "1" * 64},
                   config={"train_file": [str(mixed)], "dev_file": str(dev)})
    assert run(eval_flags(files, "--no-baseline")) == 0
    train_warning, dev_warning = warnings_in(capsys.readouterr().err)
    assert f"2 of 6 sentences of {files.data} (33.3%) are in the model's training data" in train_warning
    assert "1 of 6 sentences" in dev_warning and "model's dev data" in dev_warning  # case and spaces aside
    seen = json.loads((files.out / "summary.json").read_text())["seen_by_model"]
    assert seen["train"] == {"same_data": False, "sentences_seen": 2, "share": pytest.approx(1 / 3)}


def test_no_warning_for_unseen_data_or_unreadable_training_files(files, tmp_path, capsys):
    write_metadata(files.model, config={"train_file": [str(files.train)], "dev_file": str(tmp_path / "gone.jsonl")})
    assert run(eval_flags(files, "--no-baseline")) == 0
    assert warnings_in(capsys.readouterr().err) == []
    seen = json.loads((files.out / "summary.json").read_text())["seen_by_model"]
    assert seen["train"]["sentences_seen"] == 0 and seen["dev"]["sentences_seen"] is None


def test_the_warning_shows_on_every_run(files, capsys):
    write_metadata(files.model, dev_data={"source": "d", "sha256": fingerprint(load_examples(files.data))})
    for _ in range(2):
        assert run(eval_flags(files, "--no-baseline")) == 0
        assert len(warnings_in(capsys.readouterr().err)) == 1
