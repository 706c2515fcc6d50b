"""Email addresses compared the way people mean them (rule E3).

A contact's address typed into the CRM and the same address on a message header rarely
match byte for byte: display names, angle brackets, ``mailto:``, stray spaces and capitals
all differ. Everything crmsync compares goes through :func:`normalise_address` first, on
the way into storage and on the way out of a message, so both sides meet in one form.

The whole address is lower-cased. RFC 5321 lets a server treat the local part as case
sensitive, but no mainstream provider does, and a missed match costs a rep an email while a
false one is practically unheard of.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import DomainError
from domain.text import clipped

# Characters that never appear in an address as people write one (outside RFC 5322 quoting,
# which no CRM contact or mail header crmsync meets uses): their presence means the text
# holds something else, such as two addresses ("a@x.com, b@y.com") or a comment.
_NOT_IN_ADDRESS = frozenset('<>()[],;:"\\')


class InvalidAddress(DomainError):
    """Raised when a value given as an email address cannot be one."""


def normalise_address(raw: str) -> str | None:
    """The comparable form of ``raw``: trimmed, lower-cased, without a display name.

    ``"Ann Lee <Ann.Lee@Example.COM>"`` and ``" mailto:ann.lee@example.com "`` both give
    ``"ann.lee@example.com"``. Returns None when ``raw`` holds no usable address, and also
    when it holds several (``"ann@x.com, bob@y.com"``): picking one would drop the others.

    The text is read by hand rather than with ``email.utils.parseaddr``, whose answers
    differ between Python patch releases and which reads ``"Lee, Ann <ann@x.com>"`` as
    ``Lee`` and ``"<mailto:ann@x.com>"`` as ``mailto``.
    """
    text = raw.strip()
    if text.endswith(">") and "<" in text:
        # "Display Name <address>": the address is inside the last angle brackets; the
        # display name before them may hold anything, commas and "@" included.
        text = text[text.rindex("<") + 1 : -1].strip()
    if text[: len("mailto:")].lower() == "mailto:":
        # A mailto: URI may carry ?subject=... after the address.
        text = text[len("mailto:") :].partition("?")[0].strip()
    address = text.lower()
    local, _at, domain = address.partition("@")
    if not local or not domain or not _plausible_domain(domain):
        return None
    if any(c.isspace() or not c.isprintable() or c in _NOT_IN_ADDRESS for c in address):
        return None
    return address


def _plausible_domain(domain: str) -> bool:
    """Dot-separated labels of letters (any script), digits, ``-`` and ``_``; no "@"."""
    labels = domain.split(".")
    return all(labels) and all(c.isalnum() or c in "-_" for label in labels for c in label)


def require_address(raw: str) -> str:
    """The normalised form of ``raw``, for input that must be an address (CRM contacts).

    Raises:
        InvalidAddress: ``raw`` holds no usable email address.
    """
    address = normalise_address(raw)
    if address is None:
        raise InvalidAddress("invalid_address", f"{clipped(raw)!r} is not an email address")
    return address


def normalise_all(raws: Iterable[str]) -> frozenset[str]:
    """The normalised addresses among ``raws``; values that hold none are left out."""
    return frozenset(a for a in (normalise_address(r) for r in raws) if a is not None)
