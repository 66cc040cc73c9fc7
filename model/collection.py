"""Tag a collection of articles (JSONL, CSV/TSV or Parquet) into one row per sentence, streaming.

Articles are read lazily and tagged in chunks of a few hundred sentences. A document's rows are written
together once all its sentences are tagged, and the output is flushed after each chunk: memory stays flat
(only the ids seen so far are kept, to refuse duplicates and to resume), and a crash leaves whole documents
followed at most by one cut-short write, which --resume cuts off.
"""
import csv
import io
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from tqdm.auto import tqdm

from casus.data.loaders import DataError, jsonl_rows, read_rows
from casus.data.sentences import split_sentences_with_offsets

COLLECTION_SUFFIXES = (".jsonl", ".csv", ".tsv", ".parquet")
OUTPUT_SUFFIXES = (".jsonl", ".csv", ".tsv")
CHUNK_SENTENCES = 256  # sentences tagged per chunk: enough for full batches, little memory


class CollectionError(Exception):
    """The job cannot run (the output exists, cannot be resumed, ...): the command stops with exit 2."""


def columns(labels):
    """The fields of an output row, in order."""
    return ["id", "sentence_index", "start", "end", "label", "score", *(f"p_{label}" for label in labels),
            "truncated", "text"]


# Reading

def read_collection(source, id_field="id", text_field="text"):
    """(where, row) for each article of a collection, read lazily: .csv/.tsv, .parquet, else JSONL; `-` is
    JSONL on standard input. A row that cannot be parsed comes as its DataError; a problem with the whole
    file raises one."""
    if source == "-":
        return jsonl_rows(sys.stdin.buffer, "<stdin>")
    path = Path(source)
    if path.suffix in (".csv", ".tsv"):
        return read_rows(path)
    if path.suffix == ".parquet":
        return _parquet_rows(path, [id_field, text_field])
    return _jsonl_file(path)


def _jsonl_file(path):
    with open(path, "rb") as f:
        yield from jsonl_rows(f, path)


def _parquet_rows(path, fields):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError, ... for a file that is not Parquet
        raise DataError(f"{path}: not a Parquet file ({err})") from None
    names = parquet.schema_arrow.names
    for field in fields:
        if field not in names:
            raise DataError(f"{path}: no column {field!r} (has: {', '.join(names)})", kind="missing-column")
    n = 0
    for batch in parquet.iter_batches(batch_size=256, columns=fields):
        for row in batch.to_pylist():
            n += 1
            yield f"{path}:row {n}", row


def articles(rows, id_field="id", text_field="text", on_error=None):
    """(doc_id, text) for each good row of `rows`, pairs of (where, row). A bad row (not parsed, no id, no
    text, an id seen before) raises its DataError; with `on_error`, it is passed to on_error(err) instead,
    which returns True to skip it and go on, False to stop here."""
    seen = set()
    for where, row in rows:
        try:
            doc_id, text = _article(row, where, id_field, text_field)
            if str(doc_id) in seen:
                raise DataError(f"{where}: duplicate id {doc_id!r}: an earlier article has it", kind="duplicate-id")
        except DataError as err:
            if on_error is None:
                raise
            if on_error(err):
                continue
            return
        seen.add(str(doc_id))
        yield doc_id, text


def _article(row, where, id_field, text_field):
    if isinstance(row, DataError):
        raise row
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected an object with fields {id_field!r} and {text_field!r}, "
                        f"got {type(row).__name__}", kind="not-an-object")
    doc_id, text = row.get(id_field), row.get(text_field)
    if doc_id is None or doc_id == "":
        raise DataError(f"{where}: missing id (field {id_field!r})", kind="missing-id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        raise DataError(f"{where}: the id must be a string or an integer, got {type(doc_id).__name__}",
                        kind="bad-id")
    if text is None:
        raise DataError(f"{where}: missing text (field {text_field!r})", kind="missing-text")
    if not isinstance(text, str):
        raise DataError(f"{where}: the text must be a string, got {type(text).__name__}", kind="bad-text")
    if not text.strip():
        raise DataError(f"{where}: empty text", kind="empty-text")
    try:
        f"{doc_id}{text}".encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape in JSON ("\ud800") cannot be written out
        raise DataError(f"{where}: id or text is not valid Unicode", kind="bad-text") from None
    return doc_id, text


# Tagging

def tag_chunks(tagger, articles, batch_size=64, chunk_sentences=CHUNK_SENTENCES, runner=None):
    """Tag (doc_id, text) articles in chunks of about `chunk_sentences` sentences (a longer article is one
    chunk); yield each chunk as a list of (doc_id, rows), a document's rows all together. A runner (worker
    processes, a Ray cluster: see chunk_runner) tags several chunks at once and gives them back in order.
    Each chunk goes to the model whole whoever tags it, so the batches, and the rows, are the same."""
    chunks = _chunks(articles, chunk_sentences)
    if runner is None:
        tagged = ((chunk, tagger.tag(chunk_sentences_of(chunk), batch_size)) for chunk in chunks)
    else:
        tagged = runner.map(chunks)
    for chunk, tags in tagged:
        tags = iter(tags)
        yield [(doc_id, [_row(doc_id, i, start, end, next(tags)) for i, (_, start, end) in enumerate(spans)])
               for doc_id, spans in chunk]


def _chunks(articles, chunk_sentences):
    """Lists of (doc_id, sentence spans) with about `chunk_sentences` sentences in each."""
    pending, size = [], 0
    for doc_id, text in articles:
        spans = split_sentences_with_offsets(text)
        pending.append((doc_id, spans))
        size += len(spans)
        if size >= chunk_sentences:
            yield pending
            pending, size = [], 0
    if pending:
        yield pending


def chunk_sentences_of(chunk):
    """The sentences of a chunk, in order: what goes to the model."""
    return [sentence for _, spans in chunk for sentence, _, _ in spans]


def _row(doc_id, index, start, end, tag):
    return {"id": doc_id, "sentence_index": index, "start": start, "end": end, "label": tag.label,
            "score": tag.score, **{f"p_{label}": p for label, p in tag.probs.items()},
            "truncated": tag.truncated, "text": tag.text}


ENGINES = ("local", "ray")


def check_engine(engine="local", workers=None):
    """Refuse an engine or worker count that cannot run, before the model is loaded."""
    if engine not in ENGINES:
        raise CollectionError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise CollectionError(f"workers must be a whole number of at least 1, got {workers!r}")
    if engine == "ray":
        try:
            import ray.data  # noqa: F401
        except ImportError:
            raise CollectionError("--engine ray needs Ray Data: pip install 'casus[cluster]'") from None


@contextmanager
def chunk_runner(tagger, batch_size=64, workers=None, engine="local"):
    """What tags the chunks: None (this process, workers None or 1), `workers` processes, or a Ray cluster
    with `workers` actors (None: one per CPU of the cluster). Workers and actors load their own tagger."""
    check_engine(engine, workers)
    if engine == "ray":
        from casus.model.cluster import RayRunner

        with RayRunner(tagger.spec(), tagger.labels, batch_size, workers) as runner:
            yield runner
    elif (workers or 1) > 1:
        from casus.model.workers import ProcessRunner

        with ProcessRunner(tagger.spec(), batch_size, workers) as runner:
            yield runner
    else:
        yield None


def tag_records(tagger, records, id_field="id", text_field="text", batch_size=64, workers=None, engine="local"):
    """Row dicts for an iterable of article dicts, streaming (Tagger.tag_collection). A bad record raises a
    DataError naming its number, counted from 1."""
    rows = ((f"record {n}", record) for n, record in enumerate(records, 1))
    with chunk_runner(tagger, batch_size, workers, engine) as runner:
        for chunk in tag_chunks(tagger, articles(rows, id_field, text_field), batch_size, runner=runner):
            for _, doc_rows in chunk:
                yield from doc_rows


# The command: casus tag COLLECTION [--output FILE]

def output_format(output):
    """jsonl, csv or tsv, from the output's name; standard output (None or -) is JSONL."""
    if output in (None, "-"):
        return "jsonl"
    suffix = Path(output).suffix
    if suffix not in OUTPUT_SUFFIXES:
        raise CollectionError(f"cannot tell the format of {output}: name it .jsonl, .csv or .tsv")
    return suffix[1:]


def check_job(source, output=None, resume=False, overwrite=False, workers=None, engine="local"):
    """Refuse a job that cannot run, before the model is loaded."""
    check_engine(engine, workers)
    if source != "-" and not Path(source).is_file():
        raise CollectionError(f"cannot read {source}: no such file")
    output_format(output)
    if output in (None, "-"):
        if resume or overwrite:
            raise CollectionError("--resume and --overwrite need --output FILE")
        return
    if resume and overwrite:
        raise CollectionError("--resume and --overwrite exclude each other")
    if source != "-" and Path(output).resolve() == Path(source).resolve():
        raise CollectionError(f"{output} is the input: write the rows to another file")
    if Path(output).exists() and not (resume or overwrite):
        raise CollectionError(f"{output} exists: --resume to go on with it, --overwrite to replace it")


def tag_file(tagger, source, output=None, id_field="id", text_field="text", batch_size=64, on_error="skip",
             resume=False, overwrite=False, chunk_sentences=CHUNK_SENTENCES, workers=None, engine="local") -> int:
    """Tag a collection into `output` (None or - for standard output). A bad record is reported on stderr
    and skipped (on_error="skip") or ends the run after the articles before it are written ("stop": exit
    2). Returns the exit code; raises CollectionError or DataError when the job cannot go on.

    workers: tag in that many processes on this machine (None: 1, this one), each with its own copy of
    the tagger and its share of torch's threads. engine="ray": tag on a Ray cluster (the one RAY_ADDRESS or a running
    `ray.init` names, else a local one), `workers` actors (None: one per CPU). This process still reads
    the input, reports bad records and writes the output, in the same order and the same way as alone:
    the rows are the same, and --resume works whatever tagged the rows before."""
    check_job(source, output, resume, overwrite, workers, engine)
    fmt = output_format(output)
    fields = columns(tagger.labels)
    done, header = set(), fmt != "jsonl"
    if output in (None, "-"):
        out = sys.stdout
    elif resume and Path(output).exists():
        done, cut = _resume(Path(output), fmt, fields)
        header = header and cut == 0
        out = open(output, "a", encoding="utf-8", newline="")
        _say(f"resuming {output}: {len(done)} articles already tagged")
    else:
        out = open(output, "w" if overwrite else "x", encoding="utf-8", newline="")

    skipped, stopped = 0, False

    def bad(err):
        nonlocal skipped, stopped
        if on_error == "stop":
            _say(f"error: {err}")
            stopped = True
            return False
        _say(f"skipped: {err}")
        skipped += 1
        return True

    todo = ((doc_id, text) for doc_id, text in articles(read_collection(source, id_field, text_field),
                                                        id_field, text_field, bad)
            if str(doc_id) not in done)
    bar = tqdm(desc="tagging", unit=" articles", file=sys.stderr, disable=not sys.stderr.isatty())
    n_articles = n_sentences = 0
    started = time.monotonic()
    try:
        if header:
            out.write(_render([], fmt, fields, header=True))
        with chunk_runner(tagger, batch_size, workers, engine) as runner:
            for chunk in tag_chunks(tagger, todo, batch_size, chunk_sentences, runner):
                out.write("".join(_render(rows, fmt, fields) for _, rows in chunk))
                out.flush()
                n_articles += len(chunk)
                n_sentences += sum(len(rows) for _, rows in chunk)
                bar.update(len(chunk))
                bar.set_postfix_str(f"{n_sentences / max(time.monotonic() - started, 1e-6):.0f} sentences/s")
    except KeyboardInterrupt:
        _say(f"interrupted after {n_articles} articles; run again with --resume to go on")
        return 130
    finally:
        bar.close()
        if out is not sys.stdout:
            out.close()
    _say(f"tagged {n_articles} articles, {n_sentences} sentences"
         + (f" ({len(done)} articles done before)" if done else "")
         + f"; {skipped} bad records skipped")
    return 2 if stopped else 0


def _say(message):
    tqdm.write(f"casus tag: {message}", file=sys.stderr)  # above the progress bar, not through it


def _render(rows, fmt, fields, header=False):
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _resume(path, fmt, fields):
    """The ids of the documents an earlier run wrote to `path`, and the byte offset the file is cut back
    to: the start of its last document. That one may have been cut short by a crash (along with a partial
    last line), so it is dropped and tagged again; every document before it is whole, because a
    document's rows are contiguous and written only after the previous document's."""
    done, last = set(), None
    with open(path, "rb") as f:
        lines = _Lines(f)
        try:
            if fmt == "jsonl":
                ids = (str(json.loads(line)["id"]) for line in lines)
            else:
                reader = csv.reader(lines, delimiter="\t" if fmt == "tsv" else ",")
                header = next(reader, None)  # None: empty, or the header itself was cut short
                if header is not None and header != fields:
                    raise ValueError(f"columns {header}, expected {fields}")
                ids = (row[0] for row in reader)
            cut = start = lines.offset
            for doc_id in ids:
                if doc_id != last:
                    if last is not None:
                        done.add(last)
                    last, cut = doc_id, start
                start = lines.offset
        except (ValueError, KeyError, TypeError, IndexError, csv.Error) as err:
            raise CollectionError(f"{path}:{lines.count}: not a row written by casus tag ({err}); "
                                  "cannot resume: use --overwrite or another --output") from None
    with open(path, "r+b") as f:
        f.truncate(cut)
    return done, cut


class _Lines:
    """The whole lines of a binary file, decoded; stops at a last line with no newline (a cut-short write).
    `offset` is the byte offset just after the last line given, `count` the number of lines given."""

    def __init__(self, f):
        self.f, self.offset, self.count = f, 0, 0

    def __iter__(self):
        for raw in self.f:
            if not raw.endswith(b"\n"):
                return
            self.offset += len(raw)
            self.count += 1
            yield raw.decode("utf-8")
