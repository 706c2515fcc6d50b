"""A rep's own contacts and which of them a message touches (rules E2, E3, E8)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import contacts as contacts_module
from domain.contacts import (
    MAX_ADDRESSES_PER_CONTACT,
    Contact,
    ContactMatch,
    HeaderRole,
    InvalidContact,
    contact_json,
    match_contacts,
    parse_contact,
    parse_contacts,
)
from domain.errors import DomainError
from domain.messages import MailMessage, parse_message

REP = "rep-ann"
OTHER_REP = "rep-bob"

FROM = HeaderRole.FROM
TO = HeaderRole.TO
CC = HeaderRole.CC


def message(
    *,
    from_: tuple[str, ...] = (),
    to: tuple[str, ...] = (),
    cc: tuple[str, ...] = (),
    bcc: tuple[str, ...] = (),
) -> MailMessage:
    """A message read from a wire object whose headers hold these raw addresses."""
    wire: dict[str, Any] = {"id": "m-1"}
    for header, addresses in (("from", from_), ("to", to), ("cc", cc), ("bcc", bcc)):
        wire[header] = [{"email": address} for address in addresses]
    return parse_message(wire)


def contact(crm_id: str, *addresses: str, rep: str = REP) -> Contact:
    return Contact(rep_id=rep, crm_contact_id=crm_id, addresses=frozenset(addresses))


def match(crm_id: str, *roles: HeaderRole) -> ContactMatch:
    return ContactMatch(crm_id, frozenset(roles))


DANA = contact("c-dana", "dana@acme.example")
PRIYA = contact("c-priya", "priya@acme.example")
LEE = contact("c-lee", "lee@globex.example", "lee.brandt@globex.example")

MATCHES = [
    pytest.param(
        message(from_=("dana@acme.example",), to=("ann@sellerco.example",)),
        [DANA],
        (match("c-dana", FROM),),
        id="a contact in from matches through from",
    ),
    pytest.param(
        message(from_=("ann@sellerco.example",), to=("dana@acme.example",)),
        [DANA],
        (match("c-dana", TO),),
        id="a contact in to matches through to",
    ),
    pytest.param(
        message(from_=("ann@sellerco.example",), cc=("dana@acme.example",)),
        [DANA],
        (match("c-dana", CC),),
        id="a contact in cc matches through cc",
    ),
    pytest.param(
        message(from_=("dana@acme.example",), cc=("dana@acme.example",)),
        [DANA],
        (match("c-dana", FROM, CC),),
        id="a contact in from and cc matches through both",
    ),
    pytest.param(
        message(to=("dana@acme.example",), cc=("Dana <DANA@acme.example>",)),
        [DANA],
        (match("c-dana", TO, CC),),
        id="a contact in to and cc under two spellings matches through both",
    ),
    pytest.param(
        message(from_=("ann@sellerco.example",), bcc=("dana@acme.example",)),
        [DANA],
        (),
        id="a contact only in bcc never matches",
    ),
    pytest.param(
        message(to=("dana@acme.example",), bcc=("dana@acme.example",)),
        [DANA],
        (match("c-dana", TO),),
        id="a contact in to and bcc matches through to only",
    ),
    pytest.param(
        message(from_=("dana@acme.example",)),
        [contact("c-dana", "dana@acme.example", rep=OTHER_REP)],
        (),
        id="a contact of another rep with the same address never matches",
    ),
    pytest.param(
        message(from_=("dana@acme.example",)),
        [contact("c-dana-bob", "dana@acme.example", rep=OTHER_REP), DANA],
        (match("c-dana", FROM),),
        id="when both reps hold the address only this rep's contact matches",
    ),
    pytest.param(
        message(from_=("lee.brandt@globex.example",), cc=("lee@globex.example",)),
        [LEE],
        (match("c-lee", FROM, CC),),
        id="a contact with several addresses matches through each and combines the roles",
    ),
    pytest.param(
        message(to=("lee@globex.example",)),
        [LEE],
        (match("c-lee", TO),),
        id="a contact with several addresses matches through one of them",
    ),
    pytest.param(
        message(from_=("deals@acme.example",)),
        [contact("c-sales", "deals@acme.example"), contact("c-support", "deals@acme.example")],
        (match("c-sales", FROM), match("c-support", FROM)),
        id="two contacts sharing an address both match",
    ),
    pytest.param(
        message(
            from_=("dana@acme.example",), to=("ann@sellerco.example",), cc=("priya@acme.example",)
        ),
        [PRIYA, DANA, LEE],
        (match("c-dana", FROM), match("c-priya", CC)),
        id="several contacts match each through its own header",
    ),
    pytest.param(
        message(from_=("stranger@elsewhere.example",), to=("ann@sellerco.example",)),
        [DANA, PRIYA, LEE],
        (),
        id="a message without a contact address matches nothing",
    ),
    pytest.param(message(), [DANA], (), id="a message without headers matches nothing"),
    pytest.param(
        message(from_=("dana@acme.example",)), [], (), id="a rep without contacts matches nothing"
    ),
]


@pytest.mark.parametrize(("msg", "candidates", "expected"), MATCHES)
def test_a_message_matches_this_reps_contacts_through_from_to_and_cc(
    msg: MailMessage, candidates: list[Contact], expected: tuple[ContactMatch, ...]
) -> None:
    assert match_contacts(msg, REP, candidates) == expected


def test_matches_are_in_contact_id_order_whatever_the_order_of_the_contacts() -> None:
    msg = message(from_=("dana@acme.example",), cc=("priya@acme.example", "lee@globex.example"))
    results = {
        match_contacts(msg, REP, list(order))
        for order in itertools.permutations([DANA, PRIYA, LEE])
    }

    assert results == {(match("c-dana", FROM), match("c-lee", CC), match("c-priya", CC))}


def test_matching_reads_the_contacts_once_from_any_iterable() -> None:
    msg = message(from_=("dana@acme.example",))

    assert match_contacts(msg, REP, iter([DANA])) == (match("c-dana", FROM),)


# Reading contacts from the CRM -------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            {
                "id": "c-1",
                "emails": ["Dana Whitfield <Dana@Acme.example>", "dana.w@acme.example"],
                "name": "Dana Whitfield",
                "account_ref": "A-9",
                "lead_ref": "L-3",
            },
            Contact(
                REP,
                "c-1",
                frozenset({"dana@acme.example", "dana.w@acme.example"}),
                "Dana Whitfield",
                "A-9",
                "L-3",
            ),
            id="a full contact is read with its addresses normalised",
        ),
        pytest.param(
            {"id": 42, "emails": ["dana@acme.example"]},
            Contact(REP, "42", frozenset({"dana@acme.example"})),
            id="a numeric id is accepted as text",
        ),
        pytest.param(
            {"id": "  c-1 ", "emails": ["dana@acme.example"]},
            Contact(REP, "c-1", frozenset({"dana@acme.example"})),
            id="spaces around the id are trimmed",
        ),
        pytest.param(
            {"id": "c-1", "email": "Dana <dana@acme.example>"},
            Contact(REP, "c-1", frozenset({"dana@acme.example"})),
            id="a single email is accepted in place of emails",
        ),
        pytest.param(
            {"id": "c-1", "emails": None, "email": "dana@acme.example"},
            Contact(REP, "c-1", frozenset({"dana@acme.example"})),
            id="a null emails list gives way to a single email",
        ),
        pytest.param(
            {"id": "c-1", "emails": ["dana@acme.example"], "email": "other@acme.example"},
            Contact(REP, "c-1", frozenset({"dana@acme.example"})),
            id="emails wins over a single email",
        ),
        pytest.param(
            {
                "id": "c-1",
                "emails": ["dana@acme.example", "DANA@acme.example", "mailto:dana@acme.example"],
            },
            Contact(REP, "c-1", frozenset({"dana@acme.example"})),
            id="spellings of one address are kept once",
        ),
        pytest.param(
            {
                "id": "c-1",
                "emails": ["dana@acme.example"],
                "name": None,
                "account_ref": 9,
                "lead_ref": None,
            },
            Contact(REP, "c-1", frozenset({"dana@acme.example"}), None, "9", None),
            id="null references are none and a numeric reference is text",
        ),
        pytest.param(
            {
                "id": "c-1",
                "emails": [f"dana{i}@acme.example" for i in range(MAX_ADDRESSES_PER_CONTACT)],
            },
            Contact(
                REP,
                "c-1",
                frozenset(f"dana{i}@acme.example" for i in range(MAX_ADDRESSES_PER_CONTACT)),
            ),
            id="a contact may have fifty addresses",
        ),
    ],
)
def test_a_contact_from_the_crm_is_read(document: dict[str, Any], expected: Contact) -> None:
    assert parse_contact(REP, document) == expected


INVALID_CONTACTS = [
    pytest.param(
        ["c-1"], "the body: must be a JSON object", id="a contact that is not an object is refused"
    ),
    pytest.param(
        {"emails": ["dana@acme.example"]},
        "'id': is required",
        id="a contact without an id is refused",
    ),
    pytest.param(
        {"id": None, "emails": ["dana@acme.example"]},
        "'id': must be text or a whole number",
        id="a null id is refused",
    ),
    pytest.param(
        {"id": "  ", "emails": ["dana@acme.example"]},
        "'id': must not be blank",
        id="a blank id is refused",
    ),
    pytest.param(
        {"id": True, "emails": ["dana@acme.example"]},
        "'id': must be text or a whole number",
        id="a boolean id is refused",
    ),
    pytest.param(
        {"id": 4.2, "emails": ["dana@acme.example"]},
        "'id': must be text or a whole number",
        id="a fractional id is refused",
    ),
    pytest.param(
        {"id": "c" * 256, "emails": ["dana@acme.example"]},
        "'id': is longer than 255 characters",
        id="an id over 255 characters is refused",
    ),
    pytest.param(
        {"id": "c-1"},
        "the body: needs 'emails', a non-empty list (or one 'email')",
        id="a contact without addresses is refused",
    ),
    pytest.param(
        {"id": "c-1", "emails": []},
        "'emails': must have at least 1 item",
        id="an empty emails list is refused",
    ),
    pytest.param(
        {"id": "c-1", "emails": "dana@acme.example"},
        "'emails': must be a valid list",
        id="emails as text rather than a list is refused",
    ),
    pytest.param(
        {"id": "c-1", "email": None},
        "the body: needs 'emails', a non-empty list (or one 'email')",
        id="a null single email is refused",
    ),
    pytest.param(
        {"id": "c-1", "emails": ["dana@acme.example", 7]},
        "'emails[1]': must be a valid string",
        id="an address that is not text is refused",
    ),
    pytest.param(
        {"id": "c-1", "emails": ["dana.acme.example"]},
        "'emails[0]': 'dana.acme.example' is not an email address",
        id="a bad address is refused and named",
    ),
    pytest.param(
        {"id": "c-1", "emails": ["dana@acme.example, priya@acme.example"]},
        "'emails[0]': 'dana@acme.example, priya@acme.example' is not an email address",
        id="two addresses in one entry are refused rather than one dropped",
    ),
    pytest.param(
        {
            "id": "c-1",
            "emails": [f"d{i}@acme.example" for i in range(MAX_ADDRESSES_PER_CONTACT + 1)],
        },
        "'emails': must have at most 50 items",
        id="more than fifty addresses are refused",
    ),
    pytest.param(
        {"id": "c-1", "emails": ["dana@acme.example"], "account_ref": ["A-9"]},
        "'account_ref': must be text or a whole number",
        id="a reference that is not text is refused",
    ),
    pytest.param(
        {"id": "c-1", "emails": ["dana@acme.example"], "lead_ref": "L" * 256},
        "'lead_ref': is longer than 255 characters",
        id="a reference over 255 characters is refused",
    ),
]


@pytest.mark.parametrize(("document", "message"), INVALID_CONTACTS)
def test_a_contact_that_cannot_be_matched_on_is_refused(document: Any, message: str) -> None:
    with pytest.raises(DomainError) as raised:
        parse_contact(REP, document)

    assert raised.value.reason == "invalid_contact"
    assert raised.value.message == message


def test_a_bulk_replace_reads_every_contact_in_order() -> None:
    documents = [
        {"id": "c-2", "emails": ["priya@acme.example"]},
        {"id": 1, "email": "dana@acme.example"},
    ]

    assert parse_contacts(REP, {"contacts": documents}) == (
        Contact(REP, "c-2", frozenset({"priya@acme.example"})),
        Contact(REP, "1", frozenset({"dana@acme.example"})),
    )


def test_an_empty_bulk_replace_is_no_contacts() -> None:
    assert parse_contacts(REP, {"contacts": []}) == ()


VALID = {"id": "c-1", "emails": ["dana@acme.example"]}


@pytest.mark.parametrize(
    ("documents", "reason", "message"),
    [
        pytest.param(
            {"contacts": []},
            "invalid_contacts",
            "'contacts': must be a valid list",
            id="contacts that are not a list are refused",
        ),
        pytest.param(
            None,
            "invalid_contacts",
            "'contacts': must be a valid list",
            id="null contacts are refused",
        ),
        pytest.param(
            [VALID, {"id": "c-2"}],
            "invalid_contact",
            "'contacts[1]': needs 'emails', a non-empty list (or one 'email')",
            id="an invalid contact is named by its position",
        ),
        pytest.param(
            [VALID, {"id": "c-2", "emails": ["x"]}],
            "invalid_contact",
            "'contacts[1].emails[0]': 'x' is not an email address",
            id="a bad address is named by its contact's position",
        ),
        pytest.param(
            ["c-1"],
            "invalid_contact",
            "'contacts[0]': must be a JSON object",
            id="a contact that is not an object is named by its position",
        ),
        pytest.param(
            [VALID, {"id": "c-2", "emails": ["p@acme.example"]}, VALID],
            "duplicate_contact",
            "contacts[2]: contact 'c-1' is listed twice",
            id="the same contact id twice is refused at its second position",
        ),
        pytest.param(
            [{"id": 7, "email": "a@acme.example"}, {"id": " 7 ", "email": "b@acme.example"}],
            "duplicate_contact",
            "contacts[1]: contact '7' is listed twice",
            id="ids that read the same once trimmed are the same contact",
        ),
    ],
)
def test_a_bulk_replace_names_what_is_wrong(documents: Any, reason: str, message: str) -> None:
    with pytest.raises(DomainError) as raised:
        parse_contacts(REP, {"contacts": documents})

    assert (raised.value.reason, raised.value.message) == (reason, message)


def test_a_bulk_replace_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contacts_module, "MAX_CONTACTS_PER_REPLACE", 2)
    documents = [{"id": f"c-{i}", "emails": [f"d{i}@acme.example"]} for i in range(3)]

    with pytest.raises(InvalidContact) as raised:
        parse_contacts(REP, {"contacts": documents})

    assert (raised.value.reason, raised.value.message) == (
        "invalid_contacts",
        "at most 2 contacts per replace",
    )


def test_a_contact_is_shown_with_its_addresses_sorted() -> None:
    shown = Contact(REP, "c-1", frozenset({"z@acme.example", "a@acme.example"}), "Dana", "A-9")

    assert contact_json(shown) == {
        "id": "c-1",
        "rep_id": REP,
        "name": "Dana",
        "emails": ["a@acme.example", "z@acme.example"],
        "account_ref": "A-9",
        "lead_ref": None,
    }


# Properties --------------------------------------------------------------------------------

ADDRESSES = [
    "dana@acme.example",
    "priya@acme.example",
    "lee@globex.example",
    "ann@sellerco.example",
]
address_sets = st.frozensets(st.sampled_from(ADDRESSES), min_size=1)
headers = st.lists(st.sampled_from(ADDRESSES), max_size=3).map(tuple)


@st.composite
def rep_contacts(draw: st.DrawFn) -> list[Contact]:
    owners = draw(st.lists(st.sampled_from([REP, OTHER_REP]), max_size=6))
    return [
        Contact(rep_id=owner, crm_contact_id=f"{owner}/c-{i}", addresses=draw(address_sets))
        for i, owner in enumerate(owners)
    ]


@given(rep_contacts(), headers, headers, headers, headers)
def test_matching_is_exactly_this_reps_contacts_on_from_to_or_cc(
    candidates: list[Contact],
    from_: tuple[str, ...],
    to: tuple[str, ...],
    cc: tuple[str, ...],
    bcc: tuple[str, ...],
) -> None:
    msg = message(from_=from_, to=to, cc=cc, bcc=bcc)
    by_id = {c.crm_contact_id: c for c in candidates}

    found = match_contacts(msg, REP, candidates)

    assert all(by_id[m.crm_contact_id].rep_id == REP for m in found)
    expected = {
        c.crm_contact_id: {
            role
            for role, header in ((FROM, from_), (TO, to), (CC, cc))
            if c.addresses & set(header)
        }
        for c in candidates
        if c.rep_id == REP
    }
    assert {m.crm_contact_id: set(m.roles) for m in found} == {
        crm_id: roles for crm_id, roles in expected.items() if roles
    }
    assert [m.crm_contact_id for m in found] == sorted(m.crm_contact_id for m in found)


@pytest.mark.parametrize(
    ("document", "path"),
    [
        pytest.param(
            {"contacts": [{"id": "c-1", "email": "dana@acme.example", "nmae": "Dana"}]},
            "contacts[0].nmae",
            id="a typo in a contact",
        ),
        pytest.param({"contacts": [], "replace": True}, "replace", id="a key beside the list"),
    ],
)
def test_a_key_no_contact_has_is_refused_by_name(document: Any, path: str) -> None:
    with pytest.raises(DomainError) as raised:
        parse_contacts(REP, document)

    assert raised.value.reason == "unknown_field"
    assert path in raised.value.message


def test_a_list_of_wrong_contacts_is_refused_at_the_first_without_reading_the_rest() -> None:
    """A hostile bulk body costs what its first wrong contact costs: one contact's problems
    are named, not 200,000 error records built."""
    wrong = {"id": True, "emails": ["nope"] * 1_000}
    with pytest.raises(DomainError) as raised:
        parse_contacts(REP, {"contacts": [VALID, *[wrong] * 10_000]})

    assert raised.value.reason == "invalid_contact"
    assert [f.path for f in raised.value.fields] == ["contacts[1].id", "contacts[1].emails[0]"]
