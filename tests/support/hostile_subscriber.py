"""A hostile webhook subscriber: real HTTP on loopback, answering the way an endpoint owner
who wants to hurt crmsync would (the review's H2, H3 and M1).

Written on raw sockets, not a framework, so that it can misbehave at the byte level: a head
dripped one byte at a time, a 200 MB body generated while it is sent, a gzip bomb, a megabyte
of headers. Every request is recorded (the headers as they arrived), and so is how many body
bytes each connection managed to send before the client hung up.

Paths (the status is the number in the path where there is one):

- ``/ok``: 200, empty. ``/status/<code>``: that status, empty.
- ``/nul``: 500 with ``\\x00nul-in-body``. ``/leak``: 500 with an internal-looking secret.
- ``/retry-after-huge``: 503 with ``Retry-After: 99999999999999999999``.
- ``/huge/<code>``: ``<code>`` with a 200 MB body, generated as it is sent.
- ``/gzip-bomb``: 500 with ``Content-Encoding: gzip``: about 200 KB that inflates to 200 MB.
- ``/drip-head``: a status line, then one byte of headers every 0.1 s, for a minute.
- ``/drip-body/<code>``: ``<code>`` with ``Content-Length: 100``, then a byte every 0.2 s.
- ``/huge-head``: 200 with a megabyte of headers.
- ``/redirect?to=<url>``: 302 to ``<url>``.
"""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

HUGE = 200 * 1024 * 1024
CHUNK = 64 * 1024
LEAK = b"INTERNAL-ONLY: db_password=hunter2; aws_key=AKIAEXAMPLE"


@dataclass
class Seen:
    """One request as it arrived."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HostileSubscriber:
    """The server's record: its base URL, the requests seen, body bytes sent per answer."""

    base: str = ""
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    bytes_sent: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def only_request(self) -> Seen:
        with self.lock:
            assert len(self.requests) == 1, self.requests
            return self.requests[0]


@functools.cache
def gzip_bomb() -> bytes:
    """About 200 KB of gzip that inflates to 200 MB of zeros (made once, in 1 MiB steps)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(HUGE // len(zeros))]
    return b"".join(parts) + compressor.flush()


@functools.cache
def huge_head() -> bytes:
    """A 200 answer's head with a megabyte of headers (made once)."""
    return _head(200, {"Content-Length": "0"} | {f"X-Filler-{n}": "f" * 1000 for n in range(1000)})


@contextmanager
def hostile_subscriber(
    host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> Iterator[HostileSubscriber]:
    """Serve on a free port of ``host`` until the block ends (over TLS with ``tls``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(64)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    scheme = "https" if tls else "http"
    server = HostileSubscriber(base=f"{scheme}://{shown}:{port}", port=port)

    def accept() -> None:
        while not server.stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_serve, args=(server, connection, tls), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        thread.join(timeout=5)
        listener.close()


def _serve(
    server: HostileSubscriber, connection: socket.socket, tls: ssl.SSLContext | None
) -> None:
    connection.settimeout(10)
    if tls is not None:
        try:
            connection = tls.wrap_socket(connection, server_side=True)
        except OSError:
            connection.close()
            return  # the client refused the certificate
    with connection:
        try:
            seen = _read_request(connection)
        except (OSError, ValueError):
            return
        with server.lock:
            server.requests.append(seen)
        try:
            sent = _answer(server, connection, seen)
        except OSError:
            return  # the client hung up on a short answer
        with server.lock:
            server.bytes_sent.append(sent)


def _read_request(connection: socket.socket) -> Seen:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ValueError("closed before a request")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Seen(method, target, headers, rest)


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _answer(server: HostileSubscriber, connection: socket.socket, seen: Seen) -> int:
    """Answer ``seen``; returns the body bytes sent (a partial count if the client hangs up)."""
    parts = urlsplit(seen.target)
    path = parts.path
    number = path.rsplit("/", 1)[-1]
    status = int(number) if number.isdigit() else 200
    if path == "/nul":
        return _send(connection, 500, b"\x00nul-in-body")
    if path == "/leak":
        return _send(connection, 500, LEAK)
    if path == "/retry-after-huge":
        return _send(connection, 503, b"", {"Retry-After": "99999999999999999999"})
    if path == "/gzip-bomb":
        return _send(connection, 500, gzip_bomb(), {"Content-Encoding": "gzip"})
    if path == "/huge-head":
        connection.sendall(huge_head())
        return 0
    if path == "/redirect":
        to = parse_qs(parts.query).get("to", ["/ok"])[0]
        return _send(connection, 302, b"", {"Location": to})
    if path.startswith("/huge/"):
        connection.sendall(_head(status, {"Content-Length": str(HUGE)}))
        return _stream(server, connection, HUGE, CHUNK, pause=0.0)
    if path == "/drip-head":
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        return _stream(server, connection, 600, 1, pause=0.1, byte=b"X")
    if path.startswith("/drip-body/"):
        connection.sendall(_head(status, {"Content-Length": "100"}))
        return _stream(server, connection, 100, 1, pause=0.2, byte=b"d")
    return _send(connection, status, b"")


def _send(
    connection: socket.socket, status: int, body: bytes, headers: dict[str, str] | None = None
) -> int:
    connection.sendall(_head(status, {"Content-Length": str(len(body)), **(headers or {})}) + body)
    return len(body)


def _stream(
    server: HostileSubscriber,
    connection: socket.socket,
    total: int,
    size: int,
    *,
    pause: float,
    byte: bytes = b"a",
) -> int:
    """Send ``total`` bytes ``size`` at a time; stops, counting, when the client hangs up."""
    block = byte * size
    sent = 0
    try:
        while sent < total and not server.stopping.is_set():
            connection.sendall(block)
            sent += size
            if pause:
                time.sleep(pause)
    except OSError:
        pass
    return sent


@dataclass
class Trap:
    """A listener that never answers: it only counts the connections made to it."""

    listener: socket.socket
    port: int

    def connections(self) -> int:
        """How many connections reached it (the kernel completes them before any accept)."""
        count = 0
        while True:
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


@contextmanager
def trap(host: str = "127.0.0.1", port: int = 0) -> Iterator[Trap]:
    """A :class:`Trap` on ``host`` (a free port unless ``port`` is given)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((host, port))
    listener.listen(16)
    listener.setblocking(False)
    try:
        yield Trap(listener, listener.getsockname()[1])
    finally:
        listener.close()
