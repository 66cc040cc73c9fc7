"""Batched prediction shared by the tagger and the training loop's dev evaluation."""
import numpy as np
import torch
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
    return torch.softmax(torch.from_numpy(logits), dim=-1).numpy()


@torch.inference_mode()
def predict_logits_ids(model, tokenizer, ids, batch_size=64, progress=False) -> np.ndarray:
    """Logits [n, num_labels] for texts already encoded. Texts are sorted by length so each batch pads to
    a similar length (dynamic padding), then the rows are put back in input order."""
    if not ids:
        return np.zeros((0, model.config.num_labels), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    device = next(model.parameters()).device
    logits = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="tagging", unit="batch", disable=not progress, leave=False):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt").to(device)
        logits[rows] = model(**batch).logits.float().cpu().numpy()
    return logits
