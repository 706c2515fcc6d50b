"""A subscriber's URL read the one way both the API and the delivery client read it.

Parsing once, strictly, closes the parser differentials an SSRF lives on: ``http://[::1/``
and ``http://a]b/`` are refused (not a 500), a port must be 1 to 65535, userinfo is refused
in any spelling (``http://@127.0.0.1/`` too), a name must be a DNS name, and the old numeric
IPv4 spellings that resolvers still accept (``2130706433``, ``0x7f000001``, ``127.1``,
``0177.0.0.1``) are read as the addresses they are, as browsers do (the WHATWG URL standard's
IPv4 parser), so that the address check sees them.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from domain.errors import DomainError
from domain.outbound_addresses import IPAddress, IPNetwork, address_allowed, allows_loopback

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
# What may stand in a request target as is: printable ASCII but the space.
_TARGET_SAFE = "".join(c for c in string.printable if c not in string.whitespace)
_LABEL_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "-_")


class InvalidUrl(DomainError):
    """Raised when a URL is not one a webhook can be delivered to.

    ``reason`` is ``invalid_url`` (not a usable http(s) URL) or ``url_not_allowed`` (its host
    is an address, or ``localhost``, that deliveries may not reach).
    """


@dataclass(frozen=True, slots=True)
class Target:
    """Where a delivery goes: the parts of its URL, checked and normalised."""

    scheme: str  # "http" or "https"
    host: str  # an ASCII (IDNA) name, or the address when ``address`` is set
    port: int
    address: IPAddress | None  # set when the URL names an address, not a name
    request_target: str  # the path and query, ASCII

    @property
    def host_header(self) -> str:
        """``Host``: the name as the URL gave it (bracketed for IPv6), the port if not default."""
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def names_loopback(self) -> bool:
        """Whether the host is ``localhost`` or under it: always loopback (RFC 6761)."""
        return self.address is None and (
            self.host == "localhost" or self.host.endswith(".localhost")
        )


def parse_target(url: object) -> Target:
    """Read a subscriber URL.

    Raises:
        InvalidUrl: with reason ``invalid_url``, saying what is wrong.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise _invalid(f"'url' must be an http(s) URL of at most {MAX_URL_LENGTH} characters")
    if any(c in string.whitespace or ord(c) < 32 or ord(c) == 127 for c in url):
        raise _invalid("'url' must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise _invalid(f"'url' is not a URL ({error})") from error
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _invalid("'url' must be an http(s) URL")
    if "@" in parts.netloc:
        raise _invalid("'url' must not carry credentials; deliveries are signed")
    host_text, port_text = _split_host_port(parts.netloc)
    address, host = _host(host_text)
    port = _port(port_text, DEFAULT_PORTS[scheme])
    path = quote(parts.path or "/", safe=_TARGET_SAFE)
    query = quote(parts.query, safe=_TARGET_SAFE)
    return Target(scheme, host, port, address, f"{path}?{query}" if query else path)


def refuse_unreachable(target: Target, allowed_networks: Sequence[IPNetwork]) -> None:
    """Refuse, before any delivery, a URL whose host deliveries could never reach: an address
    that is neither public nor allowed, or ``localhost`` when loopback is not allowed.

    Names are checked again, after resolution, by the delivery client at every attempt.

    Raises:
        InvalidUrl: with reason ``url_not_allowed``.
    """
    if target.address is not None and not address_allowed(target.address, allowed_networks):
        raise InvalidUrl(
            "url_not_allowed",
            f"deliveries may not reach {target.address}: not a public address, and not in "
            "CRMSYNC_WEBHOOK_ALLOWED_NETWORKS",
        )
    if target.names_loopback and not allows_loopback(allowed_networks):
        raise InvalidUrl(
            "url_not_allowed",
            f"deliveries may not reach {target.host} (loopback): not in "
            "CRMSYNC_WEBHOOK_ALLOWED_NETWORKS",
        )


def _invalid(message: str) -> InvalidUrl:
    return InvalidUrl("invalid_url", message)


def _split_host_port(netloc: str) -> tuple[str, str | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise _invalid("'url' has an unclosed '[' in its host")
        rest = netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _invalid("'url' has text after its bracketed host")
        return netloc[: end + 1], rest[1:] if rest else None
    if "[" in netloc or "]" in netloc:
        raise _invalid("'url' has a bracket outside a bracketed IPv6 host")
    host, colon, port = netloc.rpartition(":")
    return (host, port) if colon else (netloc, None)


def _port(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or not 0 < int(text) <= 65535:
        raise _invalid("'url' has a port that is not a number from 1 to 65535")
    return int(text)


def _host(text: str) -> tuple[IPAddress | None, str]:
    if text.startswith("["):
        try:
            address = ipaddress.IPv6Address(text[1:-1])
        except ValueError as error:
            raise _invalid("'url' has a bracketed host that is not an IPv6 address") from error
        if address.scope_id:
            raise _invalid("'url' must not name an IPv6 zone")
        return address, str(address)
    name = text[:-1] if text.endswith(".") else text
    if not name:
        raise _invalid("'url' must name a host")
    try:
        name = name.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise _invalid("'url' has a host that is not a valid name") from error
    legacy = legacy_ipv4(name)
    if legacy is not None:
        return legacy, str(legacy)
    labels = name.split(".")
    if len(name) > 253 or not all(0 < len(x) <= 63 and set(x) <= _LABEL_CHARACTERS for x in labels):
        raise _invalid("'url' has a host that is not a valid name")
    return None, name


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``host`` spells, in any form the WHATWG URL standard accepts (parts in
    decimal, octal ``0177`` or hex ``0x7f``; ``127.1``; one 32-bit number); None for a name.

    Raises:
        InvalidUrl: the host ends in a number yet is no IPv4 address (``1.2.3.4.5``, ``256.0.0.1``).
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if _number(parts[-1]) is None:
        return None
    numbers = [_number(p) for p in parts]
    valid = [n for n in numbers if n is not None]
    if len(parts) > 4 or len(valid) != len(parts):
        raise _invalid("'url' has a host that ends in a number but is no IPv4 address")
    *leading, last = valid
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(valid)):
        raise _invalid("'url' has an IPv4 address out of range")
    value = last
    for n, part in enumerate(leading):
        value += part * 256 ** (3 - n)
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    allowed = string.hexdigits if base == 16 else string.digits[:base]
    if not part or not all(c in allowed for c in digits):
        return None
    return int(digits, base) if digits else 0
