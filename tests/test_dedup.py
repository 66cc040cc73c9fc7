"""data/dedup.py: normalization and trigram-Jaccard near-duplicates, on small and realistic sizes."""
import random
from itertools import combinations, product

import pytest

from casus.data.dedup import near_duplicate_pairs, normalize, shingles


def test_normalize():
    assert normalize("  Rockets HIT the base; 19 killed, 3.5% hurt!  ") == "rockets hit the base 00 killed 00 hurt"
    assert normalize("“U.S.-backed” al_Muhandis’s\tforces") == "usbacked almuhandiss forces"
    assert normalize("...!?") == ""


def test_shingles():
    assert shingles("The militia vowed revenge.") == {("the", "militia", "vowed"), ("militia", "vowed", "revenge")}
    assert shingles("Two words") == {("two", "words")}
    assert shingles("!!") == set()


BASE = "the militia vowed to exact revenge for the strikes on its bases in western iraq"


def test_within_one_list_finds_near_and_exact_duplicates():
    texts = [
        BASE,
        "A drone attack set a fuel depot on fire outside the city.",
        BASE.upper() + "!",  # identical once normalized
        BASE.replace("western", "northern"),  # 11 of 13 trigrams kept: Jaccard 11/15 = 0.73
        BASE + " and syria",  # two words added: Jaccard 13/15 = 0.87
        "Talks ended without agreement.",
    ]
    assert near_duplicate_pairs(texts) == [(0, 2), (0, 4), (2, 4)]
    # the two edited variants share only 11 trigrams: 11/17 = 0.65, below even 0.7
    assert near_duplicate_pairs(texts, threshold=0.7) == [(0, 2), (0, 3), (0, 4), (2, 3), (2, 4)]


def test_across_two_lists_pairs_index_a_then_b():
    a = ["Talks ended without agreement in Geneva on Friday.", BASE]
    b = [BASE + ".", "Something else entirely happened today.", "talks ended without agreement in geneva on friday"]
    assert near_duplicate_pairs(a, b) == [(0, 2), (1, 0)]
    assert near_duplicate_pairs(b, a) == [(0, 1), (2, 0)]


def test_identical_normalized_texts_match_even_without_shingles():
    assert near_duplicate_pairs(["Yes.", "yes!", "No."]) == [(0, 1)]
    assert near_duplicate_pairs(["...", "!!"]) == [(0, 1)]


def test_no_self_pairs_and_i_below_j():
    pairs = near_duplicate_pairs([BASE] * 4)
    assert pairs == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_empty_inputs():
    assert near_duplicate_pairs([]) == []
    assert near_duplicate_pairs([BASE], []) == []


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
def test_threshold_out_of_range(threshold):
    with pytest.raises(ValueError, match="threshold"):
        near_duplicate_pairs([BASE], threshold=threshold)


def _brute_force(texts_a, texts_b, threshold):
    if texts_b is None:
        pairs, texts_b = combinations(range(len(texts_a)), 2), texts_a
    else:
        pairs = product(range(len(texts_a)), range(len(texts_b)))
    found = []
    for i, j in pairs:
        x, y = shingles(texts_a[i]), shingles(texts_b[j])
        same = normalize(texts_a[i]) == normalize(texts_b[j])
        if same or (x | y and len(x & y) / len(x | y) >= threshold):
            found.append((i, j))
    return found


def _variants(rng, n):
    words = "the army militia said strikes killed two five rockets near base city talks on friday".split()
    seeds = [[rng.choice(words) for _ in range(rng.randint(1, 12))] for _ in range(8)]
    texts = []
    for _ in range(n):
        text = list(rng.choice(seeds))
        for _ in range(rng.randint(0, 2)):  # small edits make near-duplicates at every similarity
            text.insert(rng.randint(0, len(text)), rng.choice(words))
        texts.append(" ".join(text))
    return texts


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("threshold", [0.5, 0.8, 1.0])
def test_agrees_with_brute_force(seed, threshold):
    rng = random.Random(seed)
    a, b = _variants(rng, 40), _variants(rng, 30)
    assert near_duplicate_pairs(a, threshold=threshold) == _brute_force(a, None, threshold)
    assert near_duplicate_pairs(a, b, threshold=threshold) == _brute_force(a, b, threshold)


def test_5000_by_5000_with_boilerplate_finds_exactly_the_planted_pairs():
    rng = random.Random(0)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(3000)]  # no digits: they fold

    def sentence():
        # shared boilerplate makes some shingles very common, the case a plain inverted index is slow on
        return "officials in the capital said on tuesday that " + " ".join(rng.choices(vocabulary, k=18))

    a, b = [sentence() for _ in range(5000)], [sentence() for _ in range(5000)]
    b[123] = a[45].upper()
    b[4000] = a[7] + " again"
    assert near_duplicate_pairs(a, b) == [(7, 4000), (45, 123)]
