"""model/calibration.py: temperature and label mix, fitted on dev and folded into the classifier head."""
import numpy as np
import pytest
import torch

from model.calibration import (calibrated_logits, fit_temperature, fold_into_head, log_softmax, mix_shift,
                               reliability, uncalibrate)
from model.priors import shift_priors


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
