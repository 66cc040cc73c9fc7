"""Label-shift correction: re-weight probabilities for the label mix of the text being tagged.

A model trained with balanced class weights predicts as if every tag were equally common. Real news is
mostly background, so its raw probabilities over-call the three event tags. Given the target mix, Bayes'
rule fixes that: p'(y|x) is proportional to p(y|x) * target(y) / train(y). The target mix need not be
known: EM on unlabelled sentences estimates it (Saerens, Latinne & Decaestecker, 2002)."""
import numpy as np


def shift_priors(probs, train_prior, target_prior) -> np.ndarray:
    """probs [n, k] from a model trained under train_prior, re-weighted for target_prior."""
    weighted = np.asarray(probs, dtype=np.float64) * (np.asarray(target_prior) / np.asarray(train_prior))
    return weighted / weighted.sum(axis=1, keepdims=True)


PRIOR_FLOOR = 0.005  # no tag is rarer than this in news about conflict; EM must not drive one to zero


class PriorWarning(UserWarning):
    """The label mix estimated by EM is doubtful: it did not converge, or a share hit the floor."""


def estimate_priors(probs, train_prior, max_iter=200, tol=1e-6, floor=PRIOR_FLOOR) -> np.ndarray:
    """The label mix of the sentences behind probs, estimated without labels by EM: alternate between
    re-weighting the probabilities for the current mix and taking their mean as the new mix.

    EM can drive a tag's share towards 0 on a small or one-sided sample, after which that tag is never
    predicted again; every share is kept at `floor` or above, with a PriorWarning when that bites or when
    EM has not converged in max_iter rounds."""
    import warnings

    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) == 0:
        raise ValueError("cannot estimate a label mix from no sentences")
    prior = np.asarray(train_prior, dtype=np.float64)
    for _ in range(max_iter):
        new = _floored(shift_priors(probs, train_prior, prior).mean(axis=0), floor)
        converged = np.abs(new - prior).max() < tol
        prior = new
        if converged:
            break
    else:
        warnings.warn(f"the label-mix estimate did not converge in {max_iter} EM rounds", PriorWarning, stacklevel=2)
    if np.any(prior <= floor * (1 + 1e-9)):
        warnings.warn(f"the estimated label mix put a tag at the floor of {floor}: the sample of "
                      f"{len(probs)} sentences is too small or too one-sided to estimate it", PriorWarning,
                      stacklevel=2)
    return prior


def _floored(prior, floor):
    """prior with every share at least floor, still summing to 1 (the excess taken from the others)."""
    low = prior < floor
    if not low.any():
        return prior
    out = prior.copy()
    out[low] = floor
    rest = ~low
    out[rest] = prior[rest] / prior[rest].sum() * (1 - floor * low.sum())
    return out
