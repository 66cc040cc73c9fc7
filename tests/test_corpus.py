"""The shipped corpus: size, label mix, and no leakage between train, dev and test."""
import json
from collections import Counter

import pytest

from casus.data.build_corpus import LINK_THRESHOLD
from casus.data.corpus import CORPUS_DIR, SPLITS, corpus_file
from casus.data.dedup import near_duplicate_pairs, normalize
from casus.data.labels import LABELS
from casus.data.loaders import load_examples


@pytest.fixture(scope="module")
def splits():
    return {split: load_examples(corpus_file(split)) for split in SPLITS}


@pytest.fixture(scope="module")
def documents():
    with open(CORPUS_DIR / "documents.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_size_and_label_mix(splits, documents):
    every = [ex for examples in splits.values() for ex in examples]
    counts = Counter(ex.label for ex in every)
    assert len(every) >= 4000 and len(documents) >= 400
    for label in ("threat", "condemnation", "military_action"):
        assert counts[label] >= 600, (label, counts[label])
    assert set(counts) == set(LABELS)
    for split, examples in splits.items():
        assert set(ex.label for ex in examples) == set(LABELS), f"{split} lacks a label"


def test_documents_belong_to_one_split(splits, documents):
    doc_split = {doc["doc_id"]: doc["split"] for doc in documents}
    assert len(doc_split) == len(documents)
    for split, examples in splits.items():
        ids = {ex.doc_id for ex in examples}
        assert all(doc_split[i] == split for i in ids), f"{split} holds sentences of other splits' documents"
    sentences = Counter(ex.doc_id for examples in splits.values() for ex in examples)
    assert all(sentences[doc["doc_id"]] == doc["sentences"] for doc in documents)


def test_no_sentence_or_near_duplicate_crosses_splits(splits):
    # at the build's linking threshold (0.5), stricter than the validator's near-duplicate one (0.8)
    texts = {split: [ex.text for ex in examples] for split, examples in splits.items()}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            pairs = near_duplicate_pairs(texts[a], texts[b], threshold=LINK_THRESHOLD)
            shown = [(texts[a][x], texts[b][y]) for x, y in pairs[:3]]
            assert not pairs, f"{len(pairs)} near-duplicates between {a} and {b}, e.g. {shown}"


def test_no_exact_repeats_anywhere(splits):
    keys = Counter(normalize(ex.text) for examples in splits.values() for ex in examples)
    assert [k for k, n in keys.items() if n > 1] == []


def test_documents_resplit_into_their_own_sentences(splits):
    """tag_article's splitter, run on each test document's text, finds the annotated sentences."""
    from casus.data.sentences import split_sentences

    docs = {}
    for ex in splits["test"]:
        docs.setdefault(ex.doc_id, []).append(ex.text)
    exact = sum(split_sentences(" ".join(sentences)) == sentences for sentences in docs.values())
    assert exact / len(docs) >= 0.98, f"only {exact} of {len(docs)} documents split exactly"


def test_split_is_a_deterministic_function_of_the_documents(splits, documents):
    """Re-running the build's split assignment on the shipped documents gives the shipped splits."""
    from casus.data.build_corpus import SPLIT_SEED, assign_splits, linked_groups

    sentences = {}
    for examples in splits.values():
        for ex in examples:
            sentences.setdefault(ex.doc_id, []).append({"text": ex.text, "label": ex.label})
    docs = [{"doc_id": doc["doc_id"], "sentences": sentences[doc["doc_id"]]} for doc in documents]
    assignment = assign_splits(linked_groups(docs, LINK_THRESHOLD), SPLIT_SEED)
    assert assignment == {doc["doc_id"]: doc["split"] for doc in documents}
