"""Whose mailbox a hosted OAuth connection may bind to a rep (finding M5).

The connect URL crmsync hands the CRM can leak (referrers, chat, forwarded email, logs),
and Nylas's ``login_hint`` is only a hint: whoever opens the URL signs in with any account
they hold. Without a check, that account becomes the rep's mailbox, and the CRM sends its
email through it and pushes its action items into its calendar. So the address of the grant
Nylas returns must be the rep's own address, compared as addresses are everywhere in crmsync
(E3: trimmed, lower-cased, display name removed), or belong to a domain the operator listed
(``CRMSYNC_CONNECT_ALLOWED_DOMAINS``) that the rep's own address belongs to as well, for
companies whose reps connect another mailbox of the company. A grant with no address cannot
be bound to anyone. Pure functions of their inputs.
"""

from __future__ import annotations

from collections.abc import Collection

from domain.addresses import normalise_address
from domain.errors import DomainError


class InvalidDomain(DomainError):
    """Raised when a configured mailbox domain is not a domain name."""


def parse_domain(text: str) -> str:
    """A configured domain in the form addresses are compared in (``Acme.example`` or
    ``@acme.example`` give ``acme.example``).

    Raises:
        InvalidDomain: the text is not a plausible domain name.
    """
    domain = text.strip().removeprefix("@")
    address = normalise_address(f"mailbox@{domain}") if domain and "@" not in domain else None
    if address is None:
        raise InvalidDomain("invalid_domain", f"{text!r} is not a domain such as acme.example")
    return address.partition("@")[2]


def mailbox_belongs_to_rep(
    rep_email: str, grant_email: str | None, allowed_domains: Collection[str] = ()
) -> bool:
    """True when a grant of ``grant_email`` may become the mailbox of the rep at ``rep_email``.

    The same address (E3's comparison) always may; another address only when both its
    domain and the rep's are among ``allowed_domains`` (given normalised, see
    :func:`parse_domain`): the listed domains are one company's, and a rep of another
    company is not vouched for by them.
    """
    grant = normalise_address(grant_email) if grant_email is not None else None
    rep = normalise_address(rep_email)
    if grant is None or rep is None:
        return False
    if grant == rep:
        return True
    return grant.partition("@")[2] in allowed_domains and rep.partition("@")[2] in allowed_domains
