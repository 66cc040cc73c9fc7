import numpy as np
import pytest

from casus.model.priors import PRIOR_FLOOR, PriorWarning, estimate_priors, shift_priors

UNIFORM = np.full(4, 0.25)


def test_shift_is_bayes_rule():
    probs = np.array([[0.4, 0.3, 0.2, 0.1]])
    shifted = shift_priors(probs, UNIFORM, [0.1, 0.1, 0.1, 0.7])
    expected = np.array([0.04, 0.03, 0.02, 0.07]) / 0.16
    np.testing.assert_allclose(shifted, [expected])
    np.testing.assert_allclose(shift_priors(probs, UNIFORM, UNIFORM), probs)


def test_em_recovers_a_known_label_mix():
    # A calibrated classifier under a uniform training prior, applied to data that is 80% class 3.
    rng = np.random.default_rng(0)
    true_mix = np.array([0.05, 0.05, 0.1, 0.8])
    gold = rng.choice(4, size=4000, p=true_mix)
    likelihood = np.full((4, 4), 0.1) + np.eye(4) * 0.6  # p(signal | class): 70% right
    signal = np.array([rng.choice(4, p=likelihood[g] / likelihood[g].sum()) for g in gold])
    probs = likelihood[:, signal].T / likelihood[:, signal].T.sum(axis=1, keepdims=True)  # posterior, uniform prior
    estimated = estimate_priors(probs, UNIFORM)
    np.testing.assert_allclose(estimated, true_mix, atol=0.03)
    assert estimated.sum() == pytest.approx(1.0)
    # the naive mean of the raw probabilities is far off: that is what EM corrects
    assert abs(probs.mean(axis=0)[3] - 0.8) > 0.2


def test_no_sentences_is_an_error():
    with pytest.raises(ValueError, match="no sentences"):
        estimate_priors(np.zeros((0, 4)), UNIFORM)


def test_a_one_sided_sample_hits_the_floor_with_a_warning():
    # 300 sentences the model is sure are background: unchecked EM drives the other shares to ~1e-15
    probs = np.tile([0.01, 0.01, 0.01, 0.97], (300, 1))
    with pytest.warns(PriorWarning, match="floor"):
        estimated = estimate_priors(probs, UNIFORM)
    assert estimated.min() == pytest.approx(PRIOR_FLOOR)
    assert estimated.sum() == pytest.approx(1.0)
    # the tags are still reachable: a clear threat stays a threat under the estimated mix
    assert shift_priors([[0.99, 0.003, 0.003, 0.004]], UNIFORM, estimated).argmax() == 0


def test_no_convergence_warns():
    probs = np.random.default_rng(0).dirichlet(np.ones(4), size=50)
    with pytest.warns(PriorWarning, match="converge"):
        estimate_priors(probs, UNIFORM, max_iter=1)


def test_a_balanced_sample_warns_of_nothing(recwarn):
    estimate_priors(np.tile(np.eye(4), (25, 1)) * 0.9 + 0.025, UNIFORM)
    assert not [w for w in recwarn if issubclass(w.category, PriorWarning)]
