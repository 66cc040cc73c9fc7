"""The `casus` command: one entry point that hands each subcommand to the module that owns it."""
import sys

USAGE = """usage: casus <command> [options]

commands:
  train        fine-tune the classifier (python -m training)
  tag          tag sentences or a whole article with a trained model
  eval         evaluate a model against a TF-IDF baseline, with a throughput benchmark
  data check   validate labelled data files: schema, labels, duplicates, cross-split leakage

Run `casus <command> --help` for the options of each."""


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "train":
        from training.cli import main as run
    elif command == "tag":
        from model.cli import main as run
    elif command == "eval":
        from eval.cli import main as run
    elif command == "data":
        from data.cli import main as run
    else:
        print(f"casus: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
