"""`python -m casus ...`, the same as the `casus` command."""
import sys

from casus.cli import main

if __name__ == "__main__":  # not again in a worker process that imports this module
    sys.exit(main())
