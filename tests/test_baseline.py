import numpy as np
import pytest

from casus.data.labels import LABELS
from casus.eval.baseline import TfidfBaseline

# Each label has its own vocabulary, so a working baseline separates them; a swapped column would show.
TRAIN = {
    "threat": ["The militia vowed revenge and warned of a heavy price.",
               "Officials threatened retaliation if the ultimatum is ignored.",
               "The group warned it will strike back and vowed revenge."],
    "condemnation": ["The ministry condemned the attack and denounced the government.",
                     "Leaders condemned the killings as a crime.",
                     "The embassy denounced and condemned the decision."],
    "military_action": ["Air strikes hit the town and shelling killed five.",
                        "Rockets and shelling struck the border post.",
                        "Troops launched air strikes on the base."],
    "background": ["The talks resumed in Geneva on Monday.",
                   "The country held elections last year.",
                   "Diplomats met in Geneva to discuss trade."],
}


def training_data(labels=LABELS):
    texts = [text for label in labels for text in TRAIN[label]]
    return texts, [label for label in labels for _ in TRAIN[label]]


def test_probabilities_come_in_labels_order():
    baseline = TfidfBaseline().fit(*training_data())
    probs = baseline.predict_proba([
        "They vowed revenge.", "She condemned the attack.", "Shelling and air strikes.", "Talks in Geneva."])
    assert probs.shape == (4, 4)
    assert np.allclose(probs.sum(axis=1), 1)
    assert [LABELS[i] for i in probs.argmax(axis=1)] == list(LABELS)


def test_a_label_missing_from_training_gets_a_zero_column():
    labels = ("threat", "military_action", "background")  # no condemnation
    baseline = TfidfBaseline().fit(*training_data(labels))
    probs = baseline.predict_proba(["They vowed revenge.", "Air strikes and shelling.", "Talks in Geneva.",
                                    "She condemned the attack."])
    assert np.all(probs[:, LABELS.index("condemnation")] == 0)
    assert np.allclose(probs.sum(axis=1), 1)
    assert [LABELS[i] for i in probs.argmax(axis=1)[:3]] == list(labels)


def test_accepts_label_variants():
    texts, labels = training_data()
    baseline = TfidfBaseline().fit(texts, [label.upper() for label in labels])
    assert LABELS[baseline.predict_proba(["Rockets struck."]).argmax()] == "military_action"


def test_refuses_a_single_label_or_an_unknown_one():
    with pytest.raises(ValueError, match="at least two labels"):
        TfidfBaseline().fit(["a b", "c d"], ["threat", "threat"])
    with pytest.raises(ValueError, match="unknown label"):
        TfidfBaseline().fit(["a b", "c d"], ["threat", "sanction"])
