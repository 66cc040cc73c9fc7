"""Build the real-news splits from whole published documents and their two annotations.

    python -m casus.data.build_real            # data/real/documents.jsonl + annotations.tsv -> {train,dev,test}.jsonl

documents.jsonl holds one published document per line (its text, source, URL, licence and split);
annotations.tsv holds, per sentence, both annotators' labels and the adjudicated one. Sentences are the
splitter's (data/sentences.py) on the document text, so what casus tags at run time is what was labelled.
A document without a split gets one: documents sharing a near-duplicate sentence are linked, then
each kind of text is dealt to train, dev and test in a seeded order by sentence share."""
import argparse
import csv
import hashlib
import json
from collections import Counter, defaultdict

import numpy as np

from casus.data.build_corpus import LINK_THRESHOLD, linked_groups
from casus.data.corpus import REAL_DIR, SPLITS
from casus.data.labels import LABELS, normalize_label
from casus.data.sentences import split_sentences

SPLIT_SHARES = {"train": 0.55, "dev": 0.17, "test": 0.28}
SPLIT_SEED = "casus-real-v1"
ANNOTATION_FIELDS = ("doc_id", "position", "annotator_a", "annotator_b", "label")


def read_documents(path=None):
    with open(path or REAL_DIR / "documents.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_annotations(path=None) -> dict:
    """{(doc_id, position): row} from annotations.tsv."""
    with open(path or REAL_DIR / "annotations.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {(row["doc_id"], int(row["position"])): row for row in rows}


def document_sentences(docs, annotations):
    """Each document with its sentences (text and adjudicated label); every sentence must be annotated
    and every annotation must belong to a sentence."""
    seen = set()
    for doc in docs:
        doc["sentences"] = []
        for position, text in enumerate(split_sentences(doc["text"])):
            key = (doc["doc_id"], position)
            if key not in annotations:
                raise ValueError(f"{doc['doc_id']} sentence {position} has no annotation: {text[:60]!r}")
            seen.add(key)
            doc["sentences"].append({"text": text, "label": normalize_label(annotations[key]["label"])})
    extra = sorted(set(annotations) - seen)
    if extra:
        raise ValueError(f"{len(extra)} annotations match no sentence, e.g. {extra[0]}")
    return docs


def assign_splits(docs, seed=SPLIT_SEED, threshold=LINK_THRESHOLD):
    """Give every document without a split one, keeping linked documents together, kind by kind."""
    fixed = {doc["doc_id"]: doc["split"] for doc in docs if doc.get("split")}
    filled = defaultdict(Counter)
    for doc in docs:
        if doc["doc_id"] in fixed:
            filled[doc["kind"]][fixed[doc["doc_id"]]] += len(doc["sentences"])

    def stable_hash(group):
        return hashlib.sha256((seed + "|" + ",".join(sorted(d["doc_id"] for d in group))).encode()).hexdigest()

    for group in sorted(linked_groups(docs, threshold), key=stable_hash):
        known = {fixed[d["doc_id"]] for d in group if d["doc_id"] in fixed}
        if len(known) > 1:
            raise ValueError(f"linked documents sit in different splits: {sorted(d['doc_id'] for d in group)}")
        kind = group[0]["kind"]
        size = sum(len(d["sentences"]) for d in group)
        if known:
            split = known.pop()
        else:
            total = sum(filled[kind].values()) + size
            split = max(SPLITS, key=lambda s: SPLIT_SHARES[s] * total - filled[kind][s])
        for doc in group:
            if doc["doc_id"] not in fixed:
                filled[kind][split] += len(doc["sentences"])
            doc["split"] = split
    return docs


def write_splits(docs, out_dir=REAL_DIR):
    files = {split: open(out_dir / f"{split}.jsonl", "w", encoding="utf-8") for split in SPLITS}
    for doc in sorted(docs, key=lambda d: d["doc_id"]):
        for position, s in enumerate(doc["sentences"]):
            row = {"text": s["text"], "label": s["label"], "doc_id": doc["doc_id"], "position": position,
                   "kind": doc["kind"]}
            files[doc["split"]].write(json.dumps(row, ensure_ascii=False) + "\n")
    for f in files.values():
        f.close()


def write_documents(docs, path):
    keep = ("doc_id", "kind", "split", "title", "date", "url", "licence", "origin_repo", "origin_path", "text")
    with open(path, "w", encoding="utf-8") as f:
        for doc in sorted(docs, key=lambda d: d["doc_id"]):
            f.write(json.dumps({k: doc.get(k) for k in keep}, ensure_ascii=False) + "\n")


def agreement(annotations) -> dict:
    """Cohen's kappa between the two annotators, overall and per label (that label against the rest),
    and how often each agreed with the adjudicated label."""
    from sklearn.metrics import cohen_kappa_score

    rows = list(annotations.values())
    a = np.array([normalize_label(r["annotator_a"]) for r in rows])
    b = np.array([normalize_label(r["annotator_b"]) for r in rows])
    final = np.array([normalize_label(r["label"]) for r in rows])
    return {
        "sentences": len(rows),
        "raw_agreement": float((a == b).mean()),
        "kappa": float(cohen_kappa_score(a, b)),
        "kappa_per_label": {label: float(cohen_kappa_score(a == label, b == label)) for label in LABELS},
        "disagreements": int((a != b).sum()),
        "a_matches_adjudicated": float((a == final).mean()),
        "b_matches_adjudicated": float((b == final).mean()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    docs = document_sentences(read_documents(), read_annotations())
    assign_splits(docs)
    write_documents(docs, REAL_DIR / "documents.jsonl")
    write_splits(docs)
    table = defaultdict(Counter)
    for doc in docs:
        for s in doc["sentences"]:
            table[(doc["split"], doc["kind"])][s["label"]] += 1
    for (split, kind), counts in sorted(table.items()):
        print(f"{split:5s} {kind:10s} {sum(counts.values()):5d}  " + "  ".join(f"{k} {counts[k]}" for k in LABELS))
    print(json.dumps(agreement(read_annotations()), indent=2))


if __name__ == "__main__":
    main()
