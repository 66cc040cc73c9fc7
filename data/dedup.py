"""Near-duplicate sentences: word-trigram Jaccard similarity, found through an inverted index.

Shared by the validator (data/check.py) and the corpus build, so both mean the same by "duplicate".
"""
import math
import re
from collections import Counter, defaultdict

DEFAULT_THRESHOLD = 0.8


def normalize(text: str) -> str:
    """Lower-case, every digit folded to 0, punctuation removed, spaces collapsed: "Killed 19." -> "killed 00"."""
    text = re.sub(r"\d", "0", text.lower())
    text = re.sub(r"[^\w\s]|_", "", text)
    return " ".join(text.split())


def shingles(text: str) -> set:
    """The word trigrams of the normalized text; a text under three words is one shingle of itself."""
    words = normalize(text).split()
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def near_duplicate_pairs(texts_a, texts_b=None, threshold=DEFAULT_THRESHOLD) -> list[tuple[int, int]]:
    """Sorted index pairs (i, j) where texts_a[i] and texts_b[j] have the same normalized text or a shingle
    Jaccard similarity >= threshold. With texts_b None, pairs within texts_a, i < j."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    within = texts_b is None
    norms_a = [normalize(t) for t in texts_a]
    norms_b = norms_a if within else [normalize(t) for t in texts_b]
    sets_a = [shingles(t) for t in texts_a]
    sets_b = sets_a if within else [shingles(t) for t in texts_b]

    # Prefix filter: with shingles ordered rarest first, two sets with Jaccard >= t always share a shingle
    # among the first |s| - ceil(t|s|) + 1 of each. So only those are indexed and probed, which keeps
    # boilerplate ("officials said on tuesday") from making every pair a candidate.
    frequency = Counter(shingle for shingle_set in sets_a + ([] if within else sets_b) for shingle in shingle_set)

    def prefix(shingle_set):
        ordered = sorted(shingle_set, key=lambda shingle: (frequency[shingle], shingle))
        return ordered[:len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1]

    prefixes_a = [prefix(s) for s in sets_a]
    prefixes_b = prefixes_a if within else [prefix(s) for s in sets_b]
    index = defaultdict(list)
    for j, shingle_prefix in enumerate(prefixes_b):
        for shingle in shingle_prefix:
            index[shingle].append(j)

    pairs = set()
    for i, shingle_prefix in enumerate(prefixes_a):
        candidates = {j for shingle in shingle_prefix for j in index[shingle] if not within or j > i}
        for j in candidates:
            overlap = len(sets_a[i] & sets_b[j])
            if overlap / (len(sets_a[i]) + len(sets_b[j]) - overlap) >= threshold:
                pairs.add((i, j))

    # Identical normalized texts count even with no shingle at all (a text that is only punctuation).
    by_norm = defaultdict(list)
    for j, norm in enumerate(norms_b):
        by_norm[norm].append(j)
    for i, norm in enumerate(norms_a):
        pairs.update((i, j) for j in by_norm[norm] if not within or j > i)
    return sorted(pairs)
