"""`casus tag FILE|-`: tag an article (or one sentence per line) and print text or JSONL; or tag a collection
of articles (.jsonl, .csv, .tsv, .parquet) into one row per sentence (model/collection.py)."""
import argparse
import json
import sys
from pathlib import Path

from casus.data.loaders import DataError
from casus.model.checkpoint import CheckpointError
from casus.model.collection import COLLECTION_SUFFIXES, ENGINES, CollectionError, check_job, tag_file

DEFAULT_MODEL_DIR = "runs/default"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="casus tag", description="Tag each sentence of a news article.")
    parser.add_argument("input", help="a text file, or - for standard input; or a collection of articles "
                                      "(.jsonl, .csv, .tsv, .parquet, or any file with --collection)")
    parser.add_argument("--model", default=DEFAULT_MODEL_DIR, help="checkpoint folder from `casus train`")
    parser.add_argument("--format", choices=("text", "jsonl"), help="output of a text file (default: text)")
    parser.add_argument("--sentences", action="store_true",
                        help="the input holds one sentence per line: tag the lines, do not split them")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--priors", metavar="JSON",
                        help="label mix of the text to tag, e.g. the priors.json that `casus eval --adapt-priors` "
                             "writes; real news is mostly background")
    parser.add_argument("--adapt-priors", action="store_true",
                        help="estimate the label mix from the input itself (needs a few hundred sentences)")
    add_backend_arguments(parser)
    group = parser.add_argument_group("collections", "one article per record in; one row per sentence out")
    group.add_argument("--collection", action="store_true",
                       help="read the input as a collection whatever its name: JSONL unless it ends in .csv, "
                            ".tsv or .parquet (- reads JSONL from standard input)")
    group.add_argument("--id-field", help="field or column holding the article id (default: id)")
    group.add_argument("--text-field", help="field or column holding the article text (default: text)")
    group.add_argument("--output", metavar="FILE",
                       help="write the rows to FILE: .jsonl or .csv/.tsv (default: JSONL on standard output)")
    group.add_argument("--resume", action="store_true",
                       help="go on with an existing --output: skip the articles it already holds")
    group.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    group.add_argument("--on-error", choices=("skip", "stop"),
                       help="a bad record (bad JSON, no id, no text, a repeated id) is reported and skipped "
                            "(default), or stops the run with exit 2")
    group.add_argument("--workers", type=int, metavar="N",
                       help="tag in N processes, each with its own model and a share of the cores (default: 1); "
                            "with --engine ray, N actors (default: one per CPU of the cluster)")
    group.add_argument("--engine", choices=ENGINES,
                       help="local (default): this machine; ray: a Ray cluster, the one RAY_ADDRESS names or else "
                            "a local one (pip install 'casus[cluster]')")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")

    collection = args.collection or (args.input != "-" and Path(args.input).suffix in COLLECTION_SUFFIXES)
    for_text = {"--sentences": args.sentences, "--adapt-priors": args.adapt_priors, "--format": args.format}
    for_collection = {"--id-field": args.id_field, "--text-field": args.text_field, "--output": args.output,
                      "--resume": args.resume, "--overwrite": args.overwrite, "--on-error": args.on_error,
                      "--workers": args.workers, "--engine": args.engine}
    wrong = [flag for flag, value in (for_text if collection else for_collection).items() if value]
    if wrong and collection:
        parser.error(f"{wrong[0]} is for a single text; a collection's output format comes from --output's "
                     "name, its label mix from --priors")
    if wrong:
        parser.error(f"{wrong[0]} is for a collection of articles (.jsonl, .csv, .tsv, .parquet or --collection)")

    if collection:
        try:
            check_job(args.input, args.output, args.resume, args.overwrite, *_workers_engine(args))
        except CollectionError as err:
            print(f"casus tag: error: {err}", file=sys.stderr)
            return 2
    else:
        try:
            text = read_stdin() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            print(f"casus tag: error: {args.input} is not UTF-8 text (byte {err.object[err.start]:#04x} at "
                  f"offset {err.start})", file=sys.stderr)
            return 2
        except OSError as err:
            print(f"casus tag: error: cannot read {args.input}: {err}", file=sys.stderr)
            return 2
    try:  # read before the slow model load, so a bad file fails at once
        priors = json.loads(Path(args.priors).read_text(encoding="utf-8")) if args.priors else None
    except (OSError, ValueError) as err:  # ValueError: bad JSON or bad UTF-8
        print(f"casus tag: error: cannot read priors {args.priors}: {err}", file=sys.stderr)
        return 2
    # imported after argument checks: torch and transformers take seconds to import
    from casus.model.quiet import quiet_transformers
    from casus.model.tagger import load

    quiet_transformers()

    try:
        tagger = load(args.model, precision=args.precision, backend=args.backend)
    except (CheckpointError, OSError, ValueError) as err:
        print(f"casus tag: error: {err}", file=sys.stderr)
        return 2
    try:
        tagger.set_priors(priors)
    except ValueError as err:  # not a mix of the model's labels, or a share that is not a positive number
        print(f"casus tag: error: priors {args.priors}: {err}", file=sys.stderr)
        return 2
    if collection:
        return _tag_collection(tagger, args)
    if args.sentences:
        sentences = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        from casus.data.sentences import split_sentences

        sentences = split_sentences(text)
    if args.adapt_priors and sentences:
        if len(sentences) < 200:
            print(f"casus tag: warning: estimating a label mix from {len(sentences)} sentences is unreliable",
                  file=sys.stderr)
        mix = tagger.adapt_priors(sentences, args.batch_size)
        print("label mix: " + ", ".join(f"{label} {share:.3f}" for label, share in mix.items()), file=sys.stderr)
    tags = tagger.tag(sentences, args.batch_size)
    for i, tag in enumerate(tags, 1):
        if args.format == "jsonl":  # None: text
            print(json.dumps({"index": i, **tag.to_dict()}, ensure_ascii=False))
        else:
            cut = " [truncated]" if tag.truncated else ""
            print(f"{i:3d}  {tag.label:15s}  {tag.score:.2f}  {tag.text}{cut}")
    return 0


def add_backend_arguments(parser):
    """--backend and --precision, shared by `casus tag` and `casus eval`."""
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                        help="torch, or onnx: ONNX Runtime on the CPU, exported on first use and cached in "
                             "<model>/onnx/ (or ~/.cache/casus when the model folder is read-only)")
    parser.add_argument("--precision", choices=("auto", "fp32", "int8", "fp16", "bf16"), default="auto",
                        help="auto = fp32 on the CPU, bf16 (or fp16) autocast on a CUDA GPU; int8 = some linear "
                             "layers in int8 (CPU; changes about 1-5%% of the labels); fp16/bf16 = autocast (torch)")


def read_stdin() -> str:
    """Standard input as UTF-8, whatever the locale says (a stand-in without bytes is read as text)."""
    stream = getattr(sys.stdin, "buffer", None)
    return stream.read().decode("utf-8") if stream is not None else sys.stdin.read()


def _workers_engine(args):
    return args.workers, args.engine or "local"


def _tag_collection(tagger, args) -> int:
    workers, engine = _workers_engine(args)
    try:
        return tag_file(tagger, args.input, args.output, id_field=args.id_field or "id",
                        text_field=args.text_field or "text", batch_size=args.batch_size,
                        on_error=args.on_error or "skip", resume=args.resume, overwrite=args.overwrite,
                        workers=workers, engine=engine)
    except BrokenPipeError:  # not an input error: the reader of standard output went away (casus.cli: 141)
        raise
    except (CollectionError, DataError, OSError) as err:
        print(f"casus tag: error: {err}", file=sys.stderr)
        return 2
