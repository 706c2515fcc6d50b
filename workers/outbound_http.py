"""The HTTP client of outbound webhooks: one POST, to a checked address, in bounded time and
memory, whoever answers (X1; the review's H3 and M1).

Every subscriber is a stranger on the network, so:

- **Where.** The name is resolved once per attempt; every address it resolves to is checked
  (:func:`domain.outbound_addresses.address_allowed`) and the socket connects to a checked
  address itself, so DNS rebinding between a check and a connect cannot happen. An address
  that is refused gets no packet. TLS still verifies the certificate for the name, and
  ``Host`` still carries it.
- **How long.** One deadline per attempt covers resolution, connect, TLS handshake, sending
  and reading: every socket operation is given only the time that is left (CPython bounds a
  connect, a handshake, a ``sendall`` and a ``recv`` by the timeout they are given), and a
  name that takes too long to resolve is left to its lookup thread. A slow drip ends at the
  deadline, not at a per-read timeout that each byte resets.
- **How much.** The answer's head may take 16 KiB (h11's limit); of a body at most 4 KiB is
  read, and only of a non-2xx answer from a public address, then the connection is closed. A
  compressed body is never inflated (``Accept-Encoding: identity``, and nothing here decodes).
- **Nothing ambient.** No ``.netrc``, no proxy variables, no cookies, no redirects: this
  client reads no environment at all (requests does, unless told not to).
- **What is kept.** Failures are classified words (``connect_refused``, ``timeout``,
  ``tls_error``, ``blocked_address``...), not exception text that names internal hosts and
  ports; a body excerpt is short, one line and free of control characters.

Built on the standard library's sockets and TLS and on h11 (HTTP/1.1 framing, no I/O), so
that every read is ours to bound.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import certifi
import h11

from domain.outbound_addresses import IPAddress, IPNetwork, address_allowed, is_public_address
from domain.outbound_answers import excerpt, parse_retry_after
from domain.outbound_urls import InvalidUrl, Target, parse_target

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 4 * 1024
READ_CHUNK = 4 * 1024
# Headers this client sets itself; a caller's are dropped.
_OWN_HEADERS = frozenset({"host", "content-length", "accept-encoding", "connection"})

# Why an attempt got no answer (Reply.error when status_code is None).
BLOCKED_ADDRESS = "blocked_address"  # every address of the host is refused: nothing was sent
INVALID_URL = "invalid_url"
DNS_ERROR = "dns_error"
CONNECT_REFUSED = "connect_refused"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"  # the attempt's deadline passed before a status came
TLS_ERROR = "tls_error"
CONNECTION_CLOSED = "connection_closed"  # closed or reset before a complete status and head
INVALID_ANSWER = "invalid_answer"  # not HTTP/1.x, or a head over MAX_HEAD_BYTES

Resolver = Callable[[str, int, float], Sequence[IPAddress]]


class AttemptFailed(Exception):
    """Raised inside an attempt when it can go no further; ``reason`` is one of the words
    above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Reply:
    """What came of one POST: a status (None when none came), the wait the endpoint asked
    for (capped), and either why no status came or a short excerpt of a refusal."""

    status_code: int | None
    retry_after: timedelta | None
    error: str | None


class Deadline:
    """The time an attempt has left, from one start."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; raises AttemptFailed(timeout) when there are none."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise AttemptFailed(TIMEOUT)
        return left


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """The addresses ``host`` resolves to, within ``timeout`` seconds.

    ``getaddrinfo`` takes no timeout, so it runs in a thread of its own; when it is too slow
    the attempt goes on without it (the thread ends when the system resolver gives up).

    Raises:
        AttemptFailed: ``timeout`` or ``dns_error``.
    """
    found: list[IPAddress] = []
    failed: list[OSError] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
                address = ipaddress.ip_address(sockaddr[0])
                if address not in found:
                    found.append(address)
        except OSError as error:
            failed.append(error)
        finally:
            done.set()

    threading.Thread(target=lookup, name="crmsync-webhook-dns", daemon=True).start()
    if not done.wait(timeout):
        raise AttemptFailed(TIMEOUT)
    if failed or not found:
        raise AttemptFailed(DNS_ERROR)
    return list(found)


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """Certificates verified against certifi's roots (as requests did), TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class OutboundClient:
    """POSTs webhooks to public addresses and to ``allowed_networks`` only.

    ``resolver``, ``shows_body`` and ``tls`` are ports for tests (a resolver that answers
    without DNS; excerpts shown for loopback; a context that trusts a test certificate).
    """

    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = resolve
    shows_body: Callable[[IPAddress], bool] = is_public_address
    tls: ssl.SSLContext | None = None

    def post(self, url: str, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
        """POST ``body`` to ``url`` within ``seconds`` in all; never raises for what the
        network or the endpoint does."""
        deadline = Deadline(seconds)
        try:
            target = parse_target(url)
        except InvalidUrl:
            return Reply(None, None, INVALID_URL)
        try:
            sock, address = self._connect(target, deadline)
        except AttemptFailed as failure:
            return Reply(None, None, failure.reason)
        with sock:
            return self._exchange(sock, address, target, body, headers, deadline)

    def _connect(self, target: Target, deadline: Deadline) -> tuple[socket.socket, IPAddress]:
        """A socket connected to a checked address of ``target`` (TLS set up for https)."""
        if target.address is not None:
            addresses: Sequence[IPAddress] = (target.address,)
        else:
            addresses = self.resolver(target.host, target.port, deadline.remaining())
        allowed = [a for a in addresses if address_allowed(a, self.allowed_networks)]
        if not allowed:
            raise AttemptFailed(BLOCKED_ADDRESS)
        reason = UNREACHABLE
        for address in allowed:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(deadline.remaining())
                sock.connect((str(address), target.port))
                if target.scheme == "https":
                    tls = self.tls or default_tls_context()
                    sock.settimeout(deadline.remaining())
                    sock = tls.wrap_socket(sock, server_hostname=target.host)
            except (OSError, AttemptFailed) as failure:
                sock.close()
                reason = _classified(failure)
                if reason == TIMEOUT:
                    break
                continue
            return sock, address
        raise AttemptFailed(reason)

    def _exchange(
        self,
        sock: socket.socket,
        address: IPAddress,
        target: Target,
        body: bytes,
        headers: Mapping[str, str],
        deadline: Deadline,
    ) -> Reply:
        """Send the request and read no more of the answer than is kept."""
        connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        request = h11.Request(
            method="POST",
            target=target.request_target,
            headers=[
                ("Host", target.host_header),
                ("Content-Length", str(len(body))),
                ("Accept-Encoding", "identity"),
                ("Connection", "close"),
                *((k, v) for k, v in headers.items() if k.lower() not in _OWN_HEADERS),
            ],
        )
        status: int | None = None
        retry_after: timedelta | None = None
        shown = bytearray()
        reading_body = False
        try:
            outgoing = connection.send(request) or b""
            outgoing += connection.send(h11.Data(data=body)) or b""
            outgoing += connection.send(h11.EndOfMessage()) or b""
            sock.settimeout(deadline.remaining())
            sock.sendall(outgoing)
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    sock.settimeout(deadline.remaining())
                    chunk = sock.recv(READ_CHUNK)
                    if not chunk and status is None:
                        raise AttemptFailed(CONNECTION_CLOSED)
                    connection.receive_data(chunk)
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    retry_after = parse_retry_after(
                        _header(event, b"retry-after"), datetime.now(UTC)
                    )
                    encoding = _header(event, b"content-encoding").strip().lower()
                    reading_body = (
                        not 200 <= status < 300
                        and encoding in ("", "identity")
                        and self.shows_body(address)
                    )
                    if not reading_body:
                        break
                elif isinstance(event, h11.Data):
                    shown += event.data
                    if len(shown) >= MAX_BODY_BYTES:
                        break
                elif not isinstance(event, h11.InformationalResponse):
                    break  # the end of the answer, or of the connection
        except (OSError, AttemptFailed, h11.ProtocolError) as failure:
            if status is None:
                return Reply(None, None, _classified(failure))
            # The status came, then the body was cut short: keep what came.
        error = excerpt(bytes(shown[:MAX_BODY_BYTES])) if reading_body else None
        return Reply(status, retry_after, error)


def _header(response: h11.Response, name: bytes) -> str:
    """The first ``name`` header of ``response`` as text ('' when absent)."""
    for key, value in response.headers:
        if key == name:
            return value.decode("latin-1")
    return ""


def _classified(failure: BaseException) -> str:
    """The word the delivery log keeps for ``failure``: never its text."""
    if isinstance(failure, AttemptFailed):
        return failure.reason
    if isinstance(failure, TimeoutError):
        return TIMEOUT
    if isinstance(failure, ssl.SSLError | ssl.CertificateError):
        return TLS_ERROR
    if isinstance(failure, ConnectionRefusedError):
        return CONNECT_REFUSED
    if isinstance(failure, ConnectionError):
        return CONNECTION_CLOSED
    if isinstance(failure, h11.ProtocolError):
        return INVALID_ANSWER
    return UNREACHABLE
