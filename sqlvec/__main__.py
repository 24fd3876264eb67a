"""``python -m sqlvec``: the same command line as the ``sqlvec`` script."""

import sys

from sqlvec.cli import main

sys.exit(main())
