"""``python -m crmsync``: the ``crmsync`` command run by a given interpreter (the benchmarks
start their worker processes this way)."""

import sys

from crmsync.cli import main

sys.exit(main())
