"""The shipped real news (data/real): whole published documents, two annotations per sentence, split by
document with no leakage, and sentences that casus's own splitter reproduces."""
import json
from collections import Counter

import pytest

from casus.data.build_corpus import LINK_THRESHOLD
from casus.data.build_real import document_sentences, read_annotations, read_documents
from casus.data.corpus import REAL_DIR, SPLITS, real_file
from casus.data.dedup import near_duplicate_pairs
from casus.data.labels import LABELS
from casus.data.sentences import split_sentences

KINDS = {"wikinews", "wikipedia", "usgov"}


@pytest.fixture(scope="module")
def documents():
    return read_documents()


@pytest.fixture(scope="module")
def annotations():
    return read_annotations()


@pytest.fixture(scope="module")
def splits():
    out = {}
    for split in SPLITS:
        with open(real_file(split), encoding="utf-8") as f:
            out[split] = [json.loads(line) for line in f]
    return out


def test_size_label_mix_and_test_split(splits):
    every = [row for rows in splits.values() for row in rows]
    assert len(every) >= 2500
    assert len(splits["test"]) >= 800
    counts = Counter(row["label"] for row in every)
    assert counts["background"] / len(every) > 0.6, "real news is mostly background"
    for split, rows in splits.items():
        assert {row["label"] for row in rows} == set(LABELS), f"{split} lacks a label"


def test_every_document_has_provenance(documents):
    for doc in documents:
        assert doc["kind"] in KINDS
        assert doc["url"].startswith("https://"), doc["doc_id"]
        assert doc["licence"] in ("CC BY 2.5", "CC BY-SA 4.0", "public domain (US government work)"), doc["doc_id"]
        assert doc["split"] in SPLITS and doc["text"].strip()
    assert len({doc["doc_id"] for doc in documents}) == len(documents)


def test_the_splitter_gives_back_the_annotated_sentences(documents, splits):
    """What casus tags at run time (tag_article) is exactly what the annotators labelled."""
    by_doc = {}
    for rows in splits.values():
        for row in rows:
            by_doc.setdefault(row["doc_id"], []).append((row["position"], row["text"]))
    for doc in documents:
        assert [text for _, text in sorted(by_doc[doc["doc_id"]])] == split_sentences(doc["text"]), doc["doc_id"]


def test_two_annotations_per_sentence_and_a_final_label(annotations, splits):
    rows = [row for rows in splits.values() for row in rows]
    assert len(annotations) == len(rows)
    for row in rows:
        a = annotations[(row["doc_id"], row["position"])]
        assert {a["annotator_a"], a["annotator_b"], a["label"]} <= set(LABELS)
        assert a["label"] == row["label"]
        if a["annotator_a"] == a["annotator_b"]:
            assert a["label"] == a["annotator_a"], "agreed labels are kept"


def test_documents_stay_whole_and_nothing_leaks_across_splits(documents, splits):
    doc_split = {doc["doc_id"]: doc["split"] for doc in documents}
    for split, rows in splits.items():
        assert {doc_split[row["doc_id"]] for row in rows} == {split}
    texts = {split: [row["text"] for row in rows] for split, rows in splits.items()}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            pairs = near_duplicate_pairs(texts[a], texts[b], threshold=LINK_THRESHOLD)
            assert not pairs, f"near-duplicates between {a} and {b}: {[(texts[a][x], texts[b][y]) for x, y in pairs[:2]]}"


def test_split_files_are_rebuilt_from_documents_and_annotations(documents, annotations, splits, tmp_path):
    from casus.data.build_real import write_splits

    docs = document_sentences([dict(doc) for doc in documents], annotations)
    write_splits(docs, tmp_path)
    for split in SPLITS:
        assert (tmp_path / f"{split}.jsonl").read_text(encoding="utf-8") == real_file(split).read_text(encoding="utf-8")


def test_every_kind_is_in_the_test_split(splits):
    assert {row["kind"] for row in splits["test"]} == KINDS


def test_data_card_exists():
    card = (REAL_DIR / "README.md").read_text(encoding="utf-8")
    assert "kappa" in card.lower() and "licence" in card.lower()
