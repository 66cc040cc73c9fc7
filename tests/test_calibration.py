"""model/calibration.py: temperature and label mix, fitted on dev and folded into the classifier head."""
import numpy as np
import pytest
import torch

from casus.model.calibration import (calibrated_logits, fit_temperature, fold_into_head, log_softmax, mix_shift,
                               reliability, uncalibrate)
from casus.model.priors import shift_priors


def softmax(z):
    return np.exp(log_softmax(np.asarray(z, dtype=np.float64)))


def test_a_known_temperature_is_recovered():
    # gold drawn from softmax(z / 2.5): the over-confident logits z need a temperature of 2.5
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(4000, 4))
    gold = np.array([rng.choice(4, p=p) for p in softmax(logits / 2.5)])
    assert fit_temperature(logits, gold, np.zeros(4)) == pytest.approx(2.5, rel=0.1)


def test_the_mix_shift_is_bayes_rule():
    probs = softmax([[1.0, 0.5, -0.2, 0.3]])
    trained, target = [0.25] * 4, [0.05, 0.1, 0.15, 0.7]
    shifted = softmax(calibrated_logits(np.log(probs), 1.0, mix_shift(trained, target)))
    np.testing.assert_allclose(shifted, shift_priors(probs, trained, target))


def test_folding_into_the_head_gives_the_calibrated_logits():
    head = torch.nn.Linear(8, 4)
    x = torch.randn(5, 8)
    before = head(x).detach().numpy()
    shift = mix_shift([0.25] * 4, [0.1, 0.1, 0.2, 0.6])
    fold_into_head(head, 1.7, shift)
    np.testing.assert_allclose(head(x).detach().numpy(), calibrated_logits(before, 1.7, shift), rtol=1e-5, atol=1e-5)


def test_uncalibrate_undoes_the_shipped_calibration():
    logits = np.random.default_rng(1).normal(size=(6, 4))
    calibration = {"temperature": 1.7, "shift": mix_shift([0.25] * 4, [0.1, 0.1, 0.2, 0.6]).tolist()}
    shipped = softmax(calibrated_logits(logits, calibration["temperature"], calibration["shift"]))
    np.testing.assert_allclose(uncalibrate(shipped, calibration), softmax(logits), atol=1e-6)
    np.testing.assert_allclose(uncalibrate(shipped, None), shipped)


def test_reliability_bins():
    probs = np.array([[0.35, 0.3, 0.2, 0.15], [0.95, 0.05, 0, 0], [0.92, 0.08, 0, 0]])
    rows = reliability(probs, np.array([0, 0, 1]), bins=10)
    assert [(r["n"], r["accuracy"]) for r in rows] == [(1, 1.0), (2, 0.5)]
    assert rows[1]["confidence"] == pytest.approx(0.935)


@pytest.mark.slow
def test_a_trained_checkpoint_ships_its_calibration_in_the_weights(tiny_checkpoint):
    """casus and a plain transformers pipeline read the same calibrated probabilities from the weights."""
    from transformers import pipeline

    from casus.model import load

    tagger = load(tiny_checkpoint, precision="fp32")
    calibration = tagger.metadata["calibration"]
    assert 0.05 <= calibration["temperature"] <= 20 and calibration["mix_strength"] in (0, 0.25, 0.5, 0.75, 1)
    # the mix the probabilities assume is the trained mix moved by the folded shift
    moved = np.log(tagger.train_prior) - np.log(calibration["trained_prior"])
    np.testing.assert_allclose(moved - moved.mean(), np.array(calibration["shift"]) - np.mean(calibration["shift"]),
                               atol=1e-6)
    sentence = "The rebels vowed to retaliate against the garrison within days."
    ours = dict(zip(tagger.labels, tagger.predict_proba([sentence])[0]))
    theirs = {row["label"]: row["score"] for row in pipeline("text-classification", model=str(tiny_checkpoint),
                                                            top_k=None)([sentence])[0]}
    assert theirs == pytest.approx(ours, abs=1e-5)


@pytest.mark.slow
def test_recalibrating_a_checkpoint_refits_from_the_logits_as_trained(tiny_checkpoint, tiny_jsonl, tmp_path):
    """python -m casus.training.calibrate undoes the folded calibration before fitting again: twice gives the same."""
    import json
    import shutil

    from casus.model import load
    from casus.training.calibrate import main as calibrate

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, model_dir)
    sentences = ["Air strikes hit three villages.", "Talks resumed in Geneva."]
    assert calibrate([str(model_dir), "--dev-file", str(tiny_jsonl)]) == 0
    first = json.loads((model_dir / "casus.json").read_text())["calibration"]
    probs = load(model_dir, precision="fp32").predict_proba(sentences)
    assert calibrate([str(model_dir), "--dev-file", str(tiny_jsonl)]) == 0
    second = json.loads((model_dir / "casus.json").read_text())["calibration"]
    assert second["temperature"] == pytest.approx(first["temperature"], rel=1e-3)
    assert second["shift"] == pytest.approx(first["shift"], abs=1e-6)
    np.testing.assert_allclose(load(model_dir, precision="fp32").predict_proba(sentences), probs, atol=1e-4)
    # the logits as trained are what the first fit saw: dev scores before calibration do not move
    assert second["dev_before"] == pytest.approx(first["dev_before"], rel=1e-4)


def test_recalibrating_something_that_is_not_a_checkpoint_is_one_line(tmp_path, capsys):
    from casus.training.calibrate import main as calibrate

    assert calibrate([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a casus checkpoint" in err
