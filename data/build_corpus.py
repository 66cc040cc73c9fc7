"""Build the shipped corpus from authored documents: validate, drop repeats, split by document.

    python -m casus.data.build_corpus DRAFT.jsonl [...]   # one document per line, see data/corpus/README.md

Documents that share a near-duplicate sentence are kept together in one split, so no sentence or
near-duplicate crosses train/dev/test. The split is a deterministic function of the documents."""
import argparse
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

from casus.data.corpus import CORPUS_DIR, SPLITS
from casus.data.dedup import near_duplicate_pairs, normalize
from casus.data.labels import normalize_label

SPLIT_SHARES = {"train": 0.8, "dev": 0.1, "test": 0.1}
# Looser than the validator's near-duplicate threshold (0.8): documents that merely share a stock
# phrase ("designated a foreign terrorist organisation") also stay together.
LINK_THRESHOLD = 0.5
SPLIT_SEED = "casus-corpus-v1"
DOC_FIELDS = ("doc_id", "headline", "dateline", "conflict", "region", "year", "actor_types")


def read_documents(paths):
    docs, seen_ids = [], set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                doc = json.loads(line)
                if doc["doc_id"] in seen_ids:
                    raise ValueError(f"{path}:{n}: doc_id {doc['doc_id']} appears twice")
                seen_ids.add(doc["doc_id"])
                for s in doc["sentences"]:
                    s["label"] = normalize_label(s["label"])
                    s["text"] = " ".join(s["text"].split())
                docs.append(doc)
    return docs


def drop_exact_repeats(docs):
    """Keep the first occurrence of each normalized sentence; report what went."""
    seen, dropped = set(), []
    for doc in docs:
        kept = []
        for s in doc["sentences"]:
            key = normalize(s["text"])
            if key in seen:
                dropped.append((doc["doc_id"], s["text"]))
            else:
                seen.add(key)
                kept.append(s)
        doc["sentences"] = kept
    return dropped


def linked_groups(docs, threshold):
    """Union-find over documents joined by a near-duplicate sentence pair."""
    owner = [i for i, doc in enumerate(docs) for _ in doc["sentences"]]
    texts = [s["text"] for doc in docs for s in doc["sentences"]]
    parent = list(range(len(docs)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in near_duplicate_pairs(texts, threshold=threshold):
        parent[find(owner[a])] = find(owner[b])
    groups = defaultdict(list)
    for i in range(len(docs)):
        groups[find(i)].append(docs[i])
    return list(groups.values())


def assign_splits(groups, seed):
    """Within each writer batch (doc_id prefix), walk the groups in a seeded hash order and give each to
    the split furthest below its share of sentences: balanced splits with every region in each."""
    def stable_hash(group):
        key = seed + "|" + ",".join(sorted(d["doc_id"] for d in group))
        return hashlib.sha256(key.encode()).hexdigest()

    by_batch = defaultdict(list)
    for group in groups:
        by_batch[group[0]["doc_id"].split("-")[0]].append(group)
    assignment = {}
    for batch in sorted(by_batch):
        filled = Counter()
        for group in sorted(by_batch[batch], key=stable_hash):
            size = sum(len(d["sentences"]) for d in group)
            total = sum(filled.values()) + size
            split = max(SPLITS, key=lambda s: SPLIT_SHARES[s] * total - filled[s])
            filled[split] += size
            for doc in group:
                assignment[doc["doc_id"]] = split
    return assignment


def write_corpus(docs, assignment, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {split: open(out_dir / f"{split}.jsonl", "w", encoding="utf-8") for split in SPLITS}
    with open(out_dir / "documents.jsonl", "w", encoding="utf-8") as doc_file:
        for doc in sorted(docs, key=lambda d: d["doc_id"]):
            split = assignment[doc["doc_id"]]
            meta = {k: doc[k] for k in DOC_FIELDS if k in doc}
            doc_file.write(json.dumps({**meta, "split": split, "sentences": len(doc["sentences"])},
                                      ensure_ascii=False) + "\n")
            for position, s in enumerate(doc["sentences"]):
                row = {"text": s["text"], "label": s["label"], "doc_id": doc["doc_id"], "position": position}
                if s.get("hard"):
                    row["hard"] = s["hard"]
                files[split].write(json.dumps(row, ensure_ascii=False) + "\n")
    for f in files.values():
        f.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drafts", nargs="+", type=Path)
    parser.add_argument("--out-dir", type=Path, default=CORPUS_DIR)
    parser.add_argument("--threshold", type=float, default=LINK_THRESHOLD,
                        help="word-trigram Jaccard at which two documents are kept in one split")
    parser.add_argument("--seed", default=SPLIT_SEED)
    args = parser.parse_args(argv)

    docs = read_documents(args.drafts)
    dropped = drop_exact_repeats(docs)
    groups = linked_groups(docs, args.threshold)
    assignment = assign_splits(groups, args.seed)
    write_corpus(docs, assignment, args.out_dir)

    print(f"{len(docs)} documents, {sum(len(d['sentences']) for d in docs)} sentences; "
          f"{len(dropped)} exact repeats dropped; {sum(len(g) > 1 for g in groups)} linked document groups")
    table = defaultdict(Counter)
    for doc in docs:
        for s in doc["sentences"]:
            table[assignment[doc["doc_id"]]][s["label"]] += 1
    for split in SPLITS:
        docs_in = sum(assignment[d["doc_id"]] == split for d in docs)
        print(f"{split:5s} docs {docs_in:4d}  " + "  ".join(f"{k} {v}" for k, v in sorted(table[split].items())))


if __name__ == "__main__":
    main()
