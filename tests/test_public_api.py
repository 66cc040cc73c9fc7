"""The one import package `casus`: what `import casus` gives, what it leaves out of site-packages, and
Tagger.from_pretrained / save_pretrained / casus.train."""
import json
import subprocess
import sys

import numpy as np
import pytest

import casus
from casus.model.checkpoint import CheckpointError

SENTENCES = ["The militia vowed revenge.", "Shelling hit the port.", "Talks resume in Geneva."]


def run_python(code, cwd):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=900)


def test_no_top_level_model_data_eval_or_training_is_installed(tmp_path):
    # from a folder of the user's, as a user's script would run: only `casus` comes from the install
    result = run_python("import importlib.util as u; print([u.find_spec(m) is None for m in "
                        "('model', 'data', 'eval', 'training')])", tmp_path)
    assert result.stdout.strip() == "[True, True, True, True]", result.stderr


@pytest.mark.slow  # a second Python process that imports torch, transformers and accelerate
def test_a_users_own_data_and_model_modules_do_not_clash(tmp_path):
    (tmp_path / "data.py").write_text("MINE = 1\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "__init__.py").write_text("MINE = 2\n")
    result = run_python("import data, model, casus, casus.data.labels\n"
                        "from casus import LABELS, load, Tagger, train, TrainConfig\n"
                        "print(data.MINE, model.MINE, casus.data.labels.__name__, LABELS[0])", tmp_path)
    assert result.stdout.split() == ["1", "2", "casus.data.labels", "threat"], result.stderr


def test_import_casus_is_light(tmp_path):
    result = run_python("import sys, casus; print('torch' in sys.modules, casus.__version__)", tmp_path)
    assert result.stdout.split() == ["False", casus.__version__], result.stderr


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        casus.nope  # noqa: B018


def test_from_pretrained_is_load(tiny_checkpoint):
    tagger = casus.Tagger.from_pretrained(tiny_checkpoint, precision="fp32")
    np.testing.assert_allclose(tagger.predict_proba(SENTENCES),
                               casus.load(tiny_checkpoint, precision="fp32").predict_proba(SENTENCES), atol=1e-6)


def test_save_pretrained_round_trip_carries_priors(tiny_checkpoint, tmp_path):
    tagger = casus.Tagger.from_pretrained(tiny_checkpoint, precision="fp32")
    tagger.set_priors({"threat": 0.05, "condemnation": 0.1, "military_action": 0.15, "background": 0.7})
    expected = tagger.predict_proba(SENTENCES)
    tagger.save_pretrained(tmp_path / "copy")
    again = casus.Tagger.from_pretrained(tmp_path / "copy", precision="fp32")
    np.testing.assert_allclose(again.predict_proba(SENTENCES), expected, atol=1e-6)
    assert json.loads((tmp_path / "copy" / "casus.json").read_text())["priors"]["background"] == pytest.approx(0.7)
    again.set_priors(None)  # and the saved priors are a setting, not baked into the weights
    np.testing.assert_allclose(again.predict_proba(SENTENCES),
                               casus.load(tiny_checkpoint, precision="fp32").predict_proba(SENTENCES), atol=1e-6)


def test_save_pretrained_of_an_int8_tagger_writes_the_fp32_weights(tiny_checkpoint, tmp_path):
    casus.load(tiny_checkpoint, precision="int8").save_pretrained(tmp_path / "copy")
    np.testing.assert_allclose(casus.load(tmp_path / "copy", precision="fp32").predict_proba(SENTENCES),
                               casus.load(tiny_checkpoint, precision="fp32").predict_proba(SENTENCES), atol=1e-6)


def test_save_pretrained_never_replaces_what_casus_did_not_write(tiny_checkpoint, tmp_path):
    tagger = casus.load(tiny_checkpoint, precision="fp32")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not a casus checkpoint"):
        tagger.save_pretrained(mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    tagger.save_pretrained(tmp_path / "copy")
    with pytest.raises(CheckpointError, match="overwrite"):
        tagger.save_pretrained(tmp_path / "copy")
    tagger.save_pretrained(tmp_path / "copy", overwrite=True)


def test_bad_saved_priors_are_a_checkpoint_error(tiny_checkpoint, tmp_path):
    casus.load(tiny_checkpoint, precision="fp32").save_pretrained(tmp_path / "copy")
    meta = json.loads((tmp_path / "copy" / "casus.json").read_text())
    (tmp_path / "copy" / "casus.json").write_text(json.dumps({**meta, "priors": {"threat": 1}}))
    with pytest.raises(CheckpointError, match="casus.json has bad priors"):
        casus.load(tmp_path / "copy")


@pytest.mark.slow
def test_casus_train_takes_a_config_or_its_fields(tiny_base, tiny_jsonl, tmp_path):
    config = casus.TrainConfig(train_file=str(tiny_jsonl), dev_file=str(tiny_jsonl), base_model=str(tiny_base),
                               batch_size=4, epochs=1, max_steps=2, max_length=32, out_dir=str(tmp_path / "a"))
    summary = casus.train(config, out_dir=str(tmp_path / "b"), seed=3)
    assert summary["out_dir"] == str(tmp_path / "b") and summary["steps"] == 2
    assert json.loads((tmp_path / "b" / "casus.json").read_text())["config"]["seed"] == 3
    assert not (tmp_path / "a").exists() and config.seed == 0  # the caller's config is not changed


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package(tmp_path):
    import zipfile
    from pathlib import Path

    import shutil

    # build from a copy: setuptools writes build/ and *.egg-info into the source folder
    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "source"
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "build", "*.egg-info",
                                                                  "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("casus-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"casus", f"{wheel.name.split('-py')[0]}.dist-info"}
    assert "casus/data/real/test.jsonl" in names and "casus/model/tagger.py" in names
