"""A rule-based sentence splitter for English news text: no model, no download.

A quotation and its attribution stay one sentence, as the guidelines (shared/spec/labels.md) ask:
    "We will respond," the group said.
A quotation of several sentences is not split inside: its attribution belongs to all of it.
Blank lines always end a sentence; a single newline ends one only where the line ends with
terminal punctuation (otherwise it is a wrapped line and is read as a space).
"""
import re

# A possible boundary: terminal punctuation, any closing quotes or brackets, then whitespace and what
# could start a sentence (opening quotes or brackets, then a capital letter or a digit).
_CANDIDATE = re.compile(r"""[.?!]+["”’')\]]*(?=\s+["“‘'(\[]*[A-Z0-9])""")
_LINE_END = re.compile(r"""[.?!]+["”’')\]]*$""")
_CLOSING_QUOTES = "\"”’'"

# Abbreviations that never end a sentence: titles, months, Latin shorthands.
_NEVER_FINAL = {
    "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Gen.", "Lt.", "Col.", "Maj.", "Capt.", "Cmdr.", "Adm.", "Sgt.",
    "Cpl.", "Pvt.", "Gov.", "Sen.", "Rep.", "Rev.", "Hon.", "Pres.", "St.", "Mt.", "Ft.",
    "Jan.", "Feb.", "Mar.", "Apr.", "Aug.", "Sept.", "Sep.", "Oct.", "Nov.", "Dec.",
    "e.g.", "i.e.", "vs.", "cf.", "approx.",
}
# Abbreviations that usually sit inside a sentence but can end one ("... troops left the U.S. The ...").
# Initials and dotted acronyms (George W. Bush, U.S., U.N.) are recognised by shape and treated the same way.
_MAYBE_FINAL = {"etc.", "a.m.", "p.m.", "Inc.", "Corp.", "Ltd.", "Co.", "Jr.", "Sr."}
_INITIALS = re.compile(r"(?:[A-Z]\.)+")

# After an abbreviation that may end a sentence, only these words are taken as the start of a new one:
# a capitalised name ("the U.S. Army", "George W. Bush") is far more often part of the same sentence.
_SENTENCE_STARTERS = {
    "A", "An", "The", "He", "She", "It", "They", "We", "I", "You", "His", "Her", "Its", "Their", "Our",
    "This", "That", "These", "Those", "There", "But", "And", "Yet", "So", "In", "On", "At", "After", "Before",
    "When", "While", "As", "If", "Meanwhile", "However", "Officials", "Some", "Many", "No",
}

# "Who will stop us?" Soleimani asked.  A quote ending in ? or ! followed by a capitalised name and a
# speech verb within a few words is an attribution, not a new sentence.
# The words before the verb may be initials but must not end a sentence of their own.
_ATTRIBUTION = re.compile(
    r"\s+(?:(?:[A-Z]\.)+\s+|\S*[^\s.?!]\s+){0,5}?"
    r"(?:said|says|asked|asks|told|added|adds|wrote|writes|shouted|chanted|declared|warned|replied|tweeted|"
    r"insisted|wondered|cried)\b")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, whitespace collapsed, in order. Empty or blank text gives []."""
    sentences = []
    for block in _blocks(text):
        sentences.extend(_split_block(" ".join(block.split())))
    return sentences


def _blocks(text):
    """Stretches of text that no sentence crosses: paragraphs, and lines that end a sentence."""
    lines = []
    for line in text.splitlines():
        if not line.strip():  # blank line: paragraph break
            if lines:
                yield " ".join(lines)
            lines = []
            continue
        lines.append(line)
        if _LINE_END.search(line.rstrip()):
            yield " ".join(lines)
            lines = []
    if lines:
        yield " ".join(lines)


def _quote_spans(block):
    """(open, close) offsets of each quotation: curly quotes pair by direction, straight double quotes in
    order of appearance. An unclosed quote makes no span, so a stray mark cannot swallow a paragraph."""
    spans, open_at = [], None
    for i, c in enumerate(block):
        if c == "“":
            open_at = i
        elif c == "”" and open_at is not None:
            spans.append((open_at, i))
            open_at = None
    straight = [i for i, c in enumerate(block) if c == '"']
    spans += list(zip(straight[0::2], straight[1::2]))
    return spans


def _split_block(block):
    sentences, start = [], 0
    spans = _quote_spans(block)
    for match in _CANDIDATE.finditer(block):
        if any(a < match.start() and b >= match.end() for a, b in spans):
            continue  # inside a quotation that closes later
        if _is_boundary(block, match):
            sentences.append(block[start:match.end()].strip())
            start = match.end()
    rest = block[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _is_boundary(block, match):
    """Whether the candidate `match` really ends a sentence, judged by the words on either side."""
    punct = match.group().rstrip(_CLOSING_QUOTES + ")]")
    quoted = any(c in _CLOSING_QUOTES for c in match.group()[len(punct):])
    following = block[match.end():]
    next_word = following.split(maxsplit=1)[0].lstrip("\"“‘'([").rstrip(",;:.?!\"”’')]")

    if "?" in punct or "!" in punct:
        return not (quoted and next_word not in _SENTENCE_STARTERS and _ATTRIBUTION.match(following))
    if quoted:  # `... respond." The group ...`: a full stop inside the quote ends the sentence
        return True

    word = (block[:match.start()].split() or [""])[-1].lstrip("\"“‘'([") + punct
    if word in _NEVER_FINAL:
        return False
    if word == "No.":  # "No. 2" is a number; "No. The ..." is an answer
        return not next_word[:1].isdigit()
    if word in _MAYBE_FINAL or _INITIALS.fullmatch(word):
        return next_word in _SENTENCE_STARTERS
    return True
