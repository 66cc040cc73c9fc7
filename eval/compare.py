"""Several metrics dicts side by side (model vs baseline), one column each."""
from casus.data.labels import LABELS
from casus.eval.evaluator import format_interval


def format_comparison(metrics_by_name: dict) -> str:
    """A text table: per-class F1, macro-F1 with its 95% CI, macro-F1 over present labels, accuracy, ECE."""
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
    lines = [f"{title:<20}" + "".join(f"{cell:>{width + 2}}" for cell in cells) for title, cells in rows]
    absent = sorted({label for m in all_metrics for label in m["absent_labels"]}, key=LABELS.index)
    if absent:
        lines.append(f"no gold sentences for {', '.join(absent)}: macro-F1 counts them as 0, macro-F1 present skips them")
    return "\n".join(lines)
