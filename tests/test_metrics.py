import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from casus.data.labels import LABELS
from casus.eval.metrics import (
    ClassificationEvaluator,
    bootstrap_ci,
    bootstrap_macro_f1_ci,
    compute_metrics,
    expected_calibration_error,
    macro_f1_statistic,
    paired_bootstrap_difference,
    resample,
)
from casus.eval.report import format_report

ALL = list(range(len(LABELS)))


def random_case(n=200, seed=1, gold_labels=ALL):
    rng = np.random.default_rng(seed)
    gold = rng.choice(gold_labels, size=n)
    logits = rng.normal(size=(n, 4))
    logits[np.arange(n), gold] += 1.0  # better than chance, far from perfect
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return gold, probs


def fixed(probs):
    """A predict_proba that returns the given rows whatever texts it gets."""
    return lambda texts: np.asarray(probs)


def test_metrics_match_sklearn():
    gold, probs = random_case()
    pred = probs.argmax(axis=1)
    metrics = compute_metrics(gold, probs, bootstrap_samples=0)
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=ALL, zero_division=0)
    for i, label in enumerate(LABELS):
        assert metrics["per_class"][label] == pytest.approx(
            {"precision": precision[i], "recall": recall[i], "f1": f1[i], "support": support[i]})
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=ALL, average="macro"))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert metrics["confusion"] == confusion_matrix(gold, pred, labels=ALL).tolist()
    assert metrics["n"] == 200
    assert metrics["absent_labels"] == []
    assert metrics["macro_f1_present"] == metrics["macro_f1"]


def test_confusion_rows_are_gold_and_columns_predicted():
    # gold threat predicted background twice, gold background predicted condemnation once
    probs = [[0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.1, 0.7], [0.1, 0.7, 0.1, 0.1]]
    metrics = ClassificationEvaluator(["a", "b", "c"], ["threat", "threat", "background"], bootstrap_samples=0)(
        fixed(probs))
    assert metrics["confusion"] == [[0, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]]


def test_absent_gold_label_scores_zero_in_four_label_macro_and_is_skipped_in_present_macro():
    gold, probs = random_case(gold_labels=[0, 2, 3])  # no condemnation in gold, but it is predicted
    pred = probs.argmax(axis=1)
    assert (pred == 1).any()
    metrics = compute_metrics(gold, probs, bootstrap_samples=50)
    assert metrics["absent_labels"] == ["condemnation"]
    assert metrics["per_class"]["condemnation"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=ALL, average="macro", zero_division=0))
    assert metrics["macro_f1_present"] == pytest.approx(f1_score(gold, pred, labels=[0, 2, 3], average="macro"))
    assert metrics["macro_f1_present"] > metrics["macro_f1"]
    report = format_report({"name": "x", **metrics})
    assert "no gold sentences for condemnation" in report
    assert "over all four labels" in report


def test_labels_absent_from_gold_and_predictions_do_not_crash():
    probs = [[0.9, 0.05, 0.03, 0.02], [0.1, 0.1, 0.1, 0.7]]
    metrics = ClassificationEvaluator(["a", "b"], ["threat", "background"], bootstrap_samples=100)(fixed(probs))
    assert metrics["absent_labels"] == ["condemnation", "military_action"]
    assert metrics["macro_f1"] == pytest.approx(0.5)  # two perfect labels, two absent ones counted as 0
    assert metrics["macro_f1_present"] == pytest.approx(1.0)
    # a resample of only one sentence's label scores 0.25 (1 of 4 labels), one of both 0.5
    assert metrics["macro_f1_ci"] == [pytest.approx(0.25), pytest.approx(0.5)]


def test_ece_by_hand():
    probs = np.array([
        [0.9, 0.05, 0.03, 0.02],  # predicted threat, gold threat: right, confidence 0.9 (bin 13/15..14/15)
        [0.9, 0.05, 0.03, 0.02],  # predicted threat, gold condemnation: wrong, same bin
        [0.1, 0.65, 0.15, 0.1],  # right, confidence 0.65 (bin 9/15..10/15)
        [0.3, 0.3, 0.3, 0.1],  # tie goes to threat; gold background: wrong, confidence 0.3 (bin 4/15..5/15)
    ])
    gold = np.array([0, 1, 1, 3])
    # 2/4 * |0.5 - 0.9| + 1/4 * |1 - 0.65| + 1/4 * |0 - 0.3|
    assert expected_calibration_error(probs, gold) == pytest.approx(0.2 + 0.0875 + 0.075)
    # with one bin the errors would cancel differently: accuracy 0.5, mean confidence 0.6875
    assert expected_calibration_error(probs, gold, bins=1) == pytest.approx(0.1875)


def test_ece_is_zero_for_confident_right_answers():
    probs = np.eye(4)
    assert expected_calibration_error(probs, np.arange(4)) == 0.0


def test_ties_go_to_the_guidelines_order():
    metrics = ClassificationEvaluator(["a"], ["threat"], bootstrap_samples=0)(fixed([[0.25] * 4]))
    assert metrics["accuracy"] == 1.0


def test_bootstrap_ci_matches_an_independent_resampling():
    gold, probs = random_case(n=60, seed=3)
    pred = probs.argmax(axis=1)
    low, high = bootstrap_macro_f1_ci(gold, pred, samples=200, seed=7)
    rng = np.random.default_rng(7)
    scores = []
    for _ in range(200):
        rows = rng.integers(0, 60, size=60)
        scores.append(f1_score(gold[rows], pred[rows], labels=ALL, average="macro", zero_division=0))
    assert [low, high] == pytest.approx(list(np.percentile(scores, [2.5, 97.5])))
    assert low < f1_score(gold, pred, average="macro") < high


def test_bootstrap_is_seeded_and_can_be_switched_off():
    gold, probs = random_case(n=80)
    pred = probs.argmax(axis=1)
    assert bootstrap_macro_f1_ci(gold, pred, 100, seed=0) == bootstrap_macro_f1_ci(gold, pred, 100, seed=0)
    assert bootstrap_macro_f1_ci(gold, pred, 100, seed=0) != bootstrap_macro_f1_ci(gold, pred, 100, seed=1)
    assert bootstrap_macro_f1_ci(gold, pred, 0) is None
    report = format_report({"name": "", **compute_metrics(gold, probs, bootstrap_samples=0)})
    assert "95% CI -" in report


def test_predict_proba_gets_batch_size_and_progress_only_when_it_takes_them():
    calls = []

    def tagger_like(texts, batch_size=64, progress=False):
        calls.append((len(texts), batch_size, progress))
        return np.full((len(texts), 4), 0.25)

    def plain(texts):
        calls.append(len(texts))
        return np.full((len(texts), 4), 0.25)

    evaluator = ClassificationEvaluator(["a", "b", "c"], ["threat"] * 3, batch_size=2, bootstrap_samples=0)
    evaluator(tagger_like)
    evaluator(plain)
    assert calls == [(3, 2, False), 3]


def test_upper_case_labels_and_metrics_dict_shape():
    evaluator = ClassificationEvaluator(["a", "b"], ["THREAT", "Military Action"], name="dev", bootstrap_samples=10)
    metrics = evaluator(fixed([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1]]))
    assert metrics[evaluator.primary_metric] == metrics["macro_f1"] == pytest.approx(0.5)
    assert metrics["name"] == "dev"
    assert set(metrics) >= {"per_class", "accuracy", "confusion", "macro_f1_ci", "ece", "n", "macro_f1_present"}


@pytest.mark.parametrize("probs, message", [
    ([[0.25] * 4], "shape"),  # one row for two texts
    ([[0.25] * 3, [0.25] * 3], "shape"),
    ([[2.0, -1.0, 0.0, 0.0], [0.25] * 4], "probabilities"),  # logits, not probabilities
    ([[np.nan] * 4, [0.25] * 4], "probabilities"),
])
def test_bad_predict_proba_output_is_refused(probs, message):
    evaluator = ClassificationEvaluator(["a", "b"], ["threat", "threat"])
    with pytest.raises(ValueError, match=message):
        evaluator(fixed(probs))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        ClassificationEvaluator(["a", "b"], ["threat"])
    with pytest.raises(ValueError, match="no texts"):
        ClassificationEvaluator([], [])
    with pytest.raises(ValueError, match="unknown label"):
        ClassificationEvaluator(["a"], ["sanction"])


def test_accuracy_per_hard_case_group():
    from casus.data.loaders import Example

    examples = [Example("a", "background", "f:1", hard="metaphor"), Example("b", "background", "f:2", hard="metaphor"),
                Example("c", "threat", "f:3", hard="quoted_threat"), Example("d", "threat", "f:4")]
    probs = [[0.1, 0.1, 0.1, 0.7], [0.7, 0.1, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1]]
    metrics = ClassificationEvaluator.from_examples(examples, bootstrap_samples=0)(fixed(probs))
    assert metrics["per_group"] == {"metaphor": {"n": 2, "accuracy": 0.5},
                                    "quoted_threat": {"n": 1, "accuracy": 1.0}}
    assert "metaphor" in format_report(metrics)
    plain = ClassificationEvaluator(["a"], ["threat"], bootstrap_samples=0)(fixed([[0.7, 0.1, 0.1, 0.1]]))
    assert plain["per_group"] == {}


def test_paired_bootstrap_difference():
    gold, probs = random_case(n=300, seed=3)
    better = gold.copy()
    better[:30] = (gold[:30] + 1) % 4  # 90% right
    worse = gold.copy()
    worse[:120] = (gold[:120] + 1) % 4  # 60% right
    result = paired_bootstrap_difference(macro_f1_statistic(gold, better), macro_f1_statistic(gold, worse), 300,
                                         samples=300, seed=0)
    expected = (f1_score(gold, better, labels=ALL, average="macro")
                - f1_score(gold, worse, labels=ALL, average="macro"))
    assert result["difference"] == pytest.approx(expected)
    assert 0 < result["ci"][0] < result["difference"] < result["ci"][1]
    assert result["p_not_better"] == 0.0
    same = paired_bootstrap_difference(macro_f1_statistic(gold, better), macro_f1_statistic(gold, better), 300,
                                       samples=50)
    assert same["difference"] == 0 and same["ci"] == [0.0, 0.0] and same["p_not_better"] == 1.0


# ---- one resampling helper (the CI and the paired difference draw the same rows) ----------------------

def test_resample_scores_every_statistic_on_the_same_rows():
    seen = []
    scores = resample([lambda rows: seen.append(("a", rows.tolist())) or rows.sum(),
                       lambda rows: seen.append(("b", rows.tolist())) or -rows.sum()], n=5, samples=3, seed=2)
    assert scores.shape == (3, 2) and (scores[:, 0] == -scores[:, 1]).all()
    a_rows = [rows for name, rows in seen if name == "a"]
    assert a_rows == [rows for name, rows in seen if name == "b"]
    assert len({tuple(rows) for rows in a_rows}) == 3  # three different resamples, each of 5 rows
    assert all(len(rows) == 5 and set(rows) <= set(range(5)) for rows in a_rows)


def test_ci_and_paired_difference_come_from_the_same_resamples():
    gold, probs = random_case(n=120, seed=4)
    statistic = macro_f1_statistic(gold, probs.argmax(axis=1))
    ci = bootstrap_ci(statistic, 120, samples=200, seed=5)
    against_nothing = paired_bootstrap_difference(statistic, lambda rows: 0.0, 120, samples=200, seed=5)
    assert against_nothing["ci"] == ci
    assert bootstrap_macro_f1_ci(gold, probs.argmax(axis=1), 200, seed=5) == ci


# ---- --adapt-priors: the label mix is re-estimated inside each resample -------------------------------

def shifted_case(n=150, seed=0):
    """Probabilities from a model trained on a uniform mix, on data that is mostly background."""
    rng = np.random.default_rng(seed)
    gold = rng.choice(4, size=n, p=[0.1, 0.1, 0.1, 0.7])
    logits = rng.normal(size=(n, 4))
    logits[np.arange(n), gold] += 2.0
    return gold, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_adapted_metrics_use_the_mix_estimated_from_the_texts():
    from casus.model.priors import estimate_priors, shift_priors

    gold, probs = shifted_case()
    uniform = [0.25] * 4
    evaluator = ClassificationEvaluator(["x"] * len(gold), [LABELS[g] for g in gold], bootstrap_samples=0,
                                        adapt_priors_from=uniform)
    metrics = evaluator(fixed(probs))
    mix = estimate_priors(probs, uniform)
    assert list(metrics["label_mix"].values()) == pytest.approx(list(mix))
    assert metrics["label_mix"]["background"] > 0.5  # it found the skew towards background
    shifted = shift_priors(probs, uniform, mix)
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, shifted.argmax(axis=1), labels=ALL, average="macro"))
    np.testing.assert_allclose(evaluator.last_probabilities, shifted)
    assert evaluator.statistic(np.arange(len(gold))) == pytest.approx(metrics["macro_f1"])


@pytest.mark.filterwarnings("ignore::casus.model.priors.PriorWarning")  # EM on small resamples, by hand
def test_adapted_ci_re_estimates_the_mix_in_each_resample():
    from casus.model.priors import estimate_priors, shift_priors

    gold, probs = shifted_case()
    uniform = [0.25] * 4
    evaluator = ClassificationEvaluator(["x"] * len(gold), [LABELS[g] for g in gold], bootstrap_samples=40,
                                        seed=3, adapt_priors_from=uniform)
    metrics = evaluator(fixed(probs))
    # by hand: the same resamples, EM on each
    rng = np.random.default_rng(3)
    by_hand, fixed_mix = [], []
    whole_mix = estimate_priors(probs, uniform)
    for _ in range(40):
        rows = rng.integers(0, len(gold), size=len(gold))
        own = shift_priors(probs[rows], uniform, estimate_priors(probs[rows], uniform))
        by_hand.append(f1_score(gold[rows], own.argmax(axis=1), labels=ALL, average="macro", zero_division=0))
        held = shift_priors(probs[rows], uniform, whole_mix)
        fixed_mix.append(f1_score(gold[rows], held.argmax(axis=1), labels=ALL, average="macro", zero_division=0))
    assert metrics["macro_f1_ci"] == pytest.approx(list(np.percentile(by_hand, [2.5, 97.5])))
    assert metrics["macro_f1_ci"] != pytest.approx(list(np.percentile(fixed_mix, [2.5, 97.5])))
    assert "re-estimated" in metrics["ci_method"]


@pytest.mark.filterwarnings("ignore::casus.model.priors.PriorWarning")
def test_adapted_ci_calls_em_once_per_resample_on_that_resample(monkeypatch):
    import casus.model.priors as priors

    calls = []
    real = priors.estimate_priors

    def spy(probs, train_prior, **kwargs):
        calls.append(np.asarray(probs).mean(axis=0))
        return real(probs, train_prior, **kwargs)

    monkeypatch.setattr(priors, "estimate_priors", spy)
    gold, probs = shifted_case(n=60)
    ClassificationEvaluator(["x"] * 60, [LABELS[g] for g in gold], bootstrap_samples=20,
                            adapt_priors_from=[0.25] * 4)(fixed(probs))
    assert len(calls) == 1 + 20  # the point estimate, then one per resample
    assert len({tuple(np.round(mean, 12)) for mean in calls[1:]}) == 20  # each on its own resample
