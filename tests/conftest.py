"""Settings of the whole suite, whichever way it is run."""

from __future__ import annotations

import os

# pytest-xdist's worker processes are given a terminal size (COLUMNS=80, LINES=24) that a
# plain run does not have; the operator CLI sizes its piped tables by COLUMNS, so the tests
# of its output would see another page than an operator's pipe does.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
