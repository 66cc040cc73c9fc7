"""`casus tag FILE|-`: tag an article (or one sentence per line) and print text or JSONL."""
import argparse
import json
import sys
from pathlib import Path

from model.checkpoint import CheckpointError

DEFAULT_MODEL_DIR = "runs/default"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="casus tag", description="Tag each sentence of a news article.")
    parser.add_argument("input", help="a text file, or - for standard input")
    parser.add_argument("--model", default=DEFAULT_MODEL_DIR, help="checkpoint folder from `casus train`")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")
    parser.add_argument("--sentences", action="store_true",
                        help="the input holds one sentence per line: tag the lines, do not split them")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--priors", metavar="JSON",
                        help="label mix of the text to tag, e.g. the priors.json that `casus eval --adapt-priors` "
                             "writes; real news is mostly background")
    parser.add_argument("--adapt-priors", action="store_true",
                        help="estimate the label mix from the input itself (needs a few hundred sentences)")
    parser.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                        help="int8 = dynamic quantization of linear layers (CPU); auto = int8 on CPU, fp32 on GPU")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")

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
    from model.quiet import quiet_transformers
    from model.tagger import load

    quiet_transformers()

    try:
        tagger = load(args.model, precision=args.precision)
    except (CheckpointError, OSError, ValueError) as err:
        print(f"casus tag: error: {err}", file=sys.stderr)
        return 2
    try:
        tagger.set_priors(priors)
    except ValueError as err:  # not a mix of the model's labels, or a share that is not a positive number
        print(f"casus tag: error: priors {args.priors}: {err}", file=sys.stderr)
        return 2
    if args.sentences:
        sentences = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        from data.sentences import split_sentences

        sentences = split_sentences(text)
    if args.adapt_priors and sentences:
        if len(sentences) < 200:
            print(f"casus tag: warning: estimating a label mix from {len(sentences)} sentences is unreliable",
                  file=sys.stderr)
        mix = tagger.adapt_priors(sentences, args.batch_size)
        print("label mix: " + ", ".join(f"{label} {share:.3f}" for label, share in mix.items()), file=sys.stderr)
    tags = tagger.tag(sentences, args.batch_size)
    for i, tag in enumerate(tags, 1):
        if args.format == "jsonl":
            print(json.dumps({"index": i, **tag.to_dict()}, ensure_ascii=False))
        else:
            cut = " [truncated]" if tag.truncated else ""
            print(f"{i:3d}  {tag.label:15s}  {tag.score:.2f}  {tag.text}{cut}")
    return 0


def read_stdin() -> str:
    """Standard input as UTF-8, whatever the locale says (a stand-in without bytes is read as text)."""
    stream = getattr(sys.stdin, "buffer", None)
    return stream.read().decode("utf-8") if stream is not None else sys.stdin.read()
