"""`python -m cibench.cli`: the same as `cibench`."""

import sys

from . import main

sys.exit(main())
