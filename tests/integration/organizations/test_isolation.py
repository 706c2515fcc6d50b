"""Organizations see only their own: an isolation matrix over every operation of the CRM API
(taken from ``api.v1.OPERATIONS``, the list the OpenAPI document is written from), and two
organizations with the same rep ids, contact addresses and Nylas message ids, on SQLite and
PostgreSQL, real Redis and workers.

Organization B's token, given organization A's ids, gets 404 (or a page without A's objects)
from every operation, and A's objects are the same afterwards as before; an admin token with
``Crmsync-Org: a`` sees A's objects.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2
import orjson
import pytest
from sqlmodel import select

from api.operations import Operation
from api.v1 import OPERATIONS
from crmsync.app import build_app
from simulator import folder_presets as mailbox
from simulator import notifications as sim
from storage.engine import transaction
from storage.tables import DeliveryRow
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.live_server import serve
from workers.context import WorkerContext
from workers.dispatch import dispatch_once

# What only organization A holds: none of it may appear in an answer to B.
A_SECRETS = ("alpha-only@customer.example", "Alpha secret subject", "alpha.example/hook")
PATH_PARAMETER = re.compile(r"{([a-z_]+)}")
# Operations the matrix cannot drive through one request and answer (a stream does not
# end): each proved by a test of its own below.
PROVED_APART = {"stream_changes"}


def as_admin_of(org_id: str) -> dict[str, str]:
    return {**AUTH, "Crmsync-Org": org_id}


@pytest.fixture
def orgs(world: EmailSyncWorld) -> dict[str, Any]:
    """Organizations a and b, each with a token, and A's objects: a rep with a mailbox, a
    contact, an action item, an email, a subscription."""
    for org_id in ("a", "b"):
        made = world.api("PUT", f"/v1/orgs/{org_id}", json={"name": org_id.upper()})
        assert made.status_code == 201, made.text
    tokens = {
        org_id: world.api("POST", f"/v1/orgs/{org_id}/tokens", json={"name": "crm"}).json()
        for org_id in ("a", "b")
    }
    a = {"Authorization": f"Bearer {tokens['a']['token']}"}
    rep = {"email": "ann@acme.example", "grant_id": GMAIL_GRANT, "provider": "google"}
    assert world.client.put("/v1/reps/rep-a", json=rep, headers=a).status_code == 201
    contacts = {"contacts": [{"id": "c-a", "emails": [A_SECRETS[0]], "account_ref": "acct-a"}]}
    assert world.client.put("/v1/reps/rep-a/contacts", json=contacts, headers=a).status_code == 200
    item = {
        "title": "Call",
        "start": "2026-12-10T10:00:00Z",
        "end": "2026-12-10T10:30:00Z",
        "changed_at": "2026-12-01T00:00:00Z",
    }
    assert (
        world.client.put("/v1/reps/rep-a/action-items/i-a", json=item, headers=a).status_code == 201
    )
    subscription = world.client.post(
        "/v1/subscriptions", json={"url": "https://alpha.example/hook"}, headers=a
    )
    assert subscription.status_code == 201
    message = sim.message_created(
        GMAIL_GRANT,
        message_id="m-a",
        sender=A_SECRETS[0],
        to=("ann@acme.example",),
        subject=A_SECRETS[1],
    )
    world.notify(message)
    [email] = world.emails("rep-a")
    return {
        "tokens": tokens,
        "a": a,
        "b": {"Authorization": f"Bearer {tokens['b']['token']}"},
        "ids": {
            "rep_id": "rep-a",
            "contact_id": "c-a",
            "item_id": "i-a",
            "email_id": str(email.id),
            "subscription_id": subscription.json()["id"],
            "message_id": "m-a",
            "org_id": "a",
            "token_id": tokens["a"]["id"],
            "grant_id": GMAIL_GRANT,
            "account_ref": "acct-a",
        },
    }


def request_of(op: Operation, ids: dict[str, str]) -> dict[str, Any]:
    """The operation aimed at A's objects: A's ids in the path and in each filter the query
    takes, and the body's documented example."""
    path = "/v1" + PATH_PARAMETER.sub(lambda m: ids[m.group(1)], op.path)
    params = {name: ids[name] for name in op.query.model_fields if name in ids}
    request: dict[str, Any] = {"method": op.method, "url": path, "params": params}
    if isinstance(op.body, type):
        examples = (op.body.model_config.get("json_schema_extra") or {}).get("examples")  # type: ignore[union-attr]
        request["json"] = examples[0] if examples else {}
    return request


def a_as_seen_by_admin(world: EmailSyncWorld, ids: dict[str, str]) -> dict[str, Any]:
    """A's objects, read with an admin token acting in A."""
    headers = as_admin_of("a")
    reads = {
        "rep": "/v1/reps/rep-a",
        "contacts": "/v1/reps/rep-a/contacts",
        "item": "/v1/reps/rep-a/action-items/i-a",
        "email": f"/v1/emails/{ids['email_id']}",
        "subscription": f"/v1/subscriptions/{ids['subscription_id']}",
        "org": "/v1/orgs/a",
    }
    seen = {}
    for name, path in reads.items():
        answer = world.client.get(path, headers=headers)
        assert answer.status_code == 200, (name, answer.text)
        seen[name] = answer.json()
    seen["rep"]["account_status"].pop("silent", None)
    return seen


def test_every_operation_given_another_organizations_ids_finds_nothing_of_it(
    world: EmailSyncWorld, orgs: dict[str, Any]
) -> None:
    ids, b = orgs["ids"], orgs["b"]
    before = a_as_seen_by_admin(world, ids)
    driven = set()
    for op in OPERATIONS:
        if op.operation_id in PROVED_APART:
            continue
        driven.add(op.operation_id)
        answer = world.client.request(**request_of(op, ids), headers=b)
        where = f"{op.method} {op.path}"
        assert answer.status_code != 403, where  # never "it exists, but not for you"
        assert answer.status_code < 500, (where, answer.text)
        if answer.status_code >= 400:
            assert answer.status_code in (400, 404, 409), (where, answer.text)
        for secret in A_SECRETS:
            assert secret not in answer.text, (where, answer.text)
    assert driven | PROVED_APART == {op.operation_id for op in OPERATIONS}
    # B's writes made B's own objects (its own rep-a, ...) and never touched A's.
    assert a_as_seen_by_admin(world, ids) == before


@pytest.mark.parametrize(
    "operation_id",
    [op.operation_id for op in OPERATIONS if "{" in op.path and op.method == "GET"],
)
def test_a_read_of_another_organizations_object_is_404_as_if_it_did_not_exist(
    world: EmailSyncWorld, orgs: dict[str, Any], operation_id: str
) -> None:
    [op] = [op for op in OPERATIONS if op.operation_id == operation_id]
    request = request_of(op, orgs["ids"])

    theirs = world.client.request(**request, headers=orgs["b"])
    missing = world.client.request(
        **{**request, "url": request["url"].replace("rep-a", "rep-nobody")}, headers=orgs["b"]
    )

    assert theirs.status_code == 404, theirs.text
    if "{rep_id}" in op.path:
        assert theirs.json()["error"]["reason"] == missing.json()["error"]["reason"]


def test_admin_tokens_act_in_the_organization_they_name(
    world: EmailSyncWorld, orgs: dict[str, Any]
) -> None:
    ids = orgs["ids"]
    assert world.client.get("/v1/reps/rep-a", headers=as_admin_of("a")).status_code == 200
    assert world.client.get("/v1/reps/rep-a", headers=as_admin_of("b")).status_code == 404
    assert world.client.get("/v1/reps/rep-a", headers=AUTH).status_code == 404  # default
    emails = world.client.get("/v1/emails", params={"rep_id": "rep-a"}, headers=as_admin_of("a"))
    assert [e["id"] for e in emails.json()["data"]] == [int(ids["email_id"])]
    unknown = world.client.get("/v1/reps/rep-a", headers=as_admin_of("zeta"))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["reason"] == "unknown_org"


@pytest.mark.parametrize(
    ("header", "status"),
    [("a", 200), ("b", 404), ("default", 404), ("zeta", 404), ("bad id", 400)],
)
def test_an_organization_token_acts_only_in_its_own(
    world: EmailSyncWorld, orgs: dict[str, Any], header: str, status: int
) -> None:
    answer = world.client.get("/v1/reps/rep-a", headers={**orgs["a"], "Crmsync-Org": header})
    assert answer.status_code == status


def test_organization_management_does_not_exist_for_an_organization_token(
    world: EmailSyncWorld, orgs: dict[str, Any]
) -> None:
    for method, path in [
        ("GET", "/v1/orgs"),
        ("GET", "/v1/orgs/a"),
        ("PUT", "/v1/orgs/a"),
        ("DELETE", "/v1/orgs/b"),
        ("POST", "/v1/orgs/a/tokens"),
        ("GET", "/v1/orgs/a/tokens"),
    ]:
        answer = world.client.request(method, path, json={"name": "x"}, headers=orgs["a"])
        assert answer.status_code == 404, (method, path, answer.text)
    assert world.client.get("/v1/orgs/b", headers=AUTH).json()["name"] == "B"


def test_a_revoked_token_stops_at_once_and_its_use_is_noted(
    world: EmailSyncWorld, orgs: dict[str, Any]
) -> None:
    token_id = orgs["ids"]["token_id"]
    listed = world.api("GET", "/v1/orgs/a/tokens").json()["data"]
    assert listed[0]["last_used_at"] is not None  # the fixture used it
    assert "token" not in listed[0]
    assert orgs["tokens"]["a"]["token"] not in str(listed)

    assert world.api("DELETE", f"/v1/orgs/a/tokens/{token_id}").status_code == 204
    assert world.client.get("/v1/reps/rep-a", headers=orgs["a"]).status_code == 401
    assert world.api("GET", "/v1/orgs/a/tokens").json()["data"][0]["revoked_at"] is not None
    assert world.api("DELETE", f"/v1/orgs/b/tokens/{token_id}").status_code == 404


@pytest.mark.parametrize(
    "token",
    ["cso_", "cso_" + "A" * 43, "cso_" + "x" * 5000, "cso_\u00e9"],
    ids=["the prefix alone", "a guess", "5 KB", "non-ASCII"],
)
def test_a_token_that_is_not_one_is_401(world: EmailSyncWorld, token: str) -> None:
    answer = world.client.get(
        "/v1/changes",
        headers={"Authorization": f"Bearer {token}".encode()},  # type: ignore[dict-item]
    )
    assert answer.status_code == 401


def test_two_organizations_with_the_same_ids_and_addresses_never_meet(
    world: EmailSyncWorld, orgs: dict[str, Any]
) -> None:
    a, b = orgs["a"], orgs["b"]
    # B has a rep of the same id, a contact of the same id and address, and its mailbox
    # receives a message of the same Nylas id.
    rep = {"email": "ben@acme.example", "grant_id": MICROSOFT_GRANT, "provider": "microsoft"}
    assert world.client.put("/v1/reps/rep-a", json=rep, headers=b).status_code == 201
    contacts = {"contacts": [{"id": "c-a", "emails": [A_SECRETS[0]]}]}
    assert world.client.put("/v1/reps/rep-a/contacts", json=contacts, headers=b).status_code == 200
    subscription = world.client.post(
        "/v1/subscriptions", json={"url": "https://beta.example/hook"}, headers=b
    ).json()
    world.notify(
        sim.message_created(
            MICROSOFT_GRANT,
            message_id="m-a",
            sender=A_SECRETS[0],
            to=("ben@acme.example",),
            subject="Beta subject",
            folders=(mailbox.MICROSOFT_INBOX_ID,),
        )
    )

    a_emails = world.client.get("/v1/emails", params={"contact_id": "c-a"}, headers=a).json()
    b_emails = world.client.get("/v1/emails", params={"contact_id": "c-a"}, headers=b).json()
    assert [e["subject"] for e in a_emails["data"]] == [A_SECRETS[1]]
    assert [e["subject"] for e in b_emails["data"]] == ["Beta subject"]
    assert world.client.get("/v1/reps/rep-a", headers=b).json()["email"] == "ben@acme.example"

    a_feed = world.client.get("/v1/changes", headers=a).json()["data"]
    b_feed = world.client.get("/v1/changes", headers=b).json()["data"]
    assert {c["payload"].get("subject") for c in a_feed if c["entity"] == "email"} == {A_SECRETS[1]}
    assert {c["payload"].get("subject") for c in b_feed if c["entity"] == "email"} == {
        "Beta subject"
    }
    assert not {c["id"] for c in a_feed} & {c["id"] for c in b_feed}

    dispatch_once(WorkerContext(engine=world.runtime.engine), lambda delivery_id: None)
    with transaction(world.runtime.engine) as session:
        deliveries = session.exec(select(DeliveryRow)).all()
        by_subscription: dict[str, set[str]] = {}
        for row in deliveries:
            by_subscription.setdefault(row.subscription_id, set()).add(row.change_id)
    a_ids = {c["id"] for c in a_feed}
    b_ids = {c["id"] for c in b_feed}
    assert by_subscription[orgs["ids"]["subscription_id"]] <= a_ids
    assert by_subscription[subscription["id"]] <= b_ids
    assert by_subscription[subscription["id"]]


def test_the_live_stream_carries_only_its_organizations_changes(
    world: EmailSyncWorld, orgs: dict[str, Any]
) -> None:
    with serve(build_app(runtime=world.runtime)) as base_url:
        theirs = world.client.get("/v1/changes", headers=orgs["a"]).json()["data"]
        rep = {"email": "ben@acme.example"}
        assert world.client.put("/v1/reps/rep-b", json=rep, headers=orgs["b"]).status_code == 201

        with (
            httpx2.Client(timeout=20) as http,
            http.stream("GET", f"{base_url}/v1/changes/stream", headers=orgs["b"]) as stream,
        ):
            assert stream.status_code == 200
            data = next(line for line in stream.iter_lines() if line.startswith("data: "))
    first = orjson.loads(data.removeprefix("data: "))
    assert (first["type"], first["rep_id"]) == ("rep.created", "rep-b")
    assert first["id"] not in {change["id"] for change in theirs}
