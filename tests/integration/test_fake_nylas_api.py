"""The fake Nylas API, driven by the real ``nylas`` SDK over real HTTP.

If the SDK can decode what the fake serves, and fails on the fake's faults exactly as it fails
on the real API's (NYLAS.md 6.4), then code tested against the fake meets the same SDK in
production.
"""

from __future__ import annotations

from typing import Any

import nylas
import pytest
import requests

from simulator import folder_presets as mb
from simulator.mailbox import FakeNylas
from simulator.notifications import message_object
from tests.support.fake_api import api_error

GMAIL = "grant-gmail-1"
MICROSOFT = "grant-microsoft-1"
IMAP = "grant-imap-1"
NOW = 1_790_000_000


@pytest.fixture
def fake() -> FakeNylas:
    """Three grants, one per provider, each with its folder preset and no messages."""
    fake = FakeNylas()
    fake.add_mailbox(GMAIL, "google", "rep@gmail.example")
    fake.add_mailbox(MICROSOFT, "microsoft", "rep@outlook.example")
    fake.add_mailbox(IMAP, "imap", "rep@imap.example")
    return fake


@pytest.fixture
def client(fake: FakeNylas, base_url: str) -> nylas.Client:
    return nylas.Client(fake.api_key, api_uri=base_url, timeout=5)


# Grants ------------------------------------------------------------------------------------


def test_grant_is_found(client: nylas.Client) -> None:
    grant = client.grants.find(MICROSOFT).data

    assert (grant.id, grant.provider, grant.email) == (
        MICROSOFT,
        "microsoft",
        "rep@outlook.example",
    )
    assert grant.grant_status == "valid"


def test_grants_are_listed_and_filtered(client: nylas.Client, fake: FakeNylas) -> None:
    fake.set_grant_status(IMAP, "invalid")

    assert [g.id for g in client.grants.list().data] == [GMAIL, MICROSOFT, IMAP]
    assert [g.id for g in client.grants.list({"provider": "microsoft"}).data] == [MICROSOFT]
    assert [g.id for g in client.grants.list({"grant_status": "invalid"}).data] == [IMAP]
    assert [g.id for g in client.grants.list({"limit": 1, "offset": 1}).data] == [MICROSOFT]


def test_unknown_grant_is_a_404_not_found_error(client: nylas.Client) -> None:
    error = api_error(lambda: client.grants.find("no-such-grant"))

    assert error.status_code == 404
    assert error.type == "not_found_error"
    assert error.request_id


def test_wrong_api_key_is_401_and_still_logged(fake: FakeNylas, base_url: str) -> None:
    wrong = nylas.Client("not-the-key", api_uri=base_url)

    error = api_error(lambda: wrong.grants.find(GMAIL))

    assert (error.status_code, error.type) == (401, "unauthorized")
    assert [r.path for r in fake.requests] == [f"/v3/grants/{GMAIL}"]


def test_unknown_route_is_a_json_404(fake: FakeNylas, base_url: str) -> None:
    response = requests.get(
        f"{base_url}/v3/nothing-here",
        headers={"Authorization": f"Bearer {fake.api_key}"},
        timeout=5,
    )

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


# Folders -----------------------------------------------------------------------------------


def test_gmail_labels_are_listed_with_ids_that_read_like_names(client: nylas.Client) -> None:
    folders = {f.id: f for f in client.folders.list(GMAIL).data}

    assert set(folders) >= {"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "UNREAD", "Label_1"}
    assert folders[mb.GMAIL_CLIENTS_ACME_ID].name == "Clients/Acme"
    assert folders["SENT"].system_folder is True
    assert folders[mb.GMAIL_COOLSTUFF_ID].system_folder is False
    # SDK 6.18 turns the attribute list into its string form (NYLAS.md 6.7).
    assert folders["SENT"].attributes == "['\\\\Sent']"


def test_microsoft_lists_only_the_top_two_levels(client: nylas.Client) -> None:
    folders = {f.id: f for f in client.folders.list(MICROSOFT).data}

    assert mb.MICROSOFT_COOLSTUFF_ID in folders
    assert mb.MICROSOFT_DEEP_ID not in folders
    assert folders[mb.MICROSOFT_INBOX_ID].child_count == 1
    assert folders[mb.MICROSOFT_COOLSTUFF_ID].parent_id == mb.MICROSOFT_INBOX_ID
    assert folders[mb.MICROSOFT_COOLSTUFF_ID].child_count == 1
    assert folders[mb.MICROSOFT_SENT_ID].name == "Sent Items"


def test_microsoft_children_are_listed_by_parent_id(client: nylas.Client) -> None:
    children = client.folders.list(
        MICROSOFT, query_params={"parent_id": mb.MICROSOFT_COOLSTUFF_ID}
    ).data

    assert [(f.id, f.name, f.child_count) for f in children] == [(mb.MICROSOFT_DEEP_ID, "Deep", 0)]


def test_microsoft_single_level_sent_as_python_bool(client: nylas.Client, fake: FakeNylas) -> None:
    top = client.folders.list(MICROSOFT, query_params={"single_level": True}).data

    assert fake.requests[-1].query["single_level"] == ["True"]
    assert mb.MICROSOFT_INBOX_ID in {f.id for f in top}
    assert mb.MICROSOFT_COOLSTUFF_ID not in {f.id for f in top}


def test_a_folder_at_any_depth_is_found_by_id(client: nylas.Client) -> None:
    deep = client.folders.find(MICROSOFT, mb.MICROSOFT_DEEP_ID).data

    assert (deep.name, deep.parent_id) == ("Deep", mb.MICROSOFT_COOLSTUFF_ID)
    error = api_error(lambda: client.folders.find(MICROSOFT, "AAMkADunknown="))
    assert (error.status_code, error.type) == (404, "not_found_error")


def test_imap_folder_ids_embed_the_path(client: nylas.Client) -> None:
    folders = {f.name: f.id for f in client.folders.list(IMAP).data}

    assert folders == {
        "INBOX": mb.imap_folder_id(IMAP, "INBOX"),
        "INBOX.Sent": mb.imap_folder_id(IMAP, "INBOX.Sent"),
        "INBOX.CoolStuff": mb.imap_folder_id(IMAP, "INBOX.CoolStuff"),
    }
    assert all(folder_id.startswith("v0:") for folder_id in folders.values())


def test_folders_are_paginated_with_next_cursor(client: nylas.Client) -> None:
    first = client.folders.list(GMAIL, query_params={"limit": 4})
    second = client.folders.list(GMAIL, query_params={"limit": 4, "page_token": first.next_cursor})
    third = client.folders.list(GMAIL, query_params={"limit": 4, "page_token": second.next_cursor})

    ids = [f.id for page in (first, second, third) for f in page.data]
    assert len(ids) == len(set(ids)) == len(mb.gmail_folders(GMAIL))
    assert third.next_cursor is None


# Messages ----------------------------------------------------------------------------------


def put(fake: FakeNylas, message_id: str, **fields: Any) -> None:
    fake.put_message(GMAIL, message_object(GMAIL, message_id=message_id, **fields))


def listed_ids(client: nylas.Client, **query: object) -> list[str]:
    return [m.id for m in client.messages.list(GMAIL, query_params=query).data]


def test_messages_are_listed_newest_first(client: nylas.Client, fake: FakeNylas) -> None:
    put(fake, "old", date=NOW - 100)
    put(fake, "new", date=NOW)
    put(fake, "mid", date=NOW - 50)

    assert listed_ids(client) == ["new", "mid", "old"]
    message = client.messages.list(GMAIL).data[0]
    assert message.from_ == [{"name": "Sales Rep", "email": "rep@example.com"}]


def test_any_email_matches_from_to_cc_and_bcc_case_insensitively(
    client: nylas.Client, fake: FakeNylas
) -> None:
    put(fake, "to-alice", to=("Alice@Customer.example",), date=NOW - 1)
    put(fake, "cc-bob", cc=("bob@customer.example",), date=NOW - 2)
    put(fake, "from-carol", sender="carol@customer.example", date=NOW - 3)
    put(fake, "nobody", to=("someone@else.example",), date=NOW - 4)
    bcc = message_object(GMAIL, message_id="bcc-dan", date=NOW - 5)
    bcc["bcc"] = [{"email": "dan@customer.example"}]
    fake.put_message(GMAIL, bcc)

    # The SDK sends a list as repeated keys; the documented form is comma-separated.
    repeated = ["alice@customer.example", "BOB@customer.example"]
    assert listed_ids(client, any_email=repeated) == ["to-alice", "cc-bob"]
    assert fake.requests[-1].query["any_email"] == repeated
    joined = "carol@customer.example,dan@customer.example"
    assert listed_ids(client, any_email=joined) == ["from-carol", "bcc-dan"]


def test_more_than_25_addresses_is_a_400(client: nylas.Client) -> None:
    addresses = ",".join(f"c{i}@customer.example" for i in range(26))

    error = api_error(lambda: client.messages.list(GMAIL, query_params={"any_email": addresses}))

    assert (error.status_code, error.type) == (400, "invalid_request_error")


def test_in_filters_by_folder_id(client: nylas.Client, fake: FakeNylas) -> None:
    put(fake, "inbox", folders=("INBOX", "UNREAD"), date=NOW - 1)
    put(fake, "sent", folders=("SENT",), date=NOW - 2)

    assert listed_ids(client, **{"in": "SENT"}) == ["sent"]


def test_received_after_and_before_are_strict_bounds_on_date(
    client: nylas.Client, fake: FakeNylas
) -> None:
    for offset in range(5):
        put(fake, f"m{offset}", date=NOW + offset)

    assert listed_ids(client, received_after=NOW + 1) == ["m4", "m3", "m2"]
    assert listed_ids(client, received_before=NOW + 1) == ["m0"]
    assert listed_ids(client, received_after=NOW, received_before=NOW + 3) == ["m2", "m1"]


def test_boolean_filters_accept_the_sdk_capitalised_form(
    client: nylas.Client, fake: FakeNylas
) -> None:
    put(fake, "unread", date=NOW - 1)
    read = message_object(GMAIL, message_id="read", date=NOW - 2)
    read["unread"] = False
    fake.put_message(GMAIL, read)

    assert listed_ids(client, unread=False) == ["read"]
    assert fake.requests[-1].query["unread"] == ["False"]
    assert listed_ids(client, unread="true") == ["unread"]


def test_messages_are_paginated_across_pages_without_gaps(
    client: nylas.Client, fake: FakeNylas
) -> None:
    for index in range(7):
        put(fake, f"m{index}", date=NOW - index * 10)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query: dict[str, object] = {"limit": 3}
        if cursor:
            query["page_token"] = cursor
        response = client.messages.list(GMAIL, query_params=query)
        seen += [m.id for m in response.data]
        pages += 1
        cursor = response.next_cursor
        if not cursor:
            break

    assert seen == [f"m{index}" for index in range(7)]
    assert pages == 3


def test_a_page_boundary_survives_a_new_message(client: nylas.Client, fake: FakeNylas) -> None:
    for index in range(4):
        put(fake, f"m{index}", date=NOW - index * 10)
    first = client.messages.list(GMAIL, query_params={"limit": 2})
    put(fake, "newest", date=NOW + 100)

    second = client.messages.list(GMAIL, query_params={"limit": 2, "page_token": first.next_cursor})

    assert [m.id for m in second.data] == ["m2", "m3"]


@pytest.mark.parametrize(
    "query",
    [{"limit": 201}, {"limit": "many"}, {"page_token": "not-a-cursor"}, {"received_after": "x"}],
)
def test_bad_list_parameters_are_400(client: nylas.Client, query: dict[str, object]) -> None:
    error = api_error(lambda: client.messages.list(GMAIL, query_params=query))

    assert (error.status_code, error.type) == (400, "invalid_request_error")


@pytest.mark.parametrize("message_id", ["plain", "a/b+c=", "<CAF=x+y/z@mail.example>", "sp ace%"])
def test_message_ids_arrive_url_encoded_and_are_decoded(
    client: nylas.Client, fake: FakeNylas, message_id: str
) -> None:
    put(fake, message_id)

    assert client.messages.find(GMAIL, message_id).data.id == message_id


def test_a_removed_message_is_a_404(client: nylas.Client, fake: FakeNylas) -> None:
    put(fake, "gone")
    fake.remove_message(GMAIL, "gone")

    error = api_error(lambda: client.messages.find(GMAIL, "gone"))

    assert (error.status_code, error.type) == (404, "not_found_error")


# Faults and the request log --------------------------------------------------------------


def test_a_429_carries_retry_after_and_is_served_once(
    client: nylas.Client, fake: FakeNylas
) -> None:
    fake.inject(429, path_contains="/messages", retry_after=7)

    error = api_error(lambda: client.messages.list(GMAIL))

    assert (error.status_code, error.type) == (429, "rate_limit_error")
    assert error.headers["Retry-After"] == "7"
    assert client.messages.list(GMAIL).data == []
    assert fake.pending_faults == 0


def test_an_html_502_breaks_the_sdk_json_decoding(client: nylas.Client, fake: FakeNylas) -> None:
    fake.inject(502, body="<html><body><h1>502 Bad Gateway</h1></body></html>")

    with pytest.raises(requests.exceptions.JSONDecodeError):
        client.grants.find(GMAIL)


def test_a_5xx_fault_is_a_json_error_by_default(client: nylas.Client, fake: FakeNylas) -> None:
    fake.inject(503)

    error = api_error(lambda: client.grants.find(GMAIL))

    assert (error.status_code, error.type) == (503, "internal_error")


def test_faults_match_path_and_method_and_are_served_in_order(
    client: nylas.Client, fake: FakeNylas
) -> None:
    fake.inject(500, path_contains="/folders", times=2)
    fake.inject(503, path_contains="/folders")
    fake.inject(500, method="POST")

    assert client.grants.find(GMAIL).data.id == GMAIL  # matches no fault
    statuses = [api_error(lambda: client.folders.list(GMAIL)).status_code for _ in range(3)]

    assert statuses == [500, 500, 503]
    assert len(client.folders.list(GMAIL).data) == len(mb.gmail_folders(GMAIL))
    assert fake.pending_faults == 1  # the POST fault never matched


def test_a_slow_request_is_answered_normally_after_its_delay(
    client: nylas.Client, fake: FakeNylas
) -> None:
    fake.slow(0.2, path_contains=f"/grants/{GMAIL}")

    assert client.grants.find(GMAIL).data.id == GMAIL
    assert fake.pending_faults == 0


def test_requests_are_logged_with_their_decoded_path_and_query(
    client: nylas.Client, fake: FakeNylas
) -> None:
    put(fake, "a/b")
    client.messages.list(GMAIL, query_params={"limit": 5, "in": "INBOX"})
    client.messages.find(GMAIL, "a/b")

    assert [(r.method, r.path, r.query) for r in fake.requests] == [
        ("GET", f"/v3/grants/{GMAIL}/messages", {"limit": ["5"], "in": ["INBOX"]}),
        ("GET", f"/v3/grants/{GMAIL}/messages/a/b", {}),
    ]
    assert len(fake.requests_to("/messages")) == 2
    fake.clear_requests()
    assert fake.requests == []


# Control routes ----------------------------------------------------------------------------


def test_control_routes_create_a_mailbox_and_a_message_the_sdk_then_reads(
    fake: FakeNylas, base_url: str, client: nylas.Client
) -> None:
    auth = {"Authorization": f"Bearer {fake.api_key}"}
    created = requests.put(
        f"{base_url}/_simulator/grants/g-new",
        json={"provider": "microsoft", "email": "new@outlook.example"},
        headers=auth,
        timeout=5,
    )
    put = requests.put(
        f"{base_url}/_simulator/grants/g-new/messages/m%2F1",
        json=message_object("ignored", message_id="ignored", subject="From the control API"),
        headers=auth,
        timeout=5,
    )
    refused = requests.put(
        f"{base_url}/_simulator/grants/g-new", json={"provider": "aol"}, headers=auth, timeout=5
    )
    unauthorised = requests.put(f"{base_url}/_simulator/grants/g-x", json={}, timeout=5)

    assert (created.status_code, put.status_code) == (200, 200)
    assert (refused.status_code, unauthorised.status_code) == (400, 401)
    assert client.grants.find("g-new").data.provider == "microsoft"
    message = client.messages.find("g-new", "m/1").data
    assert (message.id, message.grant_id, message.subject) == (
        "m/1",
        "g-new",
        "From the control API",
    )
    assert {f.id for f in client.folders.list("g-new").data} >= {mb.MICROSOFT_INBOX_ID}


def test_a_path_ending_like_an_open_one_still_needs_the_key(fake: FakeNylas, base_url: str) -> None:
    response = requests.get(f"{base_url}/v3/grants/{GMAIL}/messages/v3/connect/auth", timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"
