"""data/sentences.py: the rule-based splitter, on the shipped article and on each rule."""
import random

import pytest

from casus.data.sentences import split_sentences, split_sentences_with_offsets
from conftest import shared_file



@pytest.fixture(scope="module")
def article_sentences():
    return split_sentences(shared_file("examples/article.txt").read_text(encoding="utf-8"))


def test_article_splits_into_19_sentences(article_sentences):
    assert len(article_sentences) == 19


def test_article_boundaries(article_sentences):
    s = article_sentences
    assert s[0] == ("An Iranian-backed militia has vowed to exact revenge for the "
                    "“aggression of evil American ravens”.")
    # the "Our battle" paragraph: quote plus attribution, then the second quote alone
    assert s[4] == ("“Our battle with America and its mercenaries is now open to all possibilities,” "
                    "Kataeb Hezbollah said in a statement.")
    assert s[5] == ("“We have no alternative today other than confrontation and there is nothing that will prevent "
                    "us from responding to this crime.”")
    assert s[6].endswith("near Kirkuk, in northern Iraq.")
    assert s[7] == "Officials said as many as 30 rockets were fired in that attack."
    assert s[11] == ("But Kataeb Hezbollah spokesman Mohammed Mohieh told The Associated Press "
                     "that the death toll rose to 25.")
    assert s[12].startswith("At least 51 militiamen were wounded")
    assert s[17].startswith("In 2009, the State Department linked him")
    assert s[-1].startswith("The US maintains some 5,000 troops in Iraq")


def test_article_words_survive_in_order(article_sentences):
    article = shared_file("examples/article.txt").read_text(encoding="utf-8")
    assert " ".join(article_sentences).split() == article.split()


@pytest.mark.parametrize("text", [
    '"We will respond," the group said.',
    "“Our battle is now open to all possibilities,” Kataeb Hezbollah said in a statement.",
    "'We will not back down,' the commander told reporters.",
    '"Who will stop us?" the commander asked.',
    "“Who will stop us?” Soleimani asked.",
    "“Is this justice?” Kataeb Hezbollah spokesman Mohammed Mohieh asked.",
    '"Enough!" the protesters chanted.',
])
def test_quote_and_attribution_stay_one_sentence(text):
    assert split_sentences(text) == [text]


@pytest.mark.parametrize("text, expected", [
    ('"We will respond." The group gave no details.', ['"We will respond."', "The group gave no details."]),
    ("“This is a crime.” Officials in Tehran agreed.", ["“This is a crime.”", "Officials in Tehran agreed."]),
    ("He said: 'It is over.' Then he left.", ["He said: 'It is over.'", "Then he left."]),
    # a quoted question followed by an ordinary new sentence, not an attribution
    ("“Why now?” The minister did not say.", ["“Why now?”", "The minister did not say."]),
])
def test_full_stop_inside_quote_then_capital_splits(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("text", [
    "The U.S. Army and the U.N. Security Council met Mr. Brown and Dr. Lee.",
    "Gen. Smith, Lt. Col. Jones and Sgt. Brown reported to Gov. Adams, Sen. Baker and Rep. Clark.",
    "They met at St. Peter's on Jan. 3, Feb. 4, Aug. 5, Sept. 6, Oct. 7, Nov. 8 and Dec. 9.",
    "Resolution No. 2334 passed, e.g. in the Council, i.e. without a veto, etc. as expected.",
    "It was Iraq vs. Iran at 9 a.m. and again at 5 p.m. Tuesday.",
    "George W. Bush met John F. Kennedy Jr. in a dream.",
    "The economy shrank 3.5 percent and prices rose 0.7 percent.",
])
def test_abbreviations_initials_and_decimals_do_not_split(text):
    assert split_sentences(text) == [text]


def test_dotted_abbreviation_can_end_a_sentence():
    assert split_sentences("The envoy flew back to the U.S. The talks collapsed.") == [
        "The envoy flew back to the U.S.", "The talks collapsed."]
    assert split_sentences("It was No. 1 on the list. No. The answer was no.") == [
        "It was No. 1 on the list.", "No.", "The answer was no."]


def test_question_and_exclamation_marks_end_sentences():
    assert split_sentences("Will they retaliate? Nobody knows! The talks resume Monday.") == [
        "Will they retaliate?", "Nobody knows!", "The talks resume Monday."]


def test_paragraphs_and_lines():
    text = "Militia vows revenge\n\nThe group said it\nwould respond.\nOfficials declined to comment.\n\n\nEnd."
    assert split_sentences(text) == [
        "Militia vows revenge",  # a paragraph always ends a sentence, even a headline with no full stop
        "The group said it would respond.",  # a line without terminal punctuation is a wrapped line
        "Officials declined to comment.",
        "End.",
    ]


def test_line_ending_with_punctuation_ends_sentence_even_before_lowercase():
    assert split_sentences("first line ends here.\nsecond line starts lower-case.") == [
        "first line ends here.", "second line starts lower-case."]


def test_curly_and_straight_quotes_behave_alike():
    straight = split_sentences('"We are ready." The army moved. "We will win," he said.')
    curly = split_sentences("“We are ready.” The army moved. “We will win,” he said.")
    assert len(straight) == len(curly) == 3
    assert [s.replace("“", '"').replace("”", '"') for s in curly] == straight


@pytest.mark.parametrize("text", [
    '"Our response began today. It will continue at times of our choosing," the ministry said.',
    "The spokesman warned Washington: “Do not rejoice. Our revenge will reach you.”",
])
def test_a_quotation_of_several_sentences_is_not_split_inside(text):
    assert split_sentences(text) == [text]


def test_an_unclosed_quote_does_not_swallow_the_paragraph():
    assert split_sentences("“The raid began at dawn. Nine died. The ministry said so.") == [
        "“The raid began at dawn.", "Nine died.", "The ministry said so."]


def test_whitespace_collapsed_and_empty_input():
    assert split_sentences("  The   strikes\t hit\u00a0five sites.   Nine died. ") == [
        "The strikes hit five sites.", "Nine died."]
    assert split_sentences("") == []
    assert split_sentences(" \n\n\t \n") == []


def test_lowercase_after_full_stop_does_not_split():
    assert split_sentences("The ceasefire held in the north. and in the south.") == [
        "The ceasefire held in the north. and in the south."]


PIECES = ["The", "U.S.", "said", "“We", "will", "respond,”", "Gen.", "Smith", "3.5", "percent.", "Why?",
          "No.", "2", "“It", "is", "over.”", "a.m.", "Officials", "Iraq’s", "rockets!", "(Reuters)", "e.g.",
          "\n", "\n\n", "  ", "...", "'", '"']


@pytest.mark.parametrize("seed", range(200))
def test_properties_on_random_text(seed):
    rng = random.Random(seed)
    text = " ".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
    sentences = split_sentences(text)
    assert all(s and s == s.strip() and "  " not in s and "\n" not in s for s in sentences)
    assert " ".join(sentences).split() == text.split()


# Real stories mix quotation marks, leave quotes open and carry subheads: cases seen in real wire copy.
@pytest.mark.parametrize("text", [
    "“We will not leave,\" the commander said.",
    "\"We will not leave,” the commander said.",
    "“Our patience has limits. The next strike will be ours,\" the ministry said.",
])
def test_mixed_straight_and_curly_quotes_pair(text):
    assert split_sentences(text) == [text]


def test_mixed_quotes_do_not_merge_the_sentences_around_them():
    text = ("The army said “we are ready\". Troops moved north on Monday. "
            "\"Nothing will stop us,” a spokesman said. Two villages were shelled.")
    assert split_sentences(text) == [
        "The army said “we are ready\".", "Troops moved north on Monday.",
        "\"Nothing will stop us,” a spokesman said.", "Two villages were shelled."]


def test_a_stray_straight_quote_does_not_swallow_the_paragraph():
    text = 'The raid began at dawn. A 5" shell hit the school. Nine died. The ministry said "so.'
    assert split_sentences(text) == [
        "The raid began at dawn.", 'A 5" shell hit the school.', "Nine died.", 'The ministry said "so.']


def test_an_unclosed_quote_carried_into_the_next_paragraph_is_one_unit():
    text = ("“We have buried our dead. We will not forget them.\n\n"
            "“The occupiers will pay,” the statement said.")
    assert split_sentences(text) == [
        "“We have buried our dead. We will not forget them.",
        "“The occupiers will pay,” the statement said."]


def test_subheads_are_not_glued_to_the_next_sentence():
    text = ("Strikes on the border\n"
            "Jets struck three villages overnight, the army said, in the heaviest raids this year.\n"
            "Reaction\n"
            "The foreign ministry condemned the raids.")
    assert split_sentences(text) == [
        "Strikes on the border",
        "Jets struck three villages overnight, the army said, in the heaviest raids this year.",
        "Reaction",
        "The foreign ministry condemned the raids."]


def test_hard_wrapped_lines_are_not_taken_for_subheads():
    text = ("The ministry said that troops from the northern command\n"
            "Had crossed the river before dawn and that two\n"
            "Villages near the border were now under army control.")
    assert split_sentences(text) == [" ".join(text.split())]


def test_a_long_text_without_paragraphs_splits_whole():
    sentence = '“We will respond,” the group said of the strikes on U.S. bases. Nine died. '
    text = sentence * 5000
    assert len(split_sentences(text)) == 10000


def test_a_quote_inside_a_quote_keeps_the_outer_quotation_whole():
    text = ('"The statement shows no understanding of the ground. The "United States" holds no detainees. '
            'They are all held by the SDF." McGurk wrote more later.')
    assert split_sentences(text) == [
        '"The statement shows no understanding of the ground. The "United States" holds no detainees. '
        'They are all held by the SDF."', "McGurk wrote more later."]


def test_offsets_point_back_into_the_text():
    rng = random.Random(0)
    pieces = ["The army", "shelled", "the U.S. base.", '"We will respond,"', "the group said.", "Talks", "end.",
              "“Quote.”", "Mr. Lee", "left?", "\n", "\n\n", "  ", "\t", "\u00a0", "\u2028", "\r\n", " \n \n "]
    texts = ["", " \n ", "One.", "  Lead-in space.  Two.\n\nThree"]
    texts += [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(300)]
    texts.append(shared_file("examples/article.txt").read_text(encoding="utf-8"))
    for text in texts:
        spans = split_sentences_with_offsets(text)
        assert [s for s, _, _ in spans] == split_sentences(text)
        for sentence, start, end in spans:
            assert " ".join(text[start:end].split()) == sentence
            assert text[start:end] == text[start:end].strip()
        assert all(a[2] <= b[1] for a, b in zip(spans, spans[1:]))


# ---- properties (hypothesis): for any text, not only the cases above -----------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Pieces the rules look at (terminal punctuation, quotes of both kinds, abbreviations, initials, line and
# paragraph breaks, odd Unicode spaces), mixed with any text at all
PIECES = ["The", "army", "said", "Mr.", "U.S.", "No.", "2", "etc.", "Inc.", "W.", ".", "?", "!", "...", ",", '"',
          "“", "”", "'", "‘", "’", "(", ")", "[", "]", " ", "  ", "\n", "\n\n", "\n \n", "\t", "\r\n", "\u00a0",
          "\u2028", "\u2029", "\x0b", "\x1c", "\u3000"]
article_like = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=60).map("".join)


@settings(max_examples=100, deadline=None)  # no deadline: time is never asserted (a busy machine)
@given(article_like)
def test_any_text_splits_into_its_words_in_order_with_true_offsets(text):
    spans = split_sentences_with_offsets(text)
    sentences = [sentence for sentence, _, _ in spans]
    assert sentences == split_sentences(text)
    # non-empty, whitespace collapsed, and no word lost, added or moved
    assert all(sentence and sentence == " ".join(sentence.split()) for sentence in sentences)
    assert " ".join(sentences).split() == text.split()
    # the offsets point at each sentence, in order, without overlap
    previous_end = 0
    for sentence, start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert " ".join(text[start:end].split()) == sentence
        previous_end = end
