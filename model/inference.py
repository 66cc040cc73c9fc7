"""Batched prediction shared by the tagger and the training loop's dev evaluation."""
import numpy as np
from tqdm.auto import tqdm


def encode(tokenizer, texts, max_length) -> tuple[list, list]:
    """Token ids per text, cut to max_length and unpadded (padding happens per batch), and whether each
    text was cut. One token more is read so a cut can be told from a text that fits exactly."""
    if not texts:
        return [], []  # the tokenizer refuses an empty batch
    ids = tokenizer(list(texts), truncation=True, max_length=max_length + 1)["input_ids"]
    cut = [len(x) > max_length for x in ids]
    # as the tokenizer's own truncation does: drop words from the end, keep the closing [SEP]
    return [x[: max_length - 1] + x[-1:] if c else x for x, c in zip(ids, cut)], cut


def predict_proba(model, tokenizer, texts, batch_size=64, max_length=128, progress=False) -> np.ndarray:
    """Class probabilities [n, num_labels] in the model's label order."""
    return predict_proba_ids(model, tokenizer, encode(tokenizer, list(texts), max_length)[0], batch_size, progress)


def predict_proba_ids(model, tokenizer, ids, batch_size=64, progress=False) -> np.ndarray:
    """predict_proba for texts already encoded."""
    logits = predict_logits_ids(model, tokenizer, ids, batch_size, progress)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def predict_logits_ids(model, tokenizer, ids, batch_size=64, progress=False) -> np.ndarray:
    """Logits [n, num_labels] for texts already encoded. model: a torch model or a runner (model/runners.py).
    Texts are sorted by length so each batch pads to a similar length (dynamic padding), then the rows are
    put back in input order."""
    runner = as_runner(model)
    if not ids:
        return np.zeros((0, runner.num_labels), dtype=np.float32)
    if runner.one_row_at_a_time:  # its output would depend on the batch: see model/runners.py
        batch_size = 1
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    logits = np.zeros((len(ids), runner.num_labels), dtype=np.float32)
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="tagging", unit="batch", disable=not progress, leave=False):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="np")
        logits[rows] = runner(batch["input_ids"], batch["attention_mask"])
    return logits


def as_runner(model):
    """A runner as is; a torch model (the training loop's) wrapped in a TorchRunner."""
    if hasattr(model, "one_row_at_a_time"):
        return model
    from casus.model.runners import TorchRunner

    return TorchRunner(model)
