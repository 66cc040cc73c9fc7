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


def estimate_priors(probs, train_prior, max_iter=200, tol=1e-6) -> np.ndarray:
    """The label mix of the sentences behind probs, estimated without labels by EM: alternate between
    re-weighting the probabilities for the current mix and taking their mean as the new mix."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) == 0:
        raise ValueError("cannot estimate a label mix from no sentences")
    prior = np.asarray(train_prior, dtype=np.float64)
    for _ in range(max_iter):
        new = shift_priors(probs, train_prior, prior).mean(axis=0)
        if np.abs(new - prior).max() < tol:
            return new
        prior = new
    return prior
