"""`casus data ...` (also `python -m casus.data ...`): commands that work on data files."""
import argparse
import sys

from casus.data.check import check_files, failed, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="casus data", description="Work with labelled data files.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="validate labelled data files: schema, labels, duplicates, cross-split leakage",
        description="Report every problem in FILEs as `path:line: kind: message`, then label counts per file. "
                    "Given several files (train dev test), also report sentences and doc_ids shared between them. "
                    "Exit code 1 when there are errors.")
    check.add_argument("files", nargs="+", metavar="FILE", help=".jsonl, .csv or .tsv file, or a datasets folder")
    check.add_argument("--strict", action="store_true", help="treat duplicates inside one file as errors too")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit:  # --help or a usage error: hand back argparse's code instead of exiting
        return exit.code
    return run_check(args.files, args.strict)


def run_check(paths, strict=False) -> int:
    problems, files = check_files(paths)
    for problem in problems:
        print(problem)
    print(summary(problems, files, strict))
    return 1 if failed(problems, strict) else 0
