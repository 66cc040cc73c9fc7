"""eval/report.py: the text report, the comparison table, the plots and the files written per system."""
import json

import numpy as np
import pytest

from casus.data.labels import LABELS
from casus.eval.metrics import ClassificationEvaluator, compute_metrics
from casus.eval.report import format_comparison, format_report, plot_confusion


def fixed(probs):
    return lambda texts: np.asarray(probs)


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


def test_confusion_plot_shades_by_row_share_and_shows_counts(tmp_path):
    gold = np.array([0, 0, 0, 3, 3])
    probs = np.eye(4)[[0, 0, 3, 3, 1]]  # threat: 2 right, 1 called background; background: 1 right, 1 condemnation
    metrics = {"name": "toy", **compute_metrics(gold, probs, bootstrap_samples=0)}
    fig = plot_confusion(metrics, tmp_path / "confusion.png")
    cells = [text.get_text() for text in fig.axes[0].texts]
    assert len(cells) == 16
    assert cells[0] == "2\n67%" and cells[3] == "1\n33%"  # row threat: threat, ..., background
    assert cells[12 + 1] == "1\n50%" and cells[15] == "1\n50%"  # row background
    assert cells[5] == "0\n0%"  # a row with no gold sentences
    image = fig.axes[0].images[0].get_array()
    assert image[0, 0] == pytest.approx(2 / 3) and image.max() <= 1  # colour is the share, not the count
    assert (tmp_path / "confusion.png").read_bytes().startswith(b"\x89PNG")


def int8_beside(metrics, changed):
    return {**metrics, "int8": {**metrics, "macro_f1": 0.5, "macro_f1_ci": [0.4, 0.6], "labels_changed": changed}}


def test_comparison_table_puts_int8_beside_fp32():
    gold = np.arange(4).repeat(3)
    probs = np.eye(4)[gold]
    model = int8_beside({"name": "m", "precision": "fp32", **compute_metrics(gold, probs, bootstrap_samples=0)}, 2)
    baseline = {"name": "b", **compute_metrics(gold, probs, bootstrap_samples=0)}
    table = format_comparison({"model": model, "baseline": baseline})
    rows = {line[:20].strip(): line[20:].split() for line in table.splitlines() if line[:20].strip()}
    assert rows["macro-F1"] == ["1.0000", "1.0000"]
    assert rows["int8 macro-F1"] == ["0.5000", "-"]
    assert rows["labels != fp32"] == ["2", "of", "12", "-"]
    assert "fp32" in table.splitlines()[-1]
    plain = format_comparison({"baseline": baseline})
    assert "int8" not in plain


def test_report_shows_int8_and_the_estimated_label_mix():
    gold = np.arange(4).repeat(3)
    metrics = int8_beside({"name": "m", "precision": "fp32", **compute_metrics(gold, np.eye(4)[gold], 0)}, 3)
    report = format_report(metrics)
    assert report.splitlines()[0] == "evaluation: m (n=12) in fp32"
    assert "int8 macro-F1      0.5000  95% CI [0.4000, 0.6000]" in report and "3 of 12 labels differ" in report
    mixed = format_report({**metrics, "label_mix": dict(zip(LABELS, [0.1, 0.1, 0.1, 0.7]))})
    assert "background 0.700" in mixed and "re-estimates it in each resample" in mixed
