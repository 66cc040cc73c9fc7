"""Probabilities that mean what they say: the label mix of real news and temperature scaling, fitted on
dev after training and folded into the classifier head.

The model is trained with class weights (its probabilities assume every tag is equally common) on data
whose sentences state events more plainly than real news does (so it is over-confident). Two fixes, both
a change of the logits: add log(target mix / trained mix) per class (Bayes' rule for a new label mix), and
divide by a temperature T fitted on dev by likelihood (Guo et al., 2017). Folded into the last linear
layer (W/T, b/T + shift) they travel with the weights, so casus, `transformers.pipeline` and any other
reader of the checkpoint get the same probabilities."""
import numpy as np
from scipy.optimize import minimize_scalar

T_BOUNDS = (0.05, 20.0)


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def calibrated_logits(logits, temperature, shift):
    """logits [n, k] divided by the temperature, plus the per-class log shift of the label mix."""
    return np.asarray(logits, dtype=np.float64) / temperature + np.asarray(shift, dtype=np.float64)


def mix_shift(trained_prior, target_prior):
    """The per-class logit shift that moves probabilities from the trained label mix to the target one."""
    return np.log(np.asarray(target_prior, dtype=np.float64)) - np.log(np.asarray(trained_prior, dtype=np.float64))


def nll(logits, gold):
    return float(-log_softmax(logits)[np.arange(len(gold)), gold].mean())


def fit_temperature(logits, gold, shift) -> float:
    """The temperature that minimises the negative log-likelihood of gold under calibrated_logits."""
    logits, gold = np.asarray(logits, dtype=np.float64), np.asarray(gold)
    if len(gold) == 0:
        raise ValueError("cannot fit a temperature on no sentences")
    result = minimize_scalar(lambda t: nll(calibrated_logits(logits, t, shift), gold), bounds=T_BOUNDS,
                             method="bounded", options={"xatol": 1e-4})
    return float(result.x)


def fold_into_head(head, temperature, shift):
    """Scale the final nn.Linear in place so its logits become calibrated_logits of the old ones."""
    import torch

    with torch.no_grad():
        head.weight.div_(temperature)
        head.bias.div_(temperature).add_(torch.as_tensor(shift, dtype=head.bias.dtype, device=head.bias.device))


def unfold_from_head(head, temperature, shift):
    """The inverse of fold_into_head: the head's logits go back to those of the model as trained."""
    import torch

    with torch.no_grad():
        head.bias.sub_(torch.as_tensor(shift, dtype=head.bias.dtype, device=head.bias.device)).mul_(temperature)
        head.weight.mul_(temperature)


def classifier_head(model):
    """The last nn.Linear of a sequence classifier (BERT's `classifier`, MPNet's `classifier.out_proj`)."""
    import torch

    head = getattr(model, "classifier", None)
    if isinstance(head, torch.nn.Linear):
        return head
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears or linears[-1].out_features != model.config.num_labels:
        raise ValueError(f"cannot find the classifier layer of {type(model).__name__}")
    return linears[-1]


def uncalibrate(probs, calibration) -> np.ndarray:
    """The probabilities of the model as trained, before the shipped calibration: for reports that
    compare the two. calibration: the dict that casus.json stores."""
    if not calibration:
        return np.asarray(probs, dtype=np.float64)
    log_p = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None))
    raw = (log_p - np.asarray(calibration["shift"])) * calibration["temperature"]
    return np.exp(log_softmax(raw))


def reliability(probs, gold, bins=10):
    """Per confidence bin (equal width): mean confidence, accuracy and count, for a reliability diagram."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == gold
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(sel.sum()),
                         "confidence": float(confidence[sel].mean()), "accuracy": float(correct[sel].mean())})
    return rows

