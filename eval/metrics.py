"""Score any texts -> probabilities function on labelled sentences, in the manner of sentence-transformers'
evaluators: build one ClassificationEvaluator for a data set, call it with a model, get a metrics dict.

All metrics come from one confusion matrix, so the point estimates and the bootstrap agree by construction.
Macro-F1 averages over all four labels: a label with no gold sentences has F1 0 whether or not it is
predicted, which pulls the average down; `macro_f1_present` averages over the labels present in gold.

Confidence intervals come from one resampling helper, `resample`: the CI of one system and the paired
difference between two are the same resampled sentences (same seed, same rows), scored by each system's
statistic. A system whose label mix is estimated from the data (`adapt_priors`) re-estimates it inside
every resample, so its CI carries the uncertainty of the estimate too."""
import functools
import inspect
import warnings

import numpy as np

from casus.data.labels import LABEL2ID, LABELS, normalize_label

ECE_BINS = 15
CI_LEVEL = 0.95


class ClassificationEvaluator:
    primary_metric = "macro_f1"

    def __init__(self, texts, labels, name="", batch_size=64, bootstrap_samples=1000, seed=0,
                 show_progress_bar=False, groups=None, adapt_priors_from=None):
        """groups: an optional category per sentence (None for most), e.g. the corpus' hard-case kinds;
        accuracy is then also reported per category.
        adapt_priors_from: the label mix the model's probabilities assume (a tagger's train_prior). When
        given, the model is scored re-weighted for the label mix of these texts, estimated from its own
        probabilities by EM without labels; the CI re-estimates the mix in each resample."""
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
        self.adapt_priors_from = None if adapt_priors_from is None else np.asarray(adapt_priors_from, float)

    @classmethod
    def from_examples(cls, examples, **kwargs):
        return cls([ex.text for ex in examples], [ex.label for ex in examples],
                   groups=[ex.hard for ex in examples], **kwargs)

    def __call__(self, predict_proba, output_dir=None) -> dict:
        """predict_proba: any callable texts -> [n, 4] probabilities in LABELS order.
        After the call, last_probabilities and last_metrics hold what was scored and statistic the macro-F1
        of any resample (rows -> float), for paired comparisons without running the model again."""
        predict = bind_supported(predict_proba, batch_size=self.batch_size, progress=self.show_progress_bar)
        probs = check_probabilities(predict(self.texts), len(self.texts))
        extra = {}
        if self.adapt_priors_from is not None:
            mix = estimate_mix(probs, self.adapt_priors_from)
            self.statistic = adapted_macro_f1_statistic(self.gold, probs, self.adapt_priors_from)
            probs = shift_mix(probs, self.adapt_priors_from, mix)
            extra = {"label_mix": {label: float(share) for label, share in zip(LABELS, mix)},
                     "ci_method": "label mix re-estimated by EM in each resample"}
        else:
            self.statistic = macro_f1_statistic(self.gold, probs.argmax(axis=1))
        self.last_probabilities = probs
        metrics = {"name": self.name, **compute_metrics(self.gold, probs, 0),
                   "per_group": accuracy_per_group(self.gold, probs, self.groups), **extra}
        metrics["macro_f1_ci"] = bootstrap_ci(self.statistic, len(self.gold), self.bootstrap_samples, self.seed)
        metrics["bootstrap_samples"] = int(self.bootstrap_samples)
        self.last_metrics = metrics
        if output_dir is not None:
            from casus.eval.report import write_outputs  # report draws plots: matplotlib loads only then

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


# ---- label mix ----------------------------------------------------------------------------------------

def estimate_mix(probs, train_prior, quiet=False):
    """The label mix of the sentences behind probs, by EM (model/priors.py); quiet silences its warnings
    (inside a bootstrap, where the estimate on the whole data has already warned once)."""
    from casus.model.priors import PriorWarning, estimate_priors

    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", PriorWarning)
        return estimate_priors(probs, train_prior)


def shift_mix(probs, train_prior, mix):
    from casus.model.priors import shift_priors

    return shift_priors(probs, train_prior, mix)


# ---- the bootstrap ------------------------------------------------------------------------------------

def macro_f1_statistic(gold, pred):
    """rows -> macro-F1 of the fixed predictions pred on those rows."""
    return lambda rows: macro_f1(gold[rows], pred[rows])


def adapted_macro_f1_statistic(gold, probs, train_prior):
    """rows -> macro-F1 on those rows of probs re-weighted for the label mix estimated (EM, no labels) from
    those same rows. On all rows it is the point estimate; on a resample it re-estimates the mix, as a
    fresh sample of the same size would, instead of holding one estimate fixed (a CI that is too narrow)."""
    def statistic(rows):
        sample = probs[rows]
        shifted = shift_mix(sample, train_prior, estimate_mix(sample, train_prior, quiet=True))
        return macro_f1(gold[rows], shifted.argmax(axis=1))
    return statistic


def resample(statistics, n, samples, seed=0) -> np.ndarray:
    """[samples, len(statistics)]: each statistic (row indices -> number) on the same `samples` resamples
    of n rows drawn with replacement, seeded. A loop, not an [samples, n] index array: memory stays O(n)."""
    rng = np.random.default_rng(seed)
    scores = np.empty((samples, len(statistics)))
    for i in range(samples):
        rows = rng.integers(0, n, size=n)
        scores[i] = [statistic(rows) for statistic in statistics]
    return scores


def percentile_interval(scores, level=CI_LEVEL) -> list[float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return [float(low), float(high)]


def bootstrap_ci(statistic, n, samples=1000, seed=0, level=CI_LEVEL):
    """Percentile CI of statistic over n sentences resampled with replacement; None when samples is 0."""
    if samples <= 0:
        return None
    return percentile_interval(resample([statistic], n, samples, seed)[:, 0], level)


def bootstrap_macro_f1_ci(gold, pred, samples=1000, seed=0, level=CI_LEVEL):
    """Percentile CI of macro-F1 of fixed predictions; None when samples is 0."""
    return bootstrap_ci(macro_f1_statistic(gold, pred), len(gold), samples, seed, level)


def paired_bootstrap_difference(statistic_a, statistic_b, n, samples=1000, seed=0, level=CI_LEVEL) -> dict:
    """macro-F1 of system a minus that of system b (each a statistic: rows -> macro-F1, as an evaluator
    leaves in .statistic), both scored on the same resampled sentences each time: the honest test of
    "a beats b" on one test set (two separate CIs overlap far more often than the paired difference
    crosses 0). p_not_better is the share of resamples where a does not beat b."""
    everything = np.arange(n)
    point = statistic_a(everything) - statistic_b(everything)
    scores = resample([statistic_a, statistic_b], n, samples, seed)
    diffs = scores[:, 0] - scores[:, 1]
    return {"difference": float(point), "ci": percentile_interval(diffs, level),
            "p_not_better": float((diffs <= 0).mean()), "samples": int(samples)}
