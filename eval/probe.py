"""Compare base encoders without fine-tuning them: a linear probe (frozen mean-pooled sentence embeddings
+ logistic regression) trained on one labelled file and scored on another.

    python -m casus.eval.probe --base-model mpnet      # real train -> real dev, as in README "all-mpnet-base-v2"

It says how much a base model's sentence embeddings already separate the four tags; it is not the
quality of a fine-tuned model. The regularisation C is chosen on the scoring file, so report the
probe for comparing encoders only."""
import argparse
import json
import sys
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from transformers import AutoModel, AutoTokenizer

from casus.data.corpus import real_file
from casus.data.loaders import DataError, load_examples
from casus.model.base import BaseModelMissing, resolve_base_model
from casus.model.checkpoint import CheckpointError

C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)


@torch.no_grad()
def embed(model, tokenizer, texts, batch_size=64, max_length=128) -> np.ndarray:
    """Mean-pooled, L2-normalised last hidden states (the sentence-transformers pooling of these models)."""
    order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        rows = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def probe(base_model, train_file, eval_file) -> dict:
    path, name = resolve_base_model(base_model)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    train, held = load_examples(train_file), load_examples(eval_file)
    started = time.time()
    x_train = embed(model, tokenizer, [ex.text for ex in train])
    seconds = time.time() - started
    x_held = embed(model, tokenizer, [ex.text for ex in held])
    y_train, y_held = [ex.label for ex in train], [ex.label for ex in held]
    scores = {}
    for c in C_GRID:
        clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x_train, y_train)
        scores[c] = float(f1_score(y_held, clf.predict(x_held), average="macro"))
    best = max(scores, key=scores.get)
    return {"base_model": name, "train": str(train_file), "eval": str(eval_file), "macro_f1": scores[best],
            "C": best, "macro_f1_by_C": scores, "embed_sentences_per_s": round(len(train) / seconds, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m casus.eval.probe", description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default="", help="minilm (default), mpnet, or a local model folder")
    parser.add_argument("--train", default=str(real_file("train")), help="labelled file to fit the probe on")
    parser.add_argument("--eval", default=str(real_file("dev")), help="labelled file to score it on")
    args = parser.parse_args(argv)
    try:
        result = probe(args.base_model, args.train, args.eval)
    except (DataError, BaseModelMissing, CheckpointError, OSError, ValueError) as err:
        print(f"python -m casus.eval.probe: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
