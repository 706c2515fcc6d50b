"""The README's tables of the CRM API list exactly the operations /openapi.json describes:
a CRM developer reading either finds the same API."""

from __future__ import annotations

import re
from pathlib import Path

from api.v1 import OPERATIONS, PREFIX

README = Path(__file__).resolve().parents[2] / "README.md"
METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")
_PARAMETER = re.compile(r"{[a-z_]*}")
_OPTIONAL = re.compile(r"\[([^\]]*)\]")


def normalised(path: str) -> str:
    """A path with its query left out and its parameters unnamed (the README writes
    ``{id}`` where the document writes ``{email_id}``)."""
    return _PARAMETER.sub("{}", path.split("?")[0])


def expanded(path: str) -> list[str]:
    """``/items[/{item_id}]`` as both paths; ``[?changed_at=]`` as the path alone."""
    optional = _OPTIONAL.search(path)
    if optional is None:
        return [path]
    without = path[: optional.start()] + path[optional.end() :]
    return [*expanded(without), *expanded(path[: optional.start()] + optional.group(1))]


def readme_operations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for line in README.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split(" | ")[0]
        pending: list[str] = []
        for piece in re.findall(r"`([^`]*)`", first_cell):
            method, _, path = piece.partition(" ")
            if method not in METHODS:
                continue
            pending.append(method)
            if path.startswith(PREFIX + "/"):
                for each in expanded(path):
                    found.update((m, normalised(each)) for m in pending)
                pending = []
    return found


def test_the_readme_lists_every_operation_and_no_other() -> None:
    described = {(op.method, normalised(PREFIX + op.path)) for op in OPERATIONS}
    listed = readme_operations()
    assert described - listed == set(), "in /openapi.json, not in the README"
    assert listed - described == set(), "in the README, not in /openapi.json"
