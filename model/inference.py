"""Batched prediction shared by the tagger and the training loop's dev evaluation."""
import numpy as np
import torch
from tqdm.auto import tqdm


def encode(tokenizer, texts, max_length):
    """Token ids per text, truncated to max_length, unpadded (padding happens per batch)."""
    if not texts:
        return []  # the tokenizer refuses an empty batch
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


@torch.inference_mode()
def predict_proba(model, tokenizer, texts, batch_size=64, max_length=128, progress=False) -> np.ndarray:
    """Class probabilities [n, num_labels] in the model's label order.

    Texts are sorted by length so each batch pads to a similar length (dynamic padding), then the rows
    are put back in input order."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, model.config.num_labels), dtype=np.float32)
    ids = encode(tokenizer, texts, max_length)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    device = next(model.parameters()).device
    probs = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="tagging", unit="batch", disable=not progress, leave=False):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt").to(device)
        logits = model(**batch).logits.float()
        probs[rows] = torch.softmax(logits, dim=-1).cpu().numpy()
    return probs
