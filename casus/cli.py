"""The `casus` command: one entry point that hands each subcommand to the module that owns it."""
import os
import sys
import warnings

from casus import __version__

USAGE = """usage: casus <command> [options]

commands:
  train        fine-tune the classifier (python -m casus.training)
  tag          tag sentences or a whole article with a trained model
  eval         evaluate a model against a TF-IDF baseline, with a throughput benchmark
  data check   validate labelled data files: schema, labels, duplicates, cross-split leakage

Run `casus <command> --help` for the options of each, `casus --version` for the version."""


def main(argv=None) -> int:
    """Run one casus command; return its exit code: 0 done, 1 failed checks, 2 a usage or input error,
    130 interrupted. Every error is one line on stderr, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with warnings.catch_warnings():  # restores the usual format when main returns (tests call it)
            warnings.showwarning = one_line_warning
            code = dispatch(argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except SystemExit as exit:  # argparse has printed its usage and error (2) or its help (0)
        return exit.code if isinstance(exit.code, int) else 2
    except KeyboardInterrupt:
        print("\ncasus: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`casus tag ... | head -1`): nothing left to say
        silence_stdout()
        return 141  # what a program killed by SIGPIPE reports (128 + 13)


def dispatch(argv) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] == "--version":
        print(f"casus {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "train":
        from casus.training.cli import main as run
    elif command == "tag":
        from casus.model.cli import main as run
    elif command == "eval":
        from casus.eval.cli import main as run
    elif command == "data":
        from casus.data.cli import main as run
    else:
        print(f"casus: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return run(rest)


def one_line_warning(message, category, filename, lineno, file=None, line=None):
    # a user needs the message, not the source line of casus that raised it
    print(f"casus: warning: {message}", file=file or sys.stderr)


def silence_stdout():
    """Point stdout at /dev/null so Python's own flush at exit does not raise a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stand-in stdout (tests) has no file descriptor
        pass

