"""`python -m casus.data check FILE ...`, the same as `casus data check FILE ...`."""
import sys

from casus.data.cli import main

sys.exit(main())
