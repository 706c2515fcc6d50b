"""The fake Nylas's state and its pure query rules: filters, folder levels, cursors, faults."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import QueryParams

from simulator import folder_presets as mb
from simulator.api_envelopes import ApiError, decode_cursor, encode_cursor, error_type_for, paginate
from simulator.api_requests import bool_param, list_param, message_query
from simulator.folder_presets import listed_folders
from simulator.mailbox import FakeNylas, MessageQuery, message_matches
from simulator.message_index import message_order
from simulator.notifications import message_object

GRANT = "grant-1"


def message(**fields: Any) -> dict[str, Any]:
    return message_object(GRANT, **fields)


# Filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        (MessageQuery(), True),
        (MessageQuery(any_email=("CONTACT@customer.example",)), True),
        (MessageQuery(any_email=("rep@example.com",)), True),  # the sender counts
        (MessageQuery(any_email=("cc@customer.example",)), True),
        (MessageQuery(any_email=("nobody@x.example", "contact@customer.example")), True),
        (MessageQuery(any_email=("nobody@x.example",)), False),
        (MessageQuery(in_folder="INBOX"), True),
        (MessageQuery(in_folder="SENT"), False),
        (MessageQuery(received_after=99), True),
        (MessageQuery(received_after=100), False),  # strict
        (MessageQuery(received_before=101), True),
        (MessageQuery(received_before=100), False),  # strict
        (MessageQuery(unread=True), True),
        (MessageQuery(unread=False), False),
        (MessageQuery(starred=False), True),
        (MessageQuery(in_folder="INBOX", any_email=("nobody@x.example",)), False),  # AND
    ],
)
def test_message_filters(query: MessageQuery, matches: bool) -> None:
    subject = message(cc=("cc@customer.example",), date=100)

    assert message_matches(subject, query) is matches


def test_a_message_without_from_still_filters() -> None:
    subject = message()
    del subject["from"]

    assert message_matches(subject, MessageQuery(any_email=("contact@customer.example",)))


# Folders -----------------------------------------------------------------------------------


def test_microsoft_lists_two_levels_and_children_by_parent() -> None:
    folders = mb.microsoft_folders(GRANT)

    listed = {f["id"] for f in listed_folders(folders, provider="microsoft", parent_id=None)}
    top = {
        f["id"]
        for f in listed_folders(folders, provider="microsoft", parent_id=None, single_level=True)
    }
    children = listed_folders(folders, provider="microsoft", parent_id=mb.MICROSOFT_INBOX_ID)

    assert mb.MICROSOFT_COOLSTUFF_ID in listed
    assert mb.MICROSOFT_DEEP_ID not in listed
    assert mb.MICROSOFT_COOLSTUFF_ID not in top
    assert mb.MICROSOFT_INBOX_ID in top
    assert [f["id"] for f in children] == [mb.MICROSOFT_COOLSTUFF_ID]


def test_other_providers_list_everything_and_ignore_parent_id() -> None:
    folders = mb.gmail_folders(GRANT)

    assert listed_folders(folders, provider="google", parent_id="INBOX") == folders


def test_microsoft_child_count_follows_the_folders_added() -> None:
    fake = FakeNylas()
    fake.add_grant(GRANT, "microsoft", "rep@outlook.example")
    fake.add_folders(GRANT, mb.microsoft_folders(GRANT))
    fake.add_folder(
        GRANT, {"id": "AAMkADnew=", "name": "Deeper", "parent_id": mb.MICROSOFT_DEEP_ID}
    )

    counts = {f["id"]: f["child_count"] for f in fake.folders(GRANT)}

    assert counts[mb.MICROSOFT_DEEP_ID] == 1
    assert counts[mb.MICROSOFT_INBOX_ID] == 1
    assert counts["AAMkADnew="] == 0


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        (mb.gmail_folders, {"INBOX": ["\\Inbox"], "SENT": ["\\Sent"], "SPAM": ["\\Junk"]}),
        (
            mb.microsoft_folders,
            {mb.MICROSOFT_DELETED_ID: ["\\Trash"], mb.MICROSOFT_ARCHIVE_ID: ["\\Archive"]},
        ),
        (mb.imap_folders, {mb.imap_folder_id(GRANT, "INBOX.Sent"): ["\\Sent"]}),
    ],
)
def test_presets_carry_special_use_attributes(preset: Any, expected: dict[str, list[str]]) -> None:
    folders = {f["id"]: f for f in preset(GRANT)}

    for folder_id, attributes in expected.items():
        assert folders[folder_id]["attributes"] == attributes
    assert all(f["grant_id"] == GRANT and f["object"] == "folder" for f in folders.values())


def test_imap_ids_are_stable_per_grant_and_differ_between_grants() -> None:
    assert mb.imap_folder_id("a", "INBOX") == mb.imap_folder_id("a", "INBOX")
    assert mb.imap_folder_id("a", "INBOX") != mb.imap_folder_id("b", "INBOX")


# Pagination --------------------------------------------------------------------------------


def key(item: dict[str, Any]) -> tuple[Any, ...]:
    return (item["id"],)


def test_pages_cover_every_item_once() -> None:
    items = [{"id": f"{n:02d}"} for n in range(7)]
    seen: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page, token = paginate(items, key, limit=3, page_token=token)
        seen += page
        if token is None:
            break

    assert seen == items


def test_an_exact_last_page_has_no_cursor() -> None:
    assert paginate([{"id": "a"}, {"id": "b"}], key, limit=2, page_token=None)[1] is None
    assert paginate([], key, limit=2, page_token=None) == ([], None)


def test_cursors_round_trip_and_bad_ones_are_400() -> None:
    assert decode_cursor(encode_cursor((-5, "m/1+="))) == (-5, "m/1+=")
    for bad in ("%%%", "bm90IGpzb24", encode_cursor(("x",))[:-2] + "!!"):
        with pytest.raises(ApiError) as caught:
            decode_cursor(bad)
        assert caught.value.status == 400


def test_a_cursor_of_another_list_is_400() -> None:
    message_cursor = encode_cursor((-5, "m1"))
    folder_cursor = encode_cursor(("INBOX",))

    with pytest.raises(ApiError, match="not for this list"):
        paginate([{"id": "a"}], key, limit=1, page_token=message_cursor)
    with pytest.raises(ApiError, match="not for this list"):
        paginate([{"id": "m", "date": 1}], message_order, limit=1, page_token=folder_cursor)


# Query parameters --------------------------------------------------------------------------


def test_lists_accept_repeated_keys_and_commas() -> None:
    params = QueryParams("any_email=a@x.example&any_email=b@x.example,%20c@x.example&any_email=")

    assert list_param(params, "any_email") == ["a@x.example", "b@x.example", "c@x.example"]


@pytest.mark.parametrize(
    ("raw", "value"),
    [("True", True), ("true", True), ("False", False), ("false", False), ("", None)],
)
def test_booleans_accept_both_spellings(raw: str, value: bool | None) -> None:
    assert bool_param(QueryParams({"unread": raw}), "unread") is value


def test_a_bad_boolean_is_400() -> None:
    with pytest.raises(ApiError):
        bool_param(QueryParams({"unread": "maybe"}), "unread")


def test_more_than_25_addresses_are_refused() -> None:
    addresses = [f"c{n}@x.example" for n in range(26)]

    with pytest.raises(ApiError, match="at most 25"):
        message_query(QueryParams({"any_email": ",".join(addresses)}))
    assert len(message_query(QueryParams({"any_email": ",".join(addresses[:25])})).any_email) == 25


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "unauthorized"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (500, "internal_error"),
        (503, "internal_error"),
    ],
)
def test_error_types_by_status(status: int, error_type: str) -> None:
    assert error_type_for(status) == error_type


# Faults and the log ------------------------------------------------------------------------


def test_faults_are_consumed_in_order_by_matching_requests_only() -> None:
    fake = FakeNylas()
    fake.inject(429, path_contains="/messages", times=2, retry_after=3)
    fake.inject(503, method="GET")
    fake.inject(500, method="POST")

    served = [
        fake.take_fault("GET", "/v3/grants/g"),
        fake.take_fault("GET", "/v3/grants/g/messages"),
        fake.take_fault("GET", "/v3/grants/g/messages/m1"),
        fake.take_fault("GET", "/v3/grants/g/messages"),
        fake.take_fault("POST", "/v3/grants/g/messages"),
    ]

    assert [f.status if f else None for f in served] == [503, 429, 429, None, 500]
    assert served[1] is not None
    assert served[1].retry_after == 3
    assert fake.pending_faults == 0


def test_slow_is_a_fault_without_a_status() -> None:
    fake = FakeNylas()
    fake.slow(1.5, path_contains="/folders")

    fault = fake.take_fault("GET", "/v3/grants/g/folders")

    assert fault is not None
    assert (fault.status, fault.delay_seconds) == (None, 1.5)


def test_inject_refuses_zero_times() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FakeNylas().inject(500, times=0)


def test_messages_are_copies_replaced_by_id_and_removed() -> None:
    fake = FakeNylas()
    fake.add_grant(GRANT, "google", "rep@gmail.example")
    original = message(message_id="m1", subject="first", date=10)
    fake.put_message(GRANT, original)
    original["subject"] = "changed outside"
    fake.put_message(GRANT, message(message_id="m2", date=20))

    assert fake.message(GRANT, "m1")["subject"] == "first"  # type: ignore[index]
    fake.put_message(GRANT, message(message_id="m1", subject="second", date=30))
    assert [m["id"] for m in fake.messages(GRANT)] == ["m1", "m2"]
    fake.remove_message(GRANT, "m1")
    assert fake.message(GRANT, "m1") is None


def test_content_for_an_unknown_grant_is_a_mistake() -> None:
    with pytest.raises(KeyError, match="no-grant"):
        FakeNylas().put_message("no-grant", message())
