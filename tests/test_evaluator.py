import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from casus.data.labels import LABELS
from casus.eval.evaluator import (
    ClassificationEvaluator,
    bootstrap_macro_f1_ci,
    compute_metrics,
    expected_calibration_error,
    format_report,
)

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


def test_output_files(tmp_path):
    texts = ["right, sure", "wrong, sure", "wrong, unsure", "right, unsure"]
    gold = ["threat", "condemnation", "background", "background"]
    probs = [
        [0.9, 0.05, 0.03, 0.02],
        [0.05, 0.05, 0.85, 0.05],
        [0.4, 0.3, 0.2, 0.1],
        [0.2, 0.2, 0.2, 0.4],
    ]
    metrics = ClassificationEvaluator(texts, gold, name="toy", bootstrap_samples=20)(fixed(probs), tmp_path / "out")
    out = tmp_path / "out"

    assert json.loads((out / "metrics.json").read_text()) == metrics

    report = (out / "report.txt").read_text()
    assert report.startswith("evaluation: toy (n=4)")
    assert "confusion matrix (rows = gold, columns = predicted)" in report
    confusion_rows = report.split("confusion matrix (rows = gold, columns = predicted)\n")[1].splitlines()
    background_row = next(line for line in confusion_rows if line.startswith("background "))
    assert background_row.split()[1:] == ["1", "0", "0", "1"]

    png = (out / "confusion.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000

    rows = [json.loads(line) for line in (out / "misclassified.jsonl").read_text().splitlines()]
    assert [row["text"] for row in rows] == ["wrong, sure", "wrong, unsure"]  # confidence descending
    assert rows[0] == {
        "text": "wrong, sure", "gold": "condemnation", "predicted": "military_action", "confidence": 0.85,
        "probabilities": {"threat": 0.05, "condemnation": 0.05, "military_action": 0.85, "background": 0.05},
    }


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
    from casus.eval.evaluator import paired_bootstrap_difference

    gold, probs = random_case(n=300, seed=3)
    better = gold.copy()
    better[:30] = (gold[:30] + 1) % 4  # 90% right
    worse = gold.copy()
    worse[:120] = (gold[:120] + 1) % 4  # 60% right
    result = paired_bootstrap_difference(gold, better, worse, samples=300, seed=0)
    expected = (f1_score(gold, better, labels=ALL, average="macro")
                - f1_score(gold, worse, labels=ALL, average="macro"))
    assert result["difference"] == pytest.approx(expected)
    assert 0 < result["ci"][0] < result["difference"] < result["ci"][1]
    assert result["p_not_better"] == 0.0
    same = paired_bootstrap_difference(gold, better, better, samples=50)
    assert same["difference"] == 0 and same["ci"] == [0.0, 0.0] and same["p_not_better"] == 1.0
