"""Validate labelled data files: every bad row, duplicates within a file, and leakage between files."""
import re
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from casus.data.dedup import DEFAULT_THRESHOLD, near_duplicate_pairs
from casus.data.labels import LABELS
from casus.data.loaders import DataError, read_rows, to_example

# Duplicates inside one file cost little (a sentence counted twice); they only fail a --strict check.
WARNING_KINDS = ("duplicate", "near-duplicate")


@dataclass(frozen=True)
class Problem:
    where: str  # "path:line", or "path" for a problem with the whole file
    kind: str
    message: str

    @property
    def is_warning(self):
        return self.kind in WARNING_KINDS

    def __str__(self):
        return f"{self.where}: {self.kind}: {self.message}"


@dataclass
class CheckedFile:
    path: str
    examples: list  # the rows that passed, as data.loaders.Example
    problems: list

    def label_counts(self):
        return Counter(ex.label for ex in self.examples)


def check_files(paths, threshold=DEFAULT_THRESHOLD) -> tuple[list[Problem], list[CheckedFile]]:
    """Every problem found in `paths` (read errors first, file by file, then leakage between files)."""
    # paths as read_rows spells them, so "./train.jsonl" and "train.jsonl" are one file, read once
    files = [read_file(path) for path in dict.fromkeys(str(Path(p)) for p in paths)]
    problems = []
    for checked in files:
        problems += checked.problems + duplicates_within(checked.examples, threshold)
    for earlier, later in combinations(files, 2):
        problems += leaked_sentences(earlier.examples, later.examples, threshold)
    problems += leaked_doc_ids(files)
    return problems, files


def read_file(path) -> CheckedFile:
    """The valid rows of one file and a Problem for each invalid one, instead of stopping at the first."""
    path = str(Path(path))
    examples, problems = [], []
    try:
        for where, row in read_rows(path):
            try:
                examples.append(to_example(row, where))
            except DataError as err:
                problems.append(_problem(err, path))
    except DataError as err:  # the whole file is unreadable from here on
        problems.append(_problem(err, path))
    if not examples and not problems:
        problems.append(Problem(path, "no-rows", "no rows"))
    return CheckedFile(path, examples, problems)


def duplicates_within(examples, threshold=DEFAULT_THRESHOLD) -> list[Problem]:
    """A warning for each row that repeats or nearly repeats an earlier row of the same file."""
    problems = []
    for i, j in _earliest_matches(near_duplicate_pairs([ex.text for ex in examples], threshold=threshold)):
        kind, message = _compare(examples[i], examples[j])
        problems.append(Problem(examples[j].where, kind, message))
    return problems


def leaked_sentences(earlier, later, threshold=DEFAULT_THRESHOLD) -> list[Problem]:
    """An error for each row of `later` that repeats or nearly repeats a row of `earlier` (another split)."""
    problems = []
    for i, j in _earliest_matches(near_duplicate_pairs([ex.text for ex in earlier], [ex.text for ex in later],
                                                       threshold)):
        _, message = _compare(earlier[i], later[j])
        problems.append(Problem(later[j].where, "leak", message))
    return problems


def leaked_doc_ids(files) -> list[Problem]:
    """An error where a doc_id already seen in an earlier file appears in a later one: one document's
    sentences must all sit in one split."""
    first_seen = {}  # doc_id -> where it first appeared, in the first file that has it
    problems = []
    for checked in files:
        seen_here = set()
        for ex in checked.examples:
            if ex.doc_id is None or ex.doc_id in seen_here:
                continue
            seen_here.add(ex.doc_id)
            if ex.doc_id in first_seen:
                problems.append(Problem(ex.where, "leak", f"doc_id {ex.doc_id!r} also in {first_seen[ex.doc_id]}"))
            else:
                first_seen[ex.doc_id] = ex.where
    return problems


def summary(problems, files, strict=False) -> str:
    """Counts per label per file, then the totals that decide the exit code."""
    lines = []
    for checked in files:
        counts = checked.label_counts()
        by_label = ", ".join(f"{label} {counts[label]}" for label in LABELS)
        lines.append(f"{checked.path}: {_count(len(checked.examples), 'valid row')} ({by_label})")
    warnings = sum(p.is_warning for p in problems)
    line = f"{_count(len(problems) - warnings, 'error')}, {_count(warnings, 'warning')}"
    if warnings and not strict:
        line += " (duplicates inside a file are warnings; --strict makes them errors)"
    return "\n".join(lines + [line])


def failed(problems, strict=False) -> bool:
    return any(strict or not p.is_warning for p in problems)


def _problem(err: DataError, path: str) -> Problem:
    """A DataError as a Problem. Its message starts with "path: ", "path:12: " or "path:row 3: ",
    which becomes `where`, so the report can put the kind between place and message."""
    message = str(err)
    place = re.match(re.escape(path) + r"(?::(?:\d+|row \d+))?: ", message)
    if place is None:
        return Problem(path, err.kind, message)
    return Problem(place.group()[:-2], err.kind, message[place.end():])


def _earliest_matches(pairs):
    """(i, j) with the smallest i for each j, in order of j: a row that repeats several is reported once."""
    earliest = {}
    for i, j in sorted(pairs):
        earliest.setdefault(j, i)
    return [(i, j) for j, i in sorted(earliest.items())]


def _compare(first, second):
    """(kind, message) for a row `second` that matches the earlier row `first`."""
    kind = "duplicate" if first.text == second.text else "near-duplicate"
    message = f"{kind} of {first.where}"
    if first.label != second.label:
        message += f" (labelled {first.label} there, {second.label} here)"
    return kind, message


def _count(n, noun):
    return f"{n} {noun}{'s' * (n != 1)}"
