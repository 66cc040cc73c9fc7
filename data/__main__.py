"""`python -m data check FILE ...`, the same as `casus data check FILE ...`."""
import sys

from data.cli import main

sys.exit(main())
