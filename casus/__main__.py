"""`python -m casus ...`, the same as the `casus` command."""
import sys

from casus.cli import main

sys.exit(main())
