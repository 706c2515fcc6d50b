"""A client that opens too much is told 429 with ``Retry-After``, on SQLite and PostgreSQL.

The security review of December 2026 (L4) created 300 subscriptions in 1.7 s (one change then
made 300 deliveries) and opened 300 live streams (every reader's latency went from 5 to
114 ms). Now a deployment holds a bounded number of subscriptions, checked under a lock so
concurrent creations cannot pass it, and each API token a bounded number of open streams and
waiting long-polls in each web process, given back as soon as one ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx2
import pytest
from starlette.datastructures import Secret

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from tests.support.harness import settings_for
from tests.support.live_server import serve
from tests.support.services import wait_for

FIRST = {"Authorization": "Bearer first-token"}
SECOND = {"Authorization": "Bearer second-token"}
SUBSCRIPTION = {"url": "https://crm.example/hooks", "status": "disabled"}


@dataclass(frozen=True)
class Server:
    url: str

    def create_subscription(self) -> httpx2.Response:
        return httpx2.post(f"{self.url}/v1/subscriptions", json=SUBSCRIPTION, headers=FIRST)

    def long_poll(self, auth: dict[str, str], wait: int) -> tuple[httpx2.Response, float]:
        head = httpx2.get(f"{self.url}/v1/changes/latest", headers=auth).json()["cursor"]
        started = time.monotonic()
        response = httpx2.get(
            f"{self.url}/v1/changes",
            params={"cursor": head, "wait": str(wait)},
            headers=auth,
            timeout=20,
        )
        return response, time.monotonic() - started


@pytest.fixture
def server(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[Server]:
    """crmsync over real HTTP with small limits and two API tokens."""
    settings = settings_for(
        database_url,
        redis_namespace,
        api_tokens=(Secret("first-token"), Secret("second-token")),
        max_subscriptions=3,
        max_streams_per_token=2,
        max_long_polls_per_token=1,
    )
    with serve(build_app(runtime=make_runtime(settings))) as url:
        yield Server(url)


def assert_refused(response: httpx2.Response, reason: str, retry_after: str) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["reason"] == reason
    assert response.headers["Retry-After"] == retry_after


def test_a_deployment_holds_at_most_its_subscriptions(server: Server) -> None:
    created = [server.create_subscription() for _ in range(3)]
    assert [r.status_code for r in created] == [201, 201, 201]

    refused = server.create_subscription()

    assert_refused(refused, "too_many_subscriptions", "3600")
    assert "CRMSYNC_MAX_SUBSCRIPTIONS" in refused.json()["error"]["message"]
    first = created[0].json()["id"]
    deleted = httpx2.delete(f"{server.url}/v1/subscriptions/{first}", headers=FIRST)
    assert deleted.status_code == 204
    assert server.create_subscription().status_code == 201


def test_concurrent_creations_never_pass_the_cap(server: Server) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: server.create_subscription(), range(8)))

    assert sorted(r.status_code for r in answers) == [201] * 3 + [429] * 5
    listed = httpx2.get(f"{server.url}/v1/subscriptions", headers=FIRST).json()["data"]
    assert len(listed) == 3


def open_stream(stack: ExitStack, server: Server, auth: dict[str, str]) -> httpx2.Response:
    """A stream, opened and read up to its first line, held open until ``stack`` closes."""
    client = stack.enter_context(httpx2.Client(timeout=20))
    response = stack.enter_context(
        client.stream("GET", f"{server.url}/v1/changes/stream", headers=auth)
    )
    if response.status_code == 200:
        # Kept until the stack closes: a line iterator collected early closes the connection.
        lines = response.iter_lines()
        stack.callback(lines.close)
        assert next(lines) == "retry: 2000"
    else:
        response.read()
    return response


def test_a_token_holds_at_most_its_streams_and_gets_one_back_when_one_ends(
    server: Server,
) -> None:
    with ExitStack() as first_stream:
        open_stream(first_stream, server, FIRST)
        with ExitStack() as streams:
            second = open_stream(streams, server, FIRST)
            third = open_stream(streams, server, FIRST)
            other_token = open_stream(streams, server, SECOND)

            assert second.status_code == 200
            assert_refused(third, "too_many_streams", "60")
            assert other_token.status_code == 200
        # The second stream was closed by its client: its slot comes back once the server
        # notices (within a poll interval).

        def reopened() -> bool:
            with ExitStack() as again:
                return open_stream(again, server, FIRST).status_code == 200

        wait_for(reopened, timeout=10, what="a closed stream's slot to come back")


def test_a_token_has_at_most_its_long_polls_waiting(server: Server) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        polls = [pool.submit(server.long_poll, FIRST, 3) for _ in range(2)]
        other_token = pool.submit(server.long_poll, SECOND, 3)
        no_wait = pool.submit(server.long_poll, FIRST, 0)
        (a, a_took), (b, b_took) = (p.result() for p in polls)

    waited, refused = (a, b) if a.status_code == 200 else (b, a)
    assert waited.status_code == 200
    assert_refused(refused, "too_many_long_polls", "30")
    assert min(a_took, b_took) < 2 < max(a_took, b_took)  # refused at once, not after waiting
    assert other_token.result()[0].status_code == 200
    assert no_wait.result()[0].status_code == 200  # a plain read holds no long-poll slot
    assert server.long_poll(FIRST, 1)[0].status_code == 200  # the slot was given back
