"""Shared helpers for the unit tests: pure code only, no network and no database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nylas"


def load_fixture(name: str) -> bytes:
    """The exact bytes of ``tests/fixtures/nylas/<name>`` (``.json`` may be left off)."""
    if not name.endswith(".json"):
        name += ".json"
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def nylas_fixture() -> Callable[[str], bytes]:
    """A loader for the recorded-shape Nylas payloads, returning their raw bytes."""
    return load_fixture
