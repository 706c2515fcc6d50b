"""Helpers for tests of the fake Nylas API and of the Nylas client against it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

import pytest
from nylas.models.errors import NylasApiError
from starlette.testclient import TestClient

from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api


class RecordedSleeps(list[float]):
    """A ``sleep`` that remembers how long it was asked to wait, instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def api_error(call: object) -> NylasApiError:
    """The NylasApiError raised by ``call()``."""
    assert callable(call)
    with pytest.raises(NylasApiError) as caught:
        call()
    return caught.value


@contextlib.contextmanager
def fake_api_client(fake: FakeNylas) -> Iterator[TestClient]:
    """The fake Nylas API (and its control routes) in process, with its API key."""
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    with TestClient(build_nylas_api(fake), headers=headers) as client:
        yield client


class SettableClock:
    """The fake Nylas API's clock, in unix seconds, moved by the test."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)

    def at(self, moment: datetime) -> None:
        self.now = int(moment.timestamp())
