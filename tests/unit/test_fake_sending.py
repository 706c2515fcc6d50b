"""The fake Nylas's sends, its sorted message index and the mailbox filler, without HTTP."""

from __future__ import annotations

import random
from typing import Any

import pytest

from simulator import folder_presets as mb
from simulator.folder_presets import folder_with_role
from simulator.mailbox import FakeNylas, MessageQuery, message_matches
from simulator.mailbox_fill import fill_mailbox, generate_messages
from simulator.message_index import MessageIndex, message_addresses, message_order
from simulator.sending import InvalidSend, sent_message, snippet
from tests.support.fake_api import SettableClock

T0 = 1_790_000_000
GRANT = {"id": "g1", "email": "rep@sellerco.example", "provider": "google"}
ALICE = {"email": "alice@customer.example", "name": "Alice"}


def send_body(**fields: Any) -> dict[str, Any]:
    return {"to": [ALICE], "subject": "Hi", "body": "<p>Hello <b>Alice</b></p>", **fields}


def build(body: dict[str, Any]) -> dict[str, Any]:
    return sent_message(GRANT, body, message_id="m1", thread_id="t1", folders=["SENT"], at=T0)


# The rules of a send -------------------------------------------------------------------------


def test_a_sent_message_is_shaped_like_the_api_answers() -> None:
    message = build(send_body(cc=[{"email": "bob@customer.example"}], metadata={"key4": "k"}))

    assert message["from"] == [{"email": "rep@sellerco.example"}]
    assert message["to"] == [ALICE]
    assert message["cc"] == [{"email": "bob@customer.example"}]
    assert (message["bcc"], message["reply_to"]) == ([], [])
    assert (message["date"], message["folders"], message["thread_id"]) == (T0, ["SENT"], "t1")
    assert message["snippet"] == "Hello Alice"
    assert message["metadata"] == {"key4": "k"}
    assert message["unread"] is False


def test_a_from_alias_is_kept() -> None:
    message = build(send_body(**{"from": [{"email": "sales@sellerco.example"}]}))

    assert message["from"] == [{"email": "sales@sellerco.example"}]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"subject": "no one"}, "at least one recipient"),
        ({"to": [], "cc": [], "bcc": []}, "at least one recipient"),
        ({"to": [{"name": "No address"}]}, "valid email"),
        ({"to": [{"email": "not-an-address"}]}, "valid email"),
        ({"to": "alice@customer.example"}, "must be a list"),
        (send_body(subject=3), "subject must be a string"),
        (send_body(send_at=T0 + 60), "not simulated"),
        (send_body(metadata={f"k{i}": "v" for i in range(51)}), "50 pairs"),
    ],
)
def test_bodies_the_send_api_refuses(body: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidSend, match=problem) as caught:
        build(body)

    assert caught.value.status == 400


def test_bcc_alone_is_a_recipient() -> None:
    assert build({"bcc": [ALICE]})["bcc"] == [ALICE]


def test_snippets_are_plain_and_short() -> None:
    assert snippet("<div>a &amp; b</div>\n\n<p>c</p>") == "a & b c"
    assert len(snippet("x" * 500)) == 100


# Sending through FakeNylas -----------------------------------------------------------------


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas(clock=SettableClock(T0))
    fake.add_mailbox("gmail", "google", "ann@gmail.example")
    fake.add_mailbox("outlook", "microsoft", "ben@outlook.example")
    fake.add_mailbox("imap", "imap", "cy@imap.example")
    return fake


@pytest.mark.parametrize(
    ("grant_id", "sent_folder"),
    [
        ("gmail", mb.GMAIL_SENT_ID),
        ("outlook", mb.MICROSOFT_SENT_ID),
        ("imap", mb.imap_folder_id("imap", "INBOX.Sent")),
    ],
)
def test_a_send_is_filed_in_the_providers_sent_folder(
    fake: FakeNylas, grant_id: str, sent_folder: str
) -> None:
    message = fake.api_send_message(grant_id, send_body())

    assert message["folders"] == [sent_folder]
    assert fake.message(grant_id, message["id"]) == message
    assert fake.messages(grant_id, MessageQuery(in_folder=sent_folder)) == [message]
    [created] = fake.drain_notifications()
    assert created["type"] == "message.created"
    assert created["data"]["object"] == message
    assert created["time"] == T0


def test_a_reply_joins_the_thread_of_its_original(fake: FakeNylas) -> None:
    original = fake.api_send_message("gmail", send_body())

    reply = fake.api_send_message("gmail", send_body(reply_to_message_id=original["id"]))

    assert reply["thread_id"] == original["thread_id"]
    assert reply["id"] != original["id"]
    with pytest.raises(InvalidSend) as caught:
        fake.api_send_message("gmail", send_body(reply_to_message_id="nope"))
    assert caught.value.status == 404


def test_send_success_and_bounces_are_queued_when_set_up(fake: FakeNylas) -> None:
    fake.notify_send_success = True
    fake.set_bouncing_addresses("gmail", ["ALICE@customer.example"])

    message = fake.api_send_message("gmail", send_body(cc=[{"email": "bob@customer.example"}]))

    kinds = [n["type"] for n in fake.drain_notifications()]
    assert kinds == ["message.created", "message.send_success", "message.bounce_detected"]
    fake.set_bouncing_addresses("gmail", [])
    fake.api_send_message("gmail", send_body())
    assert [n["type"] for n in fake.drain_notifications()] == [
        "message.created",
        "message.send_success",
    ]
    assert fake.message("gmail", message["id"]) is not None


def test_bounce_names_the_message_and_its_first_recipient(fake: FakeNylas) -> None:
    message = fake.api_send_message("outlook", send_body())
    fake.drain_notifications()

    notification = fake.bounce("outlook", message["id"], "mailbox full")

    assert fake.drain_notifications() == [notification]
    obj = notification["data"]["object"]
    assert (obj["message_id"], obj["bounced_addresses"], obj["bounce_reason"]) == (
        message["id"],
        "alice@customer.example",
        "mailbox full",
    )
    with pytest.raises(KeyError):
        fake.bounce("outlook", "no-such-message")


def test_microsoft_message_ids_are_opaque(fake: FakeNylas) -> None:
    assert fake.api_send_message("outlook", send_body())["id"].startswith("AAMkAD")
    assert len(fake.api_send_message("gmail", send_body())["id"]) == 16


def test_folder_roles_fall_back_to_the_inbox_name_for_imap() -> None:
    folders = mb.imap_folders("g")

    assert folder_with_role(folders, "\\Inbox") == mb.imap_folder_id("g", "INBOX")
    assert folder_with_role(folders, "\\Trash") is None
    assert folder_with_role(mb.gmail_folders("g"), "\\Sent") == "SENT"


# The sorted index --------------------------------------------------------------------------


def random_messages(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"m{index:05d}",
            "date": rng.randrange(T0, T0 + 500),  # many ties: the id breaks them
            "folders": [rng.choice(["INBOX", "SENT"])],
            "from": [{"email": rng.choice(["a@x.example", "b@x.example", "c@x.example"])}],
            "to": [{"email": "rep@x.example"}],
            "metadata": {"key4": f"k{index % 7}"},
        }
        for index in range(count)
    ]


def walk(index: MessageIndex, query: MessageQuery, limit: int) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page, more = index.page(query, limit=limit, after=after)
        ids += [m["id"] for m in page]
        if not more:
            return ids
        after = message_order(page[-1])


@pytest.mark.parametrize(
    "query",
    [
        MessageQuery(),
        MessageQuery(in_folder="SENT"),
        MessageQuery(received_after=T0 + 100, received_before=T0 + 400),
        MessageQuery(received_after=T0 + 499),
        MessageQuery(received_before=T0),
        MessageQuery(any_email=("B@x.example",), received_after=T0 + 50),
        MessageQuery(metadata_pair=("key4", "k3")),
    ],
)
@pytest.mark.parametrize("limit", [1, 7, 200])
def test_pages_of_the_index_are_the_brute_force_answer(query: MessageQuery, limit: int) -> None:
    messages = random_messages(600)
    index = MessageIndex()
    index.put_many(messages[:300])
    for message in messages[300:]:
        index.put(message)

    expected = [m["id"] for m in sorted(messages, key=message_order) if message_matches(m, query)]

    assert walk(index, query, limit) == expected
    assert [m["id"] for m in index.all(query)] == expected


def test_replacing_a_message_moves_it_and_removing_forgets_it() -> None:
    index = MessageIndex()
    index.put_many([{"id": "a", "date": 1}, {"id": "b", "date": 2}])

    index.put({"id": "a", "date": 3})
    index.put_many([{"id": "b", "date": 0}])

    assert [m["id"] for m in index.all(MessageQuery())] == ["a", "b"]
    assert len(index) == 2
    assert index.remove("a") is True
    assert index.remove("a") is False
    assert [m["id"] for m in index.all(MessageQuery())] == ["b"]


def test_the_index_hands_out_copies() -> None:
    index = MessageIndex()
    index.put({"id": "a", "date": 1, "folders": ["INBOX"]})

    served = index.get("a")
    assert served is not None
    served["folders"].append("SENT")
    page, _ = index.page(MessageQuery(), limit=1, after=None)
    page[0]["folders"].clear()

    assert index.get("a") == {"id": "a", "date": 1, "folders": ["INBOX"]}


# The mailbox filler --------------------------------------------------------------------------


def test_generated_mail_is_seeded_spread_and_between_the_rep_and_others() -> None:
    arguments: dict[str, Any] = {
        "own_email": "rep@sellerco.example",
        "contacts": ["alice@customer.example", "bob@customer.example"],
        "start": T0,
        "end": T0 + 90 * 86_400,
        "inbox_folder": "INBOX",
        "sent_folder": "SENT",
        "contact_share": 0.5,
    }
    messages = generate_messages("g1", 2000, seed=3, **arguments)

    assert messages == generate_messages("g1", 2000, seed=3, **arguments)
    assert messages != generate_messages("g1", 2000, seed=4, **arguments)
    assert len({m["id"] for m in messages}) == 2000
    assert all(T0 <= m["date"] < T0 + 90 * 86_400 for m in messages)
    sent = [m for m in messages if m["folders"] == ["SENT"]]
    received = [m for m in messages if m["folders"] == ["INBOX"]]
    assert len(sent) + len(received) == 2000
    assert 0.25 < len(sent) / 2000 < 0.45
    assert all(m["from"][0]["email"] == "rep@sellerco.example" for m in sent)
    assert all(m["to"][0]["email"] == "rep@sellerco.example" for m in received)
    with_contacts = [
        m
        for m in messages
        if {"alice@customer.example", "bob@customer.example"} & message_addresses(m)
    ]
    assert 0.4 < len(with_contacts) / 2000 < 0.7
    assert any(m["subject"].startswith("Re: ") for m in messages)
    assert any(m["cc"] for m in messages)


def test_fill_mailbox_uses_the_grants_own_folders() -> None:
    fake = FakeNylas()
    fake.add_mailbox("ms", "microsoft", "ben@outlook.example")

    added = fill_mailbox(
        fake, "ms", 300, contacts=["alice@customer.example"], start=T0, end=T0 + 86_400
    )

    assert len(fake.messages("ms")) == 300
    folders = {tuple(m["folders"]) for m in added}
    assert folders == {(mb.MICROSOFT_INBOX_ID,), (mb.MICROSOFT_SENT_ID,)}
    fake.add_grant("bare", "google", "x@gmail.example")
    with pytest.raises(ValueError, match="no inbox or sent folder"):
        fill_mailbox(fake, "bare", 1, contacts=[], start=T0, end=T0 + 1)
