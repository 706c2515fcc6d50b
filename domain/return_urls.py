"""Where the OAuth callback may send a rep's browser back to, and how it says what happened.

The CRM gives a ``return_url`` when it starts a connection; the callback redirects the
browser there with ``rep_id`` and ``status`` added. Any URL accepted here is one crmsync will
redirect to from its own domain, so only the origins an operator listed
(``CRMSYNC_RETURN_URL_ORIGINS``) are accepted: an open redirect on crmsync's domain lends it
to phishing (OWASP, Unvalidated Redirects), and Nylas itself registers its callback URIs.

Origins are compared the way browsers compare them (RFC 6454): scheme, host and port, the
scheme and host lower-cased and the default port left out. A URL is refused outright when a
browser could read it differently from :func:`urllib.parse.urlsplit` (a backslash, a space
or a control character, credentials before the host), so the origin checked is the origin
the browser goes to. Pure functions of their inputs.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from domain.errors import DomainError

# A browser keeps longer URLs, but a CRM page's address is far shorter; the cap keeps a
# 5 MB "URL" out of the database and out of a Location header.
MAX_RETURN_URL_LENGTH = 2_048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The query parameters the callback sets; the same names already in a return_url are
# replaced, so the page never reads a stale or planted status first.
STATUS_PARAMETERS = frozenset({"rep_id", "status", "error"})


class InvalidReturnUrl(DomainError):
    """Raised when a ``return_url`` is not one the callback may redirect to."""


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL as a browser reads it, or None.

    None when the text is not plainly an absolute http(s) URL: no host, credentials before
    the host, a port that is not a number, or a character (backslash, space, control,
    non-ASCII) on which browsers and :func:`urlsplit` may disagree about the host.
    """
    if not url.isascii() or any(c.isspace() or not c.isprintable() or c == "\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed or misplaced bracket: "http://[::1/", "http://a]b/"
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets in an origin
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_origin(text: str) -> str:
    """The normalised origin an operator configured (``https://crm.example.com``).

    Raises:
        InvalidReturnUrl: not an http(s) origin, or it carries a path, query or fragment.
    """
    origin = origin_of(text.strip())
    parts = urlsplit(text.strip()) if origin is not None else None
    if (
        origin is None
        or parts is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise InvalidReturnUrl(
            "invalid_origin", f"{text!r} is not an origin such as https://crm.example.com"
        )
    return origin


def check_return_url(url: str, allowed_origins: Collection[str]) -> str:
    """``url`` when the callback may redirect to it.

    Raises:
        InvalidReturnUrl: too long (``return_url_too_long``), not plainly an http(s) URL
            (``invalid_return_url``), or of an origin not listed (``return_url_not_allowed``).
    """
    if len(url) > MAX_RETURN_URL_LENGTH:
        raise InvalidReturnUrl(
            "return_url_too_long",
            f"return_url is {len(url)} characters; at most {MAX_RETURN_URL_LENGTH}",
        )
    origin = origin_of(url)
    if origin is None:
        raise InvalidReturnUrl(
            "invalid_return_url",
            "return_url must be an absolute http(s) URL without credentials, spaces or '\\'",
        )
    if origin not in allowed_origins:
        listed = ", ".join(sorted(allowed_origins)) or "none (CRMSYNC_RETURN_URL_ORIGINS unset)"
        raise InvalidReturnUrl(
            "return_url_not_allowed",
            f"return_url's origin {origin} is not allowed; allowed origins: {listed}",
        )
    return url


def with_status(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` in its query, before any ``#fragment``.

    ``https://crm/p?x=1#tab`` becomes ``https://crm/p?x=1&rep_id=r1&status=connected#tab``:
    appended after the fragment, the status would never reach the server or the page's
    query. Parameters of the same names already in the query are replaced.
    """
    parts = urlsplit(url)
    kept = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in STATUS_PARAMETERS
    ]
    query = urlencode([*kept, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
