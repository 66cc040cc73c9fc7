"""A rule-based sentence splitter for English news text: no model, no download.

A quotation and its attribution stay one sentence, as the guidelines (shared/spec/labels.md) ask:
    "We will respond," the group said.
A quotation of several sentences is one unit (guidelines v2): its attribution belongs to all of it.
Straight and curly quotation marks pair with each other by position (opening after a space, closing
before one), so a story that mixes them still pairs its quotes; a quote left open does not swallow its
paragraph, unless the next paragraph opens with a quotation mark, which is how news continues a
quotation across paragraphs.
Blank lines always end a sentence; a single newline ends one where the line ends with terminal
punctuation, or where the line is a subhead (short, no terminal punctuation, followed by a capital);
otherwise it is a wrapped line and is read as a space.
Time is linear in the length of the text.
"""
import bisect
import re

# A possible boundary: terminal punctuation, any closing quotes or brackets, then whitespace and what
# could start a sentence (opening quotes or brackets, then a capital letter or a digit).
_CANDIDATE = re.compile(r"""[.?!]+["”’')\]]*(?=\s+["“‘'(\[]*[A-Z0-9])""")
_LINE_END = re.compile(r"""[.?!]+["”’')\]]*$""")
_CLOSING_QUOTES = "\"”’'"
_NEXT_WORD = re.compile(r"\s+(\S+)")
_WORD = re.compile(r"\S+")  # the same whitespace as str.split(): Unicode spaces, line and paragraph separators
_OPENS_QUOTE = re.compile(r"""^\s*[("“„]""")

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

# A wrapped line breaks anywhere, often after one of these; a subhead does not end on them.
_CONTINUES = {"the", "a", "an", "of", "to", "in", "on", "at", "by", "for", "with", "and", "or", "but", "from",
              "that", "as", "said", "says", "its", "their", "his", "her", "is", "was", "were", "are", "has",
              "have", "had", "will", "would", "not", "into", "over", "after", "before", "than"}
_SUBHEAD_MAX_WORDS = 12


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, whitespace collapsed, in order. Empty or blank text gives []."""
    sentences = []
    for block, continued in _blocks(text):
        sentences.extend(_split_block(" ".join(block.split()), continued))
    return sentences


def split_sentences_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """(sentence, start, end) for each sentence of split_sentences(text), in order, where `start` and `end`
    are character offsets into `text`: " ".join(text[start:end].split()) == sentence. The splitter never
    cuts inside a word, so each sentence is the next run of whitespace-separated words of the text."""
    words = _WORD.finditer(text)
    spans = []
    for sentence in split_sentences(text):
        first = last = next(words)
        for _ in range(sentence.count(" ")):  # a collapsed sentence of n words holds n - 1 spaces
            last = next(words)
        spans.append((sentence, first.start(), last.end()))
    return spans


def _blocks(text):
    """Stretches of text that no sentence crosses: paragraphs, lines that end a sentence, and subheads.
    Each comes with whether the next paragraph opens with a quotation mark (a quote carried over)."""
    paragraphs = [p for p in re.split(r"\n[ \t\f\v\r\u00a0]*\n", text) if p.strip()]
    for k, paragraph in enumerate(paragraphs):
        continued = k + 1 < len(paragraphs) and bool(_OPENS_QUOTE.match(paragraphs[k + 1]))
        lines = [line for line in paragraph.splitlines() if line.strip()]
        widest = max(len(line.strip()) for line in lines)
        pending = []
        for i, line in enumerate(lines):
            pending.append(line)
            following = lines[i + 1] if i + 1 < len(lines) else None
            if following is None:
                break
            if _LINE_END.search(line.rstrip()) or _is_subhead(line, following, widest):
                yield " ".join(pending), False
                pending = []
        if pending:
            yield " ".join(pending), continued


def _is_subhead(line, following, widest):
    """A short line with no terminal punctuation, well short of the paragraph's longest line, that does
    not break off mid-phrase, followed by a line that starts like a sentence."""
    words = line.split()
    if not words or len(words) > _SUBHEAD_MAX_WORDS or len(line.strip()) > 0.6 * widest:
        return False
    if words[0][:1].islower() or words[-1].lower() in _CONTINUES or words[-1][-1] in ",;:-–—(":
        return False
    start = following.lstrip().lstrip("\"“‘'([")
    return start[:1].isupper() or start[:1].isdigit()


def _quote_spans(block, continued=False):
    """Sorted, non-overlapping (open, close) offsets of each outermost double-quoted stretch. A mark opens
    a quote when it is “ or „, or a straight quote at the start or after a space or bracket; any other
    mark closes the innermost open one, so a quote inside a quote ("The "United States" is not ...")
    nests. A quote still open at the end of the block makes no span (a stray mark must not swallow a
    paragraph), except where the quotation is carried over into the next paragraph."""
    spans, stack = [], []
    for i, c in enumerate(block):
        if c not in "\"“”„":
            continue
        if c in "“„" or (c == '"' and (i == 0 or block[i - 1] in " ([—–-")):
            stack.append(i)
        elif stack:
            start = stack.pop()
            if not stack:
                spans.append((start, i))
    if stack and continued:
        spans.append((stack[0], len(block)))
    # an opening mark that never closed leaves the quotes it enclosed as separate spans: keep them sorted
    # and drop any nested inside another
    spans.sort()
    merged = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _split_block(block, continued=False):
    sentences, start = [], 0
    spans = _quote_spans(block, continued)
    opens = [a for a, _ in spans]
    for match in _CANDIDATE.finditer(block):
        k = bisect.bisect_left(opens, match.start()) - 1
        if k >= 0 and spans[k][1] >= match.end():
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
    following = _NEXT_WORD.match(block, match.end())
    next_word = following.group(1).lstrip("\"“‘'([").rstrip(",;:.?!\"”’')]")

    if "?" in punct or "!" in punct:
        return not (quoted and next_word not in _SENTENCE_STARTERS and _ATTRIBUTION.match(block, match.end()))
    if quoted:  # `... respond." The group ...`: a full stop inside the quote ends the sentence
        return True

    word = block[block.rfind(" ", 0, match.start()) + 1:match.start()].lstrip("\"“‘'([") + punct
    if word in _NEVER_FINAL:
        return False
    if word == "No.":  # "No. 2" is a number; "No. The ..." is an answer
        return not next_word[:1].isdigit()
    if word in _MAYBE_FINAL or _INITIALS.fullmatch(word):
        return next_word in _SENTENCE_STARTERS
    return True
