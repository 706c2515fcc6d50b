"""Drains that deliver: the simulator POSTs what it queued to a webhook URL, as Nylas does.

In process (the simulator app under a test client, the receiving end a real HTTP server): what
crmsync refuses is retried on the next drain up to Nylas's three attempts, nothing is lost
while crmsync is unreachable, and one drain does a bounded amount of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from simulator import notification_push
from simulator.mailbox import FakeNylas
from simulator.notification_push import WebhookTarget
from simulator.nylas_api import build_nylas_api
from tests.support.live_server import serve
from tests.support.processes import free_port

GRANT = "grant-push-1"
SECRET = "push-secret"


class Receiver:
    """A webhook endpoint answering each POST with the next of ``statuses`` (then 200)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, Any]] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        self.received.append(await request.json())
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"status": "accepted" if status == 200 else "no"}, status_code=status)


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas()
    fake.add_mailbox(GRANT, "google", "ann@gmail.example")
    return fake


def simulator(fake: FakeNylas, url: str) -> TestClient:
    app = build_nylas_api(fake, WebhookTarget(url, SECRET))
    return TestClient(app, headers={"Authorization": f"Bearer {fake.api_key}"})


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    """``receiver`` served over real HTTP; its webhook URL."""
    with serve(Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])) as url:
        yield f"{url}/hook"


@pytest.fixture
def always_failing() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(*[500] * 10)
    with receiving(receiver) as url:
        yield receiver, url


def test_a_refused_notification_is_retried_until_its_third_attempt_then_dropped(
    fake: FakeNylas, always_failing: tuple[Receiver, str]
) -> None:
    receiver, url = always_failing
    fake.create_folder(GRANT, "Proposals")

    with simulator(fake, url) as client:
        drains = [client.post("/_simulator/notifications/drain").json() for _ in range(4)]

    assert [[d["attempt"] for d in drain["deliveries"]] for drain in drains] == [[1], [2], [3], []]
    assert [n["webhook_delivery_attempt"] for n in receiver.received] == [1, 2, 3]
    assert len({n["id"] for n in receiver.received}) == 1
    assert fake.drain_notifications() == []


def test_nothing_is_lost_while_the_webhook_url_is_unreachable(fake: FakeNylas) -> None:
    for name in ("One", "Two", "Three"):
        fake.create_folder(GRANT, name)
    unreachable = f"http://127.0.0.1:{free_port()}/webhooks/nylas"

    with simulator(fake, unreachable) as client:
        drain = client.post("/_simulator/notifications/drain").json()

    [delivery] = drain["deliveries"]
    assert delivery["status"] is None
    assert delivery["error"]
    assert drain["delivered"] == 0
    kept = fake.drain_notifications()
    assert [n["data"]["object"]["name"] for n in kept] == ["One", "Two", "Three"]
    assert [n["webhook_delivery_attempt"] for n in kept] == [2, 1, 1]


def test_one_drain_delivers_a_bounded_number_and_leaves_the_rest_in_order(
    fake: FakeNylas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notification_push, "MAX_PER_DRAIN", 2)
    receiver = Receiver()
    for name in ("One", "Two", "Three"):
        fake.create_folder(GRANT, name)

    with receiving(receiver) as url, simulator(fake, url) as client:
        first = client.post("/_simulator/notifications/drain").json()
        second = client.post("/_simulator/notifications/drain").json()

    assert (first["delivered"], second["delivered"]) == (2, 1)
    assert [n["data"]["object"]["name"] for n in receiver.received] == ["One", "Two", "Three"]
