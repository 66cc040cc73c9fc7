"""Score any texts -> probabilities function on labelled sentences, in the manner of sentence-transformers'
evaluators: build one ClassificationEvaluator for a data set, call it with a model, get a metrics dict.

All metrics come from one confusion matrix, so the point estimates and the bootstrap agree by construction.
Macro-F1 averages over all four labels: a label with no gold sentences has F1 0 whether or not it is
predicted, which pulls the average down; `macro_f1_present` averages over the labels present in gold."""
import functools
import inspect
import json
from pathlib import Path

import numpy as np

from casus.data.labels import LABEL2ID, LABELS, normalize_label

ECE_BINS = 15


class ClassificationEvaluator:
    primary_metric = "macro_f1"

    def __init__(self, texts, labels, name="", batch_size=64, bootstrap_samples=1000, seed=0,
                 show_progress_bar=False, groups=None):
        """groups: an optional category per sentence (None for most), e.g. the corpus' hard-case kinds;
        accuracy is then also reported per category."""
        self.texts = list(texts)
        self.groups = list(groups) if groups is not None else [None] * len(self.texts)
        self.gold = np.array([LABEL2ID[normalize_label(label)] for label in labels], dtype=np.int64)
        if len(self.texts) != len(self.gold):
            raise ValueError(f"{len(self.texts)} texts but {len(self.gold)} labels")
        if not self.texts:
            raise ValueError("nothing to evaluate: no texts")
        self.name = name
        self.batch_size = batch_size
        self.bootstrap_samples = bootstrap_samples
        self.seed = seed
        self.show_progress_bar = show_progress_bar

    @classmethod
    def from_examples(cls, examples, **kwargs):
        return cls([ex.text for ex in examples], [ex.label for ex in examples],
                   groups=[ex.hard for ex in examples], **kwargs)

    def __call__(self, predict_proba, output_dir=None) -> dict:
        """predict_proba: any callable texts -> [n, 4] probabilities in LABELS order."""
        predict = bind_supported(predict_proba, batch_size=self.batch_size, progress=self.show_progress_bar)
        probs = check_probabilities(predict(self.texts), len(self.texts))
        self.last_probabilities = probs  # kept for paired comparisons and re-weighting without re-running
        metrics = {"name": self.name, **compute_metrics(self.gold, probs, self.bootstrap_samples, self.seed),
                   "per_group": accuracy_per_group(self.gold, probs, self.groups)}
        if output_dir is not None:
            write_outputs(metrics, self.texts, self.gold, probs, output_dir)
        return metrics


def bind_supported(fn, **kwargs):
    """fn with those of kwargs bound that it accepts: a tagger's predict_proba takes batch_size (and may take
    progress), a plain function or the baseline's may take neither."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        return fn
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return functools.partial(fn, **kwargs)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    accepted = {key: value for key, value in kwargs.items() if key in names}
    return functools.partial(fn, **accepted) if accepted else fn


def check_probabilities(probs, n) -> np.ndarray:
    """probs as a float array [n, 4] whose rows are distributions; anything else is a bug in the model."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (n, len(LABELS)):
        raise ValueError(f"predict_proba returned shape {probs.shape}, expected ({n}, {len(LABELS)})")
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1, atol=1e-3):
        raise ValueError("predict_proba must return probabilities (rows of non-negative numbers summing to 1)")
    return probs


def compute_metrics(gold, probs, bootstrap_samples=1000, seed=0) -> dict:
    """The metrics dict for gold label ids [n] and probabilities [n, 4]."""
    # argmax takes the first of equal maxima, which is the guidelines' tie-break order (LABELS order)
    pred = probs.argmax(axis=1)
    confusion = confusion_matrix(gold, pred)
    precision, recall, f1 = scores_per_class(confusion)
    support = confusion.sum(axis=1)
    present = support > 0
    return {
        "n": int(len(gold)),
        "accuracy": float((pred == gold).mean()),
        "macro_f1": float(f1.mean()),
        "macro_f1_ci": bootstrap_macro_f1_ci(gold, pred, bootstrap_samples, seed),
        "macro_f1_present": float(f1[present].mean()),
        "ece": expected_calibration_error(probs, gold),
        "labels": list(LABELS),
        "absent_labels": [label for label, here in zip(LABELS, present) if not here],
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(LABELS, precision, recall, f1, support)
        },
        "confusion": confusion.tolist(),
        "bootstrap_samples": int(bootstrap_samples),
    }


def accuracy_per_group(gold, probs, groups) -> dict:
    """{group: {"n", "accuracy"}} over the sentences that have a group; {} when none has."""
    correct = probs.argmax(axis=1) == gold
    per_group = {}
    for group in sorted({g for g in groups if g}):
        rows = np.array([g == group for g in groups])
        per_group[group] = {"n": int(rows.sum()), "accuracy": float(correct[rows].mean())}
    return per_group


def confusion_matrix(gold, pred) -> np.ndarray:
    """Counts [4, 4]: rows = gold, columns = predicted, LABELS order."""
    k = len(LABELS)
    return np.bincount(gold * k + pred, minlength=k * k).reshape(k, k)


def macro_f1(gold, pred) -> float:
    """Macro-F1 over all four labels of gold and predicted label ids."""
    return float(scores_per_class(confusion_matrix(gold, pred))[2].mean())


def scores_per_class(confusion):
    """Precision, recall and F1 per class; 0 where undefined (as sklearn with zero_division=0)."""
    tp = np.diag(confusion).astype(np.float64)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(predicted + actual > 0, 2 * tp / (predicted + actual), 0.0)
    return precision, recall, f1


def bootstrap_macro_f1_ci(gold, pred, samples=1000, seed=0, level=0.95):
    """Percentile CI of macro-F1 over sentences resampled with replacement; None when samples is 0."""
    if samples <= 0:
        return None
    rng = np.random.default_rng(seed)
    n = len(gold)
    scores = np.empty(samples)
    for i in range(samples):  # a loop, not an [samples, n] index array: memory stays O(n) on big sets
        rows = rng.integers(0, n, size=n)
        scores[i] = macro_f1(gold[rows], pred[rows])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return [float(low), float(high)]


def paired_bootstrap_difference(gold, pred_a, pred_b, samples=1000, seed=0, level=0.95) -> dict:
    """macro-F1 of system a minus that of system b, both scored on the same resampled sentences each
    time: the honest test of "a beats b" on one test set (two separate CIs overlap far more often than
    the paired difference crosses 0). p_not_better is the share of resamples where a does not beat b."""
    point = macro_f1(gold, pred_a) - macro_f1(gold, pred_b)
    rng = np.random.default_rng(seed)
    diffs = np.empty(samples)
    for i in range(samples):
        rows = rng.integers(0, len(gold), size=len(gold))
        diffs[i] = macro_f1(gold[rows], pred_a[rows]) - macro_f1(gold[rows], pred_b[rows])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return {"difference": float(point), "ci": [float(low), float(high)],
            "p_not_better": float((diffs <= 0).mean()), "samples": int(samples)}


def expected_calibration_error(probs, gold, bins=ECE_BINS) -> float:
    """Top-label ECE: sentences binned by confidence into equal-width bins (lo, hi]; the mean over bins of
    |accuracy - mean confidence|, weighted by the share of sentences in the bin."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == gold
    inner_edges = np.linspace(0, 1, bins + 1)[1:-1]
    bin_of = np.digitize(confidence, inner_edges, right=True)
    ece = 0.0
    for b in np.unique(bin_of):
        in_bin = bin_of == b
        ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


# ---- outputs ------------------------------------------------------------------------------------------

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


def format_report(metrics) -> str:
    """A readable text report of one metrics dict."""
    title = f"evaluation: {metrics['name']}" if metrics.get("name") else "evaluation"
    present = [label for label in metrics["labels"] if label not in metrics["absent_labels"]]
    lines = [
        f"{title} (n={metrics['n']})",
        "",
        f"macro-F1           {metrics['macro_f1']:.4f}  95% CI {format_interval(metrics['macro_f1_ci'])}  "
        "(over all four labels)",
        f"macro-F1 present   {metrics['macro_f1_present']:.4f}  (over the {len(present)} labels with gold sentences)",
        f"accuracy           {metrics['accuracy']:.4f}",
        f"ECE                {metrics['ece']:.4f}  (top-label, {ECE_BINS} equal-width confidence bins)",
        "",
        f"{'label':<16} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}",
    ]
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


def format_interval(ci) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "-"  # "-": bootstrap switched off


def format_confusion(metrics) -> str:
    labels = metrics["labels"]
    width = max(len(label) for label in labels)
    header = " " * width + "".join(f"  {label:>{width}}" for label in labels)
    rows = [f"{gold:<{width}}" + "".join(f"  {count:>{width}d}" for count in counts)
            for gold, counts in zip(labels, metrics["confusion"])]
    return "\n".join([header, *rows])


def plot_confusion(metrics, path):
    """The confusion matrix as a PNG: counts in the cells, shaded by their share of the gold row."""
    # The Agg canvas directly, not pyplot: no global backend switch, no figure left open
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels, counts = metrics["labels"], np.array(metrics["confusion"])
    # Colour by share of the gold row (recall), not by count: background dwarfs the rare tags in counts
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
    fig = Figure(figsize=(6, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the gold row")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{metrics.get('name') or 'model'}: macro-F1 {metrics['macro_f1']:.3f}")
    for i in range(len(labels)):
        for j in range(len(labels)):
            color = "white" if shares[i, j] > 0.5 else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color)
    fig.savefig(path, dpi=120)


def plot_reliability(curves, gold, path, bins=10):
    """A reliability diagram: accuracy against mean confidence per confidence bin, one line per set of
    probabilities in `curves` ({name: probs [n, 4]}), with the diagonal a calibrated model would follow."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from casus.model.calibration import reliability

    fig = Figure(figsize=(5, 5), layout="constrained")
    FigureCanvasAgg(fig)
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
