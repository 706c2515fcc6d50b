"""Hostile subscribers against the outbound webhook client (X1; the review's H3 and M1).

Everything runs on loopback: the subscriber is :mod:`tests.support.hostile_subscriber`, and
where a test needs a name to resolve elsewhere, a stub resolver answers with loopback
addresses. Memory is measured with tracemalloc around one attempt; time only against the
deadline the attempt was given (generous bounds: correctness, not speed).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.outbound_addresses import LOOPBACK_NETWORKS, IPAddress, parse_networks
from domain.outbound_webhooks import MAX_RETRY_AFTER
from tests.support.certificates import issue
from tests.support.hostile_subscriber import (
    HUGE,
    HostileSubscriber,
    gzip_bomb,
    hostile_subscriber,
    huge_head,
    trap,
)
from tests.support.measuring import measured
from tests.support.services import wait_for
from workers.outbound_http import AttemptFailed, OutboundClient, Reply, resolve

BODY = b'{"type":"email.stored","data":{}}'
HEADERS = {"Content-Type": "application/json", "User-Agent": "crmsync-webhooks/1"}
SMALL = 512 * 1024  # what one attempt may allocate, at most, whatever the answer
ALLOWED = OutboundClient(allowed_networks=LOOPBACK_NETWORKS)
# Shows excerpts of loopback answers too, as it would of a public endpoint's.
SHOWN = OutboundClient(allowed_networks=LOOPBACK_NETWORKS, shows_body=lambda _: True)


@pytest.fixture
def subscriber() -> Iterator[HostileSubscriber]:
    with hostile_subscriber() as server:
        yield server


@pytest.mark.parametrize("status", [200, 500])
def test_a_200_mb_answer_costs_a_few_kilobytes(subscriber: HostileSubscriber, status: int) -> None:
    reply, peak, _ = measured(
        lambda: SHOWN.post(subscriber.url(f"/huge/{status}"), BODY, HEADERS, 10)
    )

    assert reply.status_code == status
    assert reply.error == (None if status == 200 else "a" * 200)  # 4 KiB read, 200 kept
    assert peak < SMALL
    wait_for(lambda: subscriber.bytes_sent, what="the subscriber to see the hang-up")
    assert subscriber.bytes_sent[0] < HUGE // 10  # the client hung up long before the end


def test_a_gzip_bomb_is_never_inflated(subscriber: HostileSubscriber) -> None:
    gzip_bomb()  # built before measuring
    reply, peak, elapsed = measured(
        lambda: SHOWN.post(subscriber.url("/gzip-bomb"), BODY, HEADERS, 10)
    )

    assert (reply.status_code, reply.error) == (500, None)  # a compressed body is not read
    assert peak < SMALL
    assert elapsed < 5
    assert subscriber.only_request().headers["accept-encoding"] == "identity"


def test_a_dripped_head_ends_at_the_deadline(subscriber: HostileSubscriber) -> None:
    reply, peak, elapsed = measured(
        lambda: ALLOWED.post(subscriber.url("/drip-head"), BODY, HEADERS, 1.0)
    )

    assert reply == Reply(None, None, "timeout")
    assert 1.0 <= elapsed < 3.0  # the subscriber would have dripped for a minute
    assert peak < SMALL


def test_a_dripped_refusal_keeps_its_status_at_the_deadline(subscriber: HostileSubscriber) -> None:
    started = time.monotonic()
    reply = SHOWN.post(subscriber.url("/drip-body/500"), BODY, HEADERS, 1.0)

    assert reply.status_code == 500
    assert reply.error is not None
    assert set(reply.error) == {"d"}
    assert len(reply.error) < 100
    assert time.monotonic() - started < 3.0


def test_a_dripped_success_is_delivered_without_waiting_for_its_body(
    subscriber: HostileSubscriber,
) -> None:
    started = time.monotonic()
    reply = SHOWN.post(subscriber.url("/drip-body/200"), BODY, HEADERS, 15)

    assert reply == Reply(200, None, None)
    assert time.monotonic() - started < 5  # its body would take 20 s


def test_a_megabyte_of_headers_is_refused_unread(subscriber: HostileSubscriber) -> None:
    huge_head()  # built before measuring
    reply, peak, _ = measured(lambda: ALLOWED.post(subscriber.url("/huge-head"), BODY, HEADERS, 10))

    assert reply == Reply(None, None, "invalid_answer")
    assert peak < SMALL


def test_a_huge_retry_after_is_capped(subscriber: HostileSubscriber) -> None:
    reply = ALLOWED.post(subscriber.url("/retry-after-huge"), BODY, HEADERS, 10)

    assert reply == Reply(503, MAX_RETRY_AFTER, None)


def test_answers_of_non_public_addresses_are_never_shown(subscriber: HostileSubscriber) -> None:
    for path in ("/leak", "/nul"):
        assert ALLOWED.post(subscriber.url(path), BODY, HEADERS, 10) == Reply(500, None, None)
    # Where an excerpt is shown, it is clean: no NUL (PostgreSQL refuses it in text).
    assert SHOWN.post(subscriber.url("/nul"), BODY, HEADERS, 10) == Reply(500, None, "nul-in-body")


def test_a_redirect_is_not_followed(subscriber: HostileSubscriber) -> None:
    with trap() as target:
        url = subscriber.url(f"/redirect?to=http://127.0.0.1:{target.port}/")
        reply = ALLOWED.post(url, BODY, HEADERS, 10)

        assert reply.status_code == 302
        assert target.connections() == 0
    subscriber.only_request()


def test_no_netrc_credentials_are_sent(
    subscriber: HostileSubscriber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text(
        "machine 127.0.0.1 login deploy-bot password s3cr3t-netrc-password\n"
        "machine localhost login deploy-bot password s3cr3t-netrc-password\n"
        "default login deploy-bot password s3cr3t-netrc-password\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))

    for host in ("127.0.0.1", "localhost"):
        url = f"http://{host}:{subscriber.port}/ok"
        assert ALLOWED.post(url, BODY, HEADERS, 10).status_code == 200
    assert len(subscriber.requests) == 2
    assert all("authorization" not in seen.headers for seen in subscriber.requests)


def test_proxy_variables_are_ignored(
    subscriber: HostileSubscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trap() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)

        assert ALLOWED.post(subscriber.url("/ok"), BODY, HEADERS, 10).status_code == 200
        assert proxy.connections() == 0
    subscriber.only_request()


BLOCKED_SPELLINGS = [
    "http://127.0.0.1:{port}/",
    "http://127.0.0.1.:{port}/",
    "http://localhost:{port}/",
    "http://LocalHost.:{port}/",
    "http://127.1:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://0:{port}/",
    "http://0.0.0.0:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::1]:{port}/",
    "http://[::]:{port}/",
]


@pytest.mark.parametrize("spelling", BLOCKED_SPELLINGS)
def test_a_blocked_address_gets_no_packet(spelling: str) -> None:
    # The same port on IPv4 and IPv6 loopback: whichever a spelling reaches, a trap listens.
    with trap("127.0.0.1") as v4, trap("::1", v4.port) as v6:
        reply = OutboundClient().post(spelling.format(port=v4.port), BODY, HEADERS, 5)

        assert reply == Reply(None, None, "blocked_address")
        assert (v4.connections(), v6.connections()) == (0, 0)


class StubResolver:
    """Answers every name with the next list of addresses it was given; counts lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = [[_address(a) for a in answer] for answer in answers]
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int, timeout: float) -> list[IPAddress]:
        self.lookups.append((host, port))
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def test_the_connection_goes_to_the_checked_address_and_keeps_the_name() -> None:
    # 127.0.0.2 is the only network allowed; 127.0.0.1 stands for an internal address.
    with hostile_subscriber("127.0.0.2") as server, trap("127.0.0.1", server.port) as internal:
        resolver = StubResolver(["127.0.0.1", "127.0.0.2"], ["127.0.0.1"])
        client = OutboundClient(
            allowed_networks=parse_networks(["127.0.0.2/32"]), resolver=resolver
        )
        url = f"http://subscriber.example:{server.port}/ok"

        first = client.post(url, BODY, HEADERS, 5)
        # The name now "rebinds" to the internal address: checked again, refused, no packet.
        second = client.post(url, BODY, HEADERS, 5)

        assert (first.status_code, second) == (200, Reply(None, None, "blocked_address"))
        assert resolver.lookups == [("subscriber.example", server.port)] * 2
        assert server.only_request().headers["host"] == f"subscriber.example:{server.port}"
        assert internal.connections() == 0


def test_a_slow_name_lookup_counts_against_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()

    def slow_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        released.wait(10)
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    try:
        started = time.monotonic()
        with pytest.raises(AttemptFailed) as failed:
            resolve("slow.example", 80, 0.5)
        assert failed.value.reason == "timeout"
        reply = OutboundClient().post("http://slow.example/", BODY, HEADERS, 0.5)
        assert reply == Reply(None, None, "timeout")
        assert time.monotonic() - started < 3
    finally:
        released.set()


def test_failures_are_classified_not_quoted() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    port = closed.getsockname()[1]
    try:
        assert ALLOWED.post(f"http://127.0.0.1:{port}/", BODY, HEADERS, 5) == Reply(
            None, None, "connect_refused"
        )
    finally:
        closed.close()
    assert ALLOWED.post("http://[::1/", BODY, HEADERS, 5) == Reply(None, None, "invalid_url")


def test_tls_verifies_the_name_while_the_connection_goes_to_the_checked_address(
    tmp_path: Path,
) -> None:
    certificates = issue(tmp_path, "subscriber.example")
    with hostile_subscriber(tls=certificates.server) as server:
        resolver = StubResolver(["127.0.0.1"])
        client = OutboundClient(LOOPBACK_NETWORKS, resolver=resolver, tls=certificates.client)
        untrusting = OutboundClient(LOOPBACK_NETWORKS, resolver=resolver)  # certifi's roots

        good = client.post(f"https://subscriber.example:{server.port}/ok", BODY, HEADERS, 5)
        wrong_name = client.post(f"https://other.example:{server.port}/ok", BODY, HEADERS, 5)
        unknown_ca = untrusting.post(
            f"https://subscriber.example:{server.port}/ok", BODY, HEADERS, 5
        )

        assert good == Reply(200, None, None)
        assert wrong_name == Reply(None, None, "tls_error")
        assert unknown_ca == Reply(None, None, "tls_error")
        assert server.only_request().headers["host"] == f"subscriber.example:{server.port}"
