"""Which grant may become a rep's mailbox (M5): the rep's own address, or a listed domain."""

from __future__ import annotations

import pytest

from domain.mailbox_binding import InvalidDomain, mailbox_belongs_to_rep, parse_domain

ACME = frozenset({"acme.example"})


@pytest.mark.parametrize(
    ("rep_email", "grant_email", "allowed", "belongs"),
    [
        ("ann@acme.example", "ann@acme.example", (), True),
        ("ann@acme.example", "Ann@ACME.example", (), True),
        ("ann@acme.example", " Ann Lee <ann@acme.example> ", (), True),
        ("ann@acme.example", "mailto:ann@acme.example", (), True),
        ("ann@acme.example", "mallory@attacker.example", (), False),
        ("ann@acme.example", "ann@acme.example.attacker.example", (), False),
        ("ann@acme.example", "ann@attacker.example", (), False),
        ("ann@acme.example", "ann.sales@acme.example", (), False),
        ("ann@acme.example", "ann.sales@acme.example", ACME, True),
        ("ann@acme.example", "ANN.SALES@Acme.Example", ACME, True),
        ("ann@acme.example", "mallory@attacker.example", ACME, False),
        ("ann@acme.example", "mallory@sub.acme.example", ACME, False),
        ("ann@gmail.example", "boss@acme.example", ACME, False),  # the rep is not of acme
        ("ann@acme.example", None, (), False),
        ("ann@acme.example", None, ACME, False),
        ("ann@acme.example", "", (), False),
        ("ann@acme.example", "not an address", ACME, False),
        ("ann@acme.example", "ann@acme.example, mallory@attacker.example", (), False),
    ],
)
def test_a_grant_belongs_to_the_rep_only_by_address_or_listed_domain(
    rep_email: str, grant_email: str | None, allowed: frozenset[str], belongs: bool
) -> None:
    assert mailbox_belongs_to_rep(rep_email, grant_email, allowed) is belongs


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("acme.example", "acme.example"),
        (" Acme.EXAMPLE ", "acme.example"),
        ("@acme.example", "acme.example"),
    ],
)
def test_a_configured_domain_is_normalised(text: str, domain: str) -> None:
    assert parse_domain(text) == domain


@pytest.mark.parametrize("text", ["", "@", "a@acme.example", "acme example", "acme..example"])
def test_a_configured_value_that_is_no_domain_is_refused(text: str) -> None:
    with pytest.raises(InvalidDomain):
        parse_domain(text)
