import sys

from casus.training.cli import main

sys.exit(main())
