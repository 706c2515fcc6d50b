"""Reading a Nylas Message object (NYLAS.md 3.1) into a MailMessage, whatever the provider.

The wire objects come from the recorded-shape fixtures where one fits (Gmail, a truncated
Microsoft message, a cleaned truncated Gmail update) and are built to NYLAS.md 3.1 otherwise.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.messages import (
    Attachment,
    MailMessage,
    MalformedMessage,
    Participant,
    message_to_wire,
    parse_message,
)
from domain.text import without_nul

FixtureLoader = Callable[[str], bytes]

GMAIL_GRANT = "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
MICROSOFT_GRANT = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"
MICROSOFT_MESSAGE = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AmQ3zvTfSZ0WjbWuJ8V1dYAAAAbxZ2AAA="
MICROSOFT_INBOX = (
    "AQMkADAwATM0MDAAMS1iNTcwLWI2NTEtMDACLTAwCgAuAAADEk8lyWVYRUW0qg6Ce0vGAQEA"
    "mQ3zvTfSZ0WjbWuJ8V1dYAAAAgEMAAAA"
)


def wire_message(loader: FixtureLoader, name: str) -> dict[str, Any]:
    """The message object (``data.object``) of a notification fixture, free to change."""
    envelope = json.loads(loader(name))
    message = envelope["data"]["object"]
    assert isinstance(message, dict)
    return message


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# Real-shaped messages ----------------------------------------------------------------------


def test_a_gmail_message_is_read_whole(nylas_fixture: FixtureLoader) -> None:
    message = parse_message(wire_message(nylas_fixture, "message_created_gmail"))

    assert message == MailMessage(
        message_id="1914a7c3e2b5d6f8",
        grant_id=GMAIL_GRANT,
        thread_id="1914a7c3e2b5d6f8",
        subject="Re: Q3 renewal for Acme",
        snippet="Hi Sam, thanks for the revised quote. We can sign by Friday if",
        body=(
            '<div dir="ltr">Hi Sam,<br><br>Thanks for the revised quote. We can sign by Friday'
            " if the onboarding dates hold.<br><br>Dana</div>"
        ),
        sender=(Participant("dana.whitfield@acme-corp.example", "Dana Whitfield"),),
        to=(Participant("sam.ortega@sellerco.example", "Sam Ortega"),),
        cc=(
            Participant("priya@acme-corp.example", "Priya Natarajan"),
            Participant("deals@sellerco.example", None),
        ),
        bcc=(),
        date=at(1723821980),
        folder_ids=("UNREAD", "CATEGORY_PERSONAL", "INBOX"),
        unread=True,
        starred=False,
        attachments=(
            Attachment(
                id="v0:cXVvdGUucGRm:YXBwbGljYXRpb24vcGRm:48213",
                filename="quote-signed.pdf",
                content_type="application/pdf",
                size=48213,
                is_inline=False,
            ),
        ),
    )


def test_a_truncated_microsoft_message_has_no_body_and_keeps_the_rest(
    nylas_fixture: FixtureLoader,
) -> None:
    message = parse_message(wire_message(nylas_fixture, "message_created_truncated_microsoft"))

    assert message.message_id == MICROSOFT_MESSAGE
    assert message.grant_id == MICROSOFT_GRANT
    assert message.body is None  # "" on the wire: left out, not empty
    assert message.snippet.startswith("Please find attached the signed contract")
    assert message.folder_ids == (MICROSOFT_INBOX,)
    assert message.sender == (Participant("lee.brandt@globex.example", "Lee Brandt"),)
    assert message.attachments == (
        Attachment(
            id="AAMkADAwATM0MDAAMS1iNTcwLWI2NTEtMDACLTAwCgBGAAAAAAAQ4f5UAAABEgAQABGdR1g=",
            filename="appendices-scan.pdf",
            content_type="application/pdf",
            size=3817264,
            is_inline=False,
        ),
    )


def test_a_cleaned_truncated_update_without_a_body_key_has_no_body(
    nylas_fixture: FixtureLoader,
) -> None:
    message = parse_message(wire_message(nylas_fixture, "message_updated_cleaned_truncated"))

    assert message.body is None
    assert message.folder_ids == ("SENT", "Label_7")
    assert (message.unread, message.starred) == (False, True)
    assert message.attachments == ()


def test_a_microsoft_message_without_from_is_read_with_no_sender(
    nylas_fixture: FixtureLoader,
) -> None:
    wire = wire_message(nylas_fixture, "message_created_truncated_microsoft")
    del wire["from"]  # GH:nylas/nylas-python#382

    message = parse_message(wire)

    assert message.sender == ()
    assert message.matching_addresses() == frozenset({"sam.ortega@sellerco.example"})


# Tolerance of loose fields -----------------------------------------------------------------

MINIMAL: dict[str, Any] = {"id": "m-1"}


@pytest.mark.parametrize(
    ("field", "value", "attribute", "expected"),
    [
        pytest.param("from", None, "sender", (), id="a null from list gives no sender"),
        pytest.param("to", None, "to", (), id="a null to list gives no recipients"),
        pytest.param("cc", None, "cc", (), id="a null cc list gives no cc"),
        pytest.param("bcc", None, "bcc", (), id="a null bcc list gives no bcc"),
        pytest.param(
            "to", "ann@acme.example", "to", (), id="a string in place of a list is ignored"
        ),
        pytest.param("folders", None, "folder_ids", (), id="null folders give no folders"),
        pytest.param(
            "folders",
            ["INBOX", "", 7, None, {"id": "SENT"}],
            "folder_ids",
            ("INBOX",),
            id="folder ids that are not strings or are empty are dropped",
        ),
        pytest.param("attachments", None, "attachments", (), id="null attachments give none"),
        pytest.param(
            "attachments",
            ["quote.pdf", 3, None],
            "attachments",
            (),
            id="attachments that are not objects are dropped",
        ),
        pytest.param("date", None, "date", None, id="a null date leaves the message undated"),
        pytest.param("date", "1723821980", "date", None, id="a date as a string leaves it undated"),
        pytest.param("date", True, "date", None, id="a date as a boolean leaves it undated"),
        pytest.param(
            "date", float("nan"), "date", None, id="a date that is not a number leaves it undated"
        ),
        pytest.param("date", float("inf"), "date", None, id="an infinite date leaves it undated"),
        pytest.param(
            "date", 10**20, "date", None, id="a date beyond the calendar leaves it undated"
        ),
        pytest.param(
            "date",
            1723821980.75,
            "date",
            at(1723821980),
            id="a fractional date is read to the second",
        ),
        pytest.param("unread", "true", "unread", None, id="an unread flag as text is unknown"),
        pytest.param("unread", 1, "unread", None, id="an unread flag as a number is unknown"),
        pytest.param("starred", None, "starred", None, id="a null starred flag is unknown"),
        pytest.param("subject", None, "subject", "", id="a null subject is empty"),
        pytest.param("subject", 42, "subject", "", id="a subject that is not text is empty"),
        pytest.param("snippet", None, "snippet", "", id="a null snippet is empty"),
        pytest.param("body", "", "body", None, id="an empty body means no body"),
        pytest.param("body", None, "body", None, id="a null body means no body"),
        pytest.param("body", ["<p>"], "body", None, id="a body that is not text means no body"),
        pytest.param("grant_id", 5, "grant_id", None, id="a grant id that is not text is unknown"),
        pytest.param("thread_id", "", "thread_id", None, id="an empty thread id is unknown"),
    ],
)
def test_a_loose_field_is_tolerated(field: str, value: Any, attribute: str, expected: Any) -> None:
    message = parse_message({**MINIMAL, field: value})

    assert getattr(message, attribute) == expected


def test_a_message_with_only_an_id_is_read_with_empty_defaults() -> None:
    assert parse_message(MINIMAL) == MailMessage(
        message_id="m-1",
        grant_id=None,
        thread_id=None,
        subject="",
        snippet="",
        body=None,
        sender=(),
        to=(),
        cc=(),
        bcc=(),
        date=None,
        folder_ids=(),
        unread=None,
        starred=None,
        attachments=(),
    )


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param({}, id="a message without an id is malformed"),
        pytest.param({"id": None}, id="a null id is malformed"),
        pytest.param({"id": ""}, id="an empty id is malformed"),
        pytest.param({"id": 1914}, id="a numeric id is malformed"),
        pytest.param({"id": ["m-1"]}, id="a list as id is malformed"),
        pytest.param(
            {"message_id": "m-1", "subject": "Hi"},
            id="a tracking object carrying message_id but no id is malformed",
        ),
    ],
)
def test_a_message_without_an_id_is_refused(wire: dict[str, Any]) -> None:
    with pytest.raises(MalformedMessage) as raised:
        parse_message(wire)

    assert raised.value.reason == "missing_message_id"


# Participants ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param(
            [{"name": "Dana Whitfield", "email": "Dana.Whitfield@Acme-Corp.example"}],
            (Participant("dana.whitfield@acme-corp.example", "Dana Whitfield"),),
            id="the address is normalised and the name kept",
        ),
        pytest.param(
            [{"email": "dana@acme.example"}],
            (Participant("dana@acme.example", None),),
            id="a missing name is none",
        ),
        pytest.param(
            [{"name": "", "email": "dana@acme.example"}],
            (Participant("dana@acme.example", None),),
            id="an empty name is none",
        ),
        pytest.param(
            [{"email": "Dana <dana@acme.example>"}],
            (Participant("dana@acme.example", None),),
            id="a display name inside the email field is removed",
        ),
        pytest.param(
            [
                {"name": "Dana", "email": "dana@acme.example"},
                {"name": "D. Whitfield", "email": "DANA@acme.example"},
                {"email": "mailto:dana@acme.example"},
            ],
            (Participant("dana@acme.example", "Dana"),),
            id="duplicates in one header collapse to the first",
        ),
        pytest.param(
            [
                {"name": "No address"},
                {"name": "Null", "email": None},
                {"name": "Bad", "email": "not an address"},
                {"email": 42},
                "dana@acme.example",
                None,
                {"name": "Lee", "email": "lee@globex.example"},
            ],
            (Participant("lee@globex.example", "Lee"),),
            id="entries without a usable address are dropped",
        ),
        pytest.param(
            [{"email": "b@x.example"}, {"email": "a@x.example"}],
            (Participant("b@x.example"), Participant("a@x.example")),
            id="the order of the header is kept",
        ),
    ],
)
def test_participants_of_a_header(entries: list[Any], expected: tuple[Participant, ...]) -> None:
    assert parse_message({**MINIMAL, "to": entries}).to == expected


def test_a_participant_is_shown_as_its_address_and_name() -> None:
    assert Participant("dana@acme.example", "Dana").to_json() == {
        "email": "dana@acme.example",
        "name": "Dana",
    }


# Attachments: metadata only (E6) -----------------------------------------------------------


def test_an_attachment_holds_its_metadata_and_no_content() -> None:
    assert [f.name for f in dataclasses.fields(Attachment)] == [
        "id",
        "filename",
        "content_type",
        "size",
        "is_inline",
    ]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            {
                "id": "att-1",
                "grant_id": GMAIL_GRANT,
                "filename": "logo.png",
                "content_type": "image/png",
                "size": 2048,
                "content_id": "logo@acme",
                "content_disposition": "inline",
                "is_inline": True,
                "data": "iVBORw0KGgo=",
            },
            Attachment("att-1", "logo.png", "image/png", 2048, True),
            id="an inline attachment keeps its metadata and drops any content sent along",
        ),
        pytest.param(
            {},
            Attachment(None, None, None, None, False),
            id="an attachment without metadata is read as unknown and not inline",
        ),
        pytest.param(
            {"size": "2048", "is_inline": "true"},
            Attachment(None, None, None, None, False),
            id="a size and an inline flag as text are unknown and not inline",
        ),
        pytest.param(
            {"size": True, "filename": ""},
            Attachment(None, None, None, None, False),
            id="a size as a boolean and an empty file name are unknown",
        ),
    ],
)
def test_an_attachment_is_read_as_metadata(entry: dict[str, Any], expected: Attachment) -> None:
    assert parse_message({**MINIMAL, "attachments": [entry]}).attachments == (expected,)


def test_an_attachment_is_shown_as_its_metadata() -> None:
    attachment = Attachment("att-1", "quote.pdf", "application/pdf", 48213, False)

    assert attachment.to_json() == {
        "id": "att-1",
        "filename": "quote.pdf",
        "content_type": "application/pdf",
        "size": 48213,
        "is_inline": False,
    }


# Matching addresses: From, To and CC, never BCC (E2) ---------------------------------------


def headers(**lists: list[str]) -> dict[str, Any]:
    """A message object whose headers hold the given addresses (``from_`` for From)."""
    wire: dict[str, Any] = {"id": "m-1"}
    for header, addresses in lists.items():
        wire[header.rstrip("_")] = [{"email": address} for address in addresses]
    return wire


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param(
            headers(
                from_=["dana@acme.example"],
                to=["sam@sellerco.example"],
                cc=["priya@acme.example"],
            ),
            {"dana@acme.example", "sam@sellerco.example", "priya@acme.example"},
            id="from to and cc all count",
        ),
        pytest.param(
            headers(to=["sam@sellerco.example"], bcc=["dana@acme.example"]),
            {"sam@sellerco.example"},
            id="bcc never counts",
        ),
        pytest.param(
            headers(cc=["Dana@Acme.example"], bcc=["dana@acme.example"]),
            {"dana@acme.example"},
            id="an address in cc counts even when it is also in bcc",
        ),
        pytest.param(
            headers(from_=["dana@acme.example"], to=["DANA@acme.example"]),
            {"dana@acme.example"},
            id="an address in two headers counts once",
        ),
        pytest.param(headers(bcc=["dana@acme.example"]), set(), id="bcc alone gives nothing"),
        pytest.param(headers(), set(), id="no headers give nothing"),
    ],
)
def test_matching_addresses_are_from_to_and_cc_never_bcc(
    wire: dict[str, Any], expected: set[str]
) -> None:
    assert parse_message(wire).matching_addresses() == frozenset(expected)


# Properties --------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "grant_id",
    "thread_id",
    "subject",
    "snippet",
    "body",
    "from",
    "to",
    "cc",
    "bcc",
    "date",
    "folders",
    "unread",
    "starred",
    "attachments",
]


@given(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES), st.text(min_size=1))
def test_any_json_in_the_known_fields_is_tolerated(fields: dict[str, Any], message_id: str) -> None:
    message = parse_message({**fields, "id": message_id})

    assert message.message_id == without_nul(message_id)  # PostgreSQL stores no NUL
    assert message.body is None or (isinstance(message.body, str) and message.body)
    assert all(isinstance(f, str) and f for f in message.folder_ids)
    assert message.date is None or message.date.tzinfo is UTC
    assert all(isinstance(a, str) and "@" in a for a in message.matching_addresses())


@given(st.dictionaries(st.sampled_from([*FIELDS, "metadata"]), JSON_VALUES), st.text(min_size=1))
def test_a_message_written_back_as_a_nylas_object_reads_back_equal(
    fields: dict[str, Any], message_id: str
) -> None:
    # How a parked message is kept (N2): what is read again must be what was parked.
    message = parse_message({**fields, "id": message_id})

    assert parse_message(json.loads(json.dumps(message_to_wire(message)))) == message


def test_a_real_message_written_back_reads_back_equal(nylas_fixture: FixtureLoader) -> None:
    for name in (
        "message_created_gmail",
        "message_created_truncated_microsoft",
        "message_updated_cleaned_truncated",
    ):
        message = parse_message(wire_message(nylas_fixture, name))
        assert parse_message(message_to_wire(message)) == message
