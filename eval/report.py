"""Metrics dicts (from eval/metrics.py) made readable: text reports and tables, the confusion-matrix and
reliability plots, and the files `casus eval` writes per system."""
import json
from pathlib import Path

import numpy as np

from casus.data.labels import LABELS
from casus.eval.metrics import ECE_BINS, expected_calibration_error

# what write_outputs writes: eval/outdir.py removes these, and only these, before a new evaluation
SYSTEM_FILES = ("metrics.json", "report.txt", "confusion.png", "misclassified.jsonl")


def write_outputs(metrics, texts, gold, probs, output_dir):
    """SYSTEM_FILES in output_dir: metrics.json, report.txt, confusion.png and misclassified.jsonl."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / "metrics.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
    (output_dir / "report.txt").write_text(format_report(metrics) + "\n", encoding="utf-8")
    plot_confusion(metrics, output_dir / "confusion.png")
    with open(output_dir / "misclassified.jsonl", "w", encoding="utf-8") as f:
        for row in misclassified(texts, gold, probs):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def misclassified(texts, gold, probs) -> list[dict]:
    """The wrong predictions, most confident first: the errors most worth reading."""
    pred = probs.argmax(axis=1)
    rows = [
        {
            "text": text,
            "gold": LABELS[g],
            "predicted": LABELS[p],
            "confidence": round(float(row[p]), 4),
            "probabilities": {label: round(float(x), 4) for label, x in zip(LABELS, row)},
        }
        for text, g, p, row in zip(texts, gold, pred, probs)
        if g != p
    ]
    return sorted(rows, key=lambda row: row["confidence"], reverse=True)


# ---- text ---------------------------------------------------------------------------------------------

def format_report(metrics) -> str:
    """A readable text report of one metrics dict."""
    title = f"evaluation: {metrics['name']}" if metrics.get("name") else "evaluation"
    precision = f" in {metrics['precision']}" if metrics.get("precision") else ""
    present = [label for label in metrics["labels"] if label not in metrics["absent_labels"]]
    lines = [
        f"{title} (n={metrics['n']}){precision}",
        "",
        f"macro-F1           {metrics['macro_f1']:.4f}  95% CI {format_interval(metrics['macro_f1_ci'])}  "
        "(over all four labels)",
        f"macro-F1 present   {metrics['macro_f1_present']:.4f}  (over the {len(present)} labels with gold sentences)",
        f"accuracy           {metrics['accuracy']:.4f}",
        f"ECE                {metrics['ece']:.4f}  (top-label, {ECE_BINS} equal-width confidence bins)",
    ]
    if metrics.get("int8"):
        int8 = metrics["int8"]
        lines.append(f"int8 macro-F1      {int8['macro_f1']:.4f}  95% CI {format_interval(int8['macro_f1_ci'])}  "
                     f"(accuracy {int8['accuracy']:.4f}; {format_changed(int8)} labels differ from fp32)")
    if metrics.get("label_mix"):
        lines.append("label mix          " + ", ".join(f"{label} {share:.3f}" for label, share in
                                                      metrics["label_mix"].items())
                     + "  (estimated from the texts; the CI re-estimates it in each resample)")
    lines += ["", f"{'label':<16} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for label in metrics["labels"]:
        c = metrics["per_class"][label]
        lines.append(f"{label:<16} {c['precision']:>9.4f} {c['recall']:>7.4f} {c['f1']:>7.4f} {c['support']:>8d}")
    if metrics["absent_labels"]:
        lines += ["", f"note: no gold sentences for {', '.join(metrics['absent_labels'])}: F1 counts as 0 in "
                  "macro-F1 over all four labels; see macro-F1 present."]
    lines += ["", "confusion matrix (rows = gold, columns = predicted)", format_confusion(metrics)]
    if metrics.get("per_group"):
        lines += ["", f"{'hard case':<24} {'n':>5} {'accuracy':>9}"]
        lines += [f"{group:<24} {g['n']:>5d} {g['accuracy']:>9.4f}" for group, g in metrics["per_group"].items()]
    return "\n".join(lines)


def format_comparison(metrics_by_name: dict) -> str:
    """Several metrics dicts side by side, one column each: per-class F1, macro-F1 with its 95% CI,
    macro-F1 over present labels, accuracy, ECE; and, for a model scored in fp32 with int8 beside it,
    the int8 macro-F1 and how many labels int8 changes."""
    names = list(metrics_by_name)
    all_metrics = list(metrics_by_name.values())
    width = max(16, *(len(name) for name in names))  # 16: a CI cell
    rows = [("", names)]
    rows += [(f"F1 {label}", [f"{m['per_class'][label]['f1']:.4f}" for m in all_metrics]) for label in LABELS]
    rows += [
        ("macro-F1", [f"{m['macro_f1']:.4f}" for m in all_metrics]),
        ("  95% CI", [format_interval(m["macro_f1_ci"]) for m in all_metrics]),
        ("macro-F1 present", [f"{m['macro_f1_present']:.4f}" for m in all_metrics]),
        ("accuracy", [f"{m['accuracy']:.4f}" for m in all_metrics]),
        ("ECE", [f"{m['ece']:.4f}" for m in all_metrics]),
        ("n", [str(m["n"]) for m in all_metrics]),
    ]
    if any(m.get("int8") for m in all_metrics):
        rows += [
            ("int8 macro-F1", [f"{m['int8']['macro_f1']:.4f}" if m.get("int8") else "-" for m in all_metrics]),
            ("  95% CI", [format_interval(m["int8"]["macro_f1_ci"]) if m.get("int8") else "-" for m in all_metrics]),
            ("  labels != fp32", [format_changed(m["int8"]) if m.get("int8") else "-" for m in all_metrics]),
        ]
    lines = [f"{title:<20}" + "".join(f"{cell:>{width + 2}}" for cell in cells) for title, cells in rows]
    if any(m.get("int8") for m in all_metrics):
        lines.append("the model column is fp32, the precision its checkpoint was chosen in; int8 is the same model "
                     "quantized, as `casus tag` runs it on a CPU")
    absent = sorted({label for m in all_metrics for label in m["absent_labels"]}, key=LABELS.index)
    if absent:
        lines.append(f"no gold sentences for {', '.join(absent)}: macro-F1 counts them as 0, macro-F1 present skips them")
    return "\n".join(lines)


def format_changed(int8_metrics) -> str:
    return f"{int8_metrics['labels_changed']} of {int8_metrics['n']}"


def format_interval(ci) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "-"  # "-": bootstrap switched off


def format_confusion(metrics) -> str:
    labels = metrics["labels"]
    width = max(len(label) for label in labels)
    header = " " * width + "".join(f"  {label:>{width}}" for label in labels)
    rows = [f"{gold:<{width}}" + "".join(f"  {count:>{width}d}" for count in counts)
            for gold, counts in zip(labels, metrics["confusion"])]
    return "\n".join([header, *rows])


# ---- plots --------------------------------------------------------------------------------------------

def _figure(size):
    # The Agg canvas directly, not pyplot's figure manager: no global backend switch, no figure left open
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_confusion(metrics, path):  # -> the figure, for a look at what it drew
    """The confusion matrix as a PNG (sklearn's ConfusionMatrixDisplay): each cell shaded by its share of
    the gold row and labelled with its count and that share. Shares, not counts, set the colour:
    background dwarfs the rare tags in counts."""
    from sklearn.metrics import ConfusionMatrixDisplay

    labels, counts = metrics["labels"], np.array(metrics["confusion"])
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
    fig = _figure((6, 5))
    display = ConfusionMatrixDisplay(shares, display_labels=labels)
    display.plot(ax=fig.add_subplot(), cmap="Blues", xticks_rotation=30, im_kw={"vmin": 0, "vmax": 1})
    for (i, j), text in np.ndenumerate(display.text_):
        text.set_text(f"{counts[i, j]}\n{shares[i, j]:.0%}")
    display.im_.colorbar.set_label("share of the gold row")
    display.ax_.set_xlabel("predicted")
    display.ax_.set_ylabel("gold")
    display.ax_.set_title(f"{metrics.get('name') or 'model'}: macro-F1 {metrics['macro_f1']:.3f}")
    fig.savefig(path, dpi=120)
    return fig


def plot_reliability(curves, gold, path, bins=10):
    """A reliability diagram: accuracy against mean confidence per confidence bin, one line per set of
    probabilities in `curves` ({name: probs [n, 4]}), with the diagonal a calibrated model would follow."""
    from casus.model.calibration import reliability

    fig = _figure((5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for name, probs in curves.items():
        rows = reliability(np.asarray(probs), gold, bins)
        ece = expected_calibration_error(np.asarray(probs), gold)
        ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker="o",
                label=f"{name} (ECE {ece:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean confidence in bin")
    ax.set_ylabel("accuracy in bin")
    ax.legend(loc="upper left", fontsize="small")
    fig.savefig(path, dpi=120)
