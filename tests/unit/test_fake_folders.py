"""Folders added, renamed and deleted through the simulator's control routes, in process.

What a user does in Gmail or Outlook must change what ``GET /folders`` lists and queue the
``folder.*`` notification Nylas sends, shaped as Nylas shapes it (the recorded
``folder_created_gmail.json``); whatever a hostile caller sends is a 4xx with a reason that
changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.notifications import parse_document
from simulator import folder_presets as mb
from simulator.control_bodies import SMALL_BODY_BYTES as MAX_BODY_BYTES
from simulator.folder_writes import MAX_NAME_LENGTH
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from tests.support.fake_api import SettableClock, fake_api_client

GMAIL, MICROSOFT, IMAP = "grant-gmail", "grant-microsoft", "grant-imap"
T0 = 1_790_000_000


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas(clock=SettableClock(T0))
    fake.add_mailbox(GMAIL, "google", "ann@gmail.example")
    fake.add_mailbox(MICROSOFT, "microsoft", "ben@outlook.example")
    fake.add_mailbox(IMAP, "imap", "cy@imap.example")
    return fake


@pytest.fixture
def client(fake: FakeNylas) -> Iterator[TestClient]:
    with fake_api_client(fake) as client:
        yield client


def listed(client: TestClient, grant_id: str, **params: str) -> dict[str, dict[str, Any]]:
    answer = client.get(f"/v3/grants/{grant_id}/folders", params={"limit": "200", **params})
    assert answer.status_code == 200
    return {f["id"]: f for f in answer.json()["data"]}


def control(client: TestClient, method: str, path: str, body: object = None) -> Any:
    answer = client.request(method, f"/_simulator/grants{path}", json=body)
    assert answer.status_code < 300, answer.text
    return answer.json()["data"]


def test_an_added_gmail_label_is_listed_and_queues_folder_created_as_nylas_sends_it(
    fake: FakeNylas, client: TestClient, nylas_fixture: Callable[[str], bytes]
) -> None:
    folder = control(client, "POST", f"/{GMAIL}/folders", {"name": "Proposals"})
    [notification] = fake.drain_notifications()

    assert folder == {
        "id": "Label_3",  # after the preset's Label_1 and Label_2
        "grant_id": GMAIL,
        "object": "folder",
        "name": "Proposals",
        "attributes": [],
        "system_folder": False,
    }
    assert listed(client, GMAIL)["Label_3"] == folder
    recorded = json.loads(nylas_fixture("folder_created_gmail"))
    assert notification.keys() == recorded.keys()
    assert notification["data"].keys() == recorded["data"].keys()
    assert recorded["data"]["object"].keys() <= notification["data"]["object"].keys()
    assert (notification["type"], notification["source"], notification["time"]) == (
        "folder.created",
        "/google/emails/incremental",
        T0,
    )
    assert notification["data"]["object"] == folder
    [parsed] = parse_document(notification)
    assert (parsed.trigger, parsed.grant_id, parsed.object_id) == (
        "folder.created",
        GMAIL,
        "Label_3",
    )


def test_a_microsoft_folder_nests_under_its_parent_and_is_listed_as_graph_lists_it(
    fake: FakeNylas, client: TestClient
) -> None:
    top = control(client, "POST", f"/{MICROSOFT}/folders", {"name": "Deals"})
    child = control(
        client, "POST", f"/{MICROSOFT}/folders", {"name": "Won", "parent_id": top["id"]}
    )

    assert top["parent_id"] == mb.MICROSOFT_ROOT_ID
    assert top["id"].startswith("AAMkAD")
    assert top["id"] != child["id"]
    assert child["parent_id"] == top["id"]
    assert listed(client, MICROSOFT)[top["id"]]["child_count"] == 1
    assert list(listed(client, MICROSOFT, parent_id=top["id"])) == [child["id"]]
    assert [n["source"] for n in fake.drain_notifications()] == [
        "/microsoft/emails/incremental"
    ] * 2


def test_an_imap_folder_id_embeds_its_path_and_attributes_are_kept(
    fake: FakeNylas, client: TestClient
) -> None:
    folder = control(
        client, "POST", f"/{IMAP}/folders", {"name": "INBOX.Old", "attributes": ["\\Archive"]}
    )

    assert folder["id"] == mb.imap_folder_id(IMAP, "INBOX.Old")
    assert folder["attributes"] == ["\\Archive"]
    assert "system_folder" not in folder
    assert "parent_id" not in folder


def test_renaming_keeps_the_id_and_queues_folder_updated(
    fake: FakeNylas, client: TestClient
) -> None:
    renamed = control(client, "PATCH", f"/{GMAIL}/folders/{mb.GMAIL_COOLSTUFF_ID}", {"name": "Hot"})
    [notification] = fake.drain_notifications()

    assert renamed["id"] == mb.GMAIL_COOLSTUFF_ID
    assert renamed["name"] == "Hot"
    assert listed(client, GMAIL)[mb.GMAIL_COOLSTUFF_ID]["name"] == "Hot"
    assert notification["type"] == "folder.updated"
    assert notification["data"]["object"] == renamed


def test_deleting_a_folder_deletes_its_subfolders_first_each_with_folder_deleted(
    fake: FakeNylas, client: TestClient
) -> None:
    removed = control(client, "DELETE", f"/{MICROSOFT}/folders/{mb.MICROSOFT_COOLSTUFF_ID}")
    notifications = fake.drain_notifications()

    assert [f["id"] for f in removed] == [mb.MICROSOFT_DEEP_ID, mb.MICROSOFT_COOLSTUFF_ID]
    assert [(n["type"], n["data"]["object"]["id"]) for n in notifications] == [
        ("folder.deleted", mb.MICROSOFT_DEEP_ID),
        ("folder.deleted", mb.MICROSOFT_COOLSTUFF_ID),
    ]
    folders = {f["id"] for f in fake.folders(MICROSOFT)}
    assert not folders & {mb.MICROSOFT_DEEP_ID, mb.MICROSOFT_COOLSTUFF_ID}
    assert listed(client, MICROSOFT)[mb.MICROSOFT_INBOX_ID]["child_count"] == 0


def test_a_folder_id_holding_a_slash_is_reached_percent_encoded(
    fake: FakeNylas, client: TestClient
) -> None:
    fake.add_folder(IMAP, {"id": "v0:x:Clients/Acme", "name": "Clients/Acme", "attributes": []})

    removed = control(client, "DELETE", f"/{IMAP}/folders/v0:x:Clients%2FAcme")

    assert [f["id"] for f in removed] == ["v0:x:Clients/Acme"]


LONG_NAME = "x" * (MAX_NAME_LENGTH + 1)
NESTED = "[" * 8_000 + "]" * 8_000  # valid JSON, within the size limit, too deep to decode


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [
        ("POST", f"/{GMAIL}/folders", b"{not json", 400, "JSON"),
        ("POST", f"/{GMAIL}/folders", b"", 400, "JSON"),
        ("POST", f"/{GMAIL}/folders", b'["Proposals"]', 400, "object"),
        ("POST", f"/{GMAIL}/folders", NESTED.encode(), 400, "JSON"),
        ("POST", f"/{GMAIL}/folders", b"{}", 400, "name"),
        ("POST", f"/{GMAIL}/folders", {"name": "   "}, 400, "name"),
        ("POST", f"/{GMAIL}/folders", {"name": 7}, 400, "name"),
        ("POST", f"/{GMAIL}/folders", {"name": LONG_NAME}, 400, "at most"),
        ("POST", f"/{GMAIL}/folders", {"name": "a\u0000b"}, 400, "control"),
        ("POST", f"/{GMAIL}/folders", {"name": "coolstuff"}, 409, "already exists"),
        ("POST", f"/{GMAIL}/folders", {"name": "x", "attributes": "\\Inbox"}, 400, "list"),
        ("POST", f"/{GMAIL}/folders", {"name": "x", "attributes": ["Inbox"]}, 400, "flag"),
        ("POST", f"/{GMAIL}/folders", {"name": "x", "attributes": ["\\A"] * 9}, 400, "at most"),
        ("POST", f"/{GMAIL}/folders", {"name": "x", "parent_id": "INBOX"}, 400, "Microsoft"),
        ("POST", f"/{MICROSOFT}/folders", {"name": "x", "parent_id": 5}, 400, "parent_id"),
        ("POST", f"/{MICROSOFT}/folders", {"name": "x", "parent_id": "nope"}, 404, "no folder"),
        ("POST", f"/{MICROSOFT}/folders", {"name": "inbox"}, 409, "already exists"),
        ("POST", "/no-such-grant/folders", {"name": "x"}, 404, "no grant"),
        ("POST", f"/{'g' * 600}/folders", {"name": "x"}, 400, "grant_id"),
        ("PATCH", f"/{GMAIL}/folders/INBOX", {"name": "Mine"}, 400, "system folder"),
        ("PATCH", f"/{GMAIL}/folders/Label_9", {"name": "x"}, 404, "no folder"),
        ("PATCH", f"/{GMAIL}/folders/Label_1", {"name": "Clients/Acme"}, 409, "already"),
        ("PATCH", f"/{GMAIL}/folders/Label_1", {"name": "x", "id": "INBOX"}, 400, "only name"),
        ("PATCH", f"/{GMAIL}/folders/Label_1", b"null", 400, "object"),
        ("DELETE", f"/{MICROSOFT}/folders/{mb.MICROSOFT_SENT_ID}", None, 400, "system folder"),
        ("DELETE", f"/{GMAIL}/folders/SENT", None, 400, "system folder"),
        ("DELETE", f"/{GMAIL}/folders/{'f' * 600}", None, 400, "folder_id"),
        ("DELETE", "/no-such-grant/folders/Label_1", None, 404, "no grant"),
    ],
)
def test_hostile_folder_requests_are_refused_with_a_reason_and_change_nothing(
    fake: FakeNylas,
    client: TestClient,
    method: str,
    path: str,
    body: object,
    status: int,
    reason: str,
) -> None:
    before = {grant: fake.folders(grant) for grant in (GMAIL, MICROSOFT, IMAP)}
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body)

    answer = client.request(method, f"/_simulator/grants{path}", content=content)

    assert answer.status_code == status
    assert reason in answer.json()["error"]["message"]
    assert {grant: fake.folders(grant) for grant in before} == before
    assert fake.drain_notifications() == []


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(
    fake: FakeNylas, client: TestClient
) -> None:
    body = json.dumps({"name": "x", "padding": "p" * MAX_BODY_BYTES})

    answer = client.post(f"/_simulator/grants/{GMAIL}/folders", content=body)

    assert answer.status_code == 413
    assert fake.drain_notifications() == []


def test_folder_routes_need_the_api_key(fake: FakeNylas) -> None:
    with TestClient(build_nylas_api(fake)) as anonymous:
        answer = anonymous.post(f"/_simulator/grants/{GMAIL}/folders", json={"name": "x"})

    assert answer.status_code == 401
    assert "Label_3" not in {f["id"] for f in fake.folders(GMAIL)}


def test_a_mailbox_holds_a_bounded_number_of_folders(fake: FakeNylas, client: TestClient) -> None:
    fake.add_folders(
        GMAIL, [{"id": f"Label_{n}", "name": f"L{n}", "attributes": []} for n in range(3, 1_000)]
    )

    answer = client.post(f"/_simulator/grants/{GMAIL}/folders", json={"name": "one more"})

    assert answer.status_code == 400
    assert "at most" in answer.json()["error"]["message"]
