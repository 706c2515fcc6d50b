"""Hosted OAuth per organization, on SQLite and PostgreSQL with the real Redis, workers and the
fake Nylas serving two applications: a customer's own provider app is registered once as a
Credential of the deployment's connector and named in its reps' connections; a customer with
a Nylas application of its own connects, exchanges codes and is read through that one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox
from tests.support.accounts import (
    ACCOUNTS_CLIENT_ID,
    DAY,
    AccountsWorld,
    accounts_fake,
    accounts_world,
    unix_now,
)
from tests.support.email_sync import AUTH

ANN, GRANT = "ann@acme.example", "grant-ann-google"
BEN, GLOBEX_GRANT = "ben@globex.example", "grant-ben-globex"
GLOBEX_APP, GLOBEX_KEY = "app-globex", "nyk-globex-own-key"
CONTACT = "carl@client.example"
ACME = {
    "name": "Acme",
    "provider_apps": {
        "google": {"client_id": "acme-google-app", "client_secret": "acme-google-secret"}
    },
}
GLOBEX = {
    "name": "Globex",
    "nylas_application": {
        "client_id": GLOBEX_APP,
        "region": "eu",
        "api_key": GLOBEX_KEY,
        "webhook_secrets": ["globex-webhook-secret"],
    },
}


def as_admin_of(org_id: str) -> dict[str, str]:
    return {**AUTH, "Crmsync-Org": org_id}


@pytest.fixture
def fake() -> FakeNylas:
    fake = accounts_fake(GRANT, ANN)
    fake.add_application(GLOBEX_APP, GLOBEX_KEY)
    fake.add_mailbox(GLOBEX_GRANT, "microsoft", BEN, application=GLOBEX_APP)
    return fake


@pytest.fixture
def world(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
) -> Iterator[AccountsWorld]:
    with accounts_world(database_url, redis_namespace, make_runtime, fake) as world:
        for org_id, document in (("acme", ACME), ("globex", GLOBEX)):
            assert world.api("PUT", f"/v1/orgs/{org_id}", json=document).status_code == 201
        yield world


def put_rep(world: AccountsWorld, org_id: str, rep_id: str, email: str, **more: Any) -> None:
    headers = as_admin_of(org_id)
    assert world.client.put(f"/v1/reps/{rep_id}", json={"email": email, **more}, headers=headers)
    contacts = {"contacts": [{"id": "c-carl", "emails": [CONTACT]}]}
    answer = world.client.put(f"/v1/reps/{rep_id}/contacts", json=contacts, headers=headers)
    assert answer.status_code == 200, answer.text


def connect_url(world: AccountsWorld, org_id: str, rep_id: str, **document: Any) -> str:
    answer = world.client.post(
        f"/v1/reps/{rep_id}/connect", json=document, headers=as_admin_of(org_id)
    )
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    return url


def credentials_of(fake: FakeNylas, provider: str) -> list[dict[str, Any]]:
    return fake.applications.credentials(ACCOUNTS_CLIENT_ID, provider)


def test_a_customers_provider_app_is_made_a_credential_once_and_named_in_each_connection(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    put_rep(world, "acme", "ann", ANN, provider="google")

    url = connect_url(world, "acme", "ann")

    [credential] = credentials_of(fake, "google")
    query = parse_qs(urlsplit(url).query)
    # The deployment's application, through the customer's own Google app.
    assert query["client_id"] == [ACCOUNTS_CLIENT_ID]
    assert query["credential_id"] == [credential["id"]]
    apps = world.api("GET", "/v1/orgs/acme").json()["provider_apps"]
    assert apps["google"]["credential_id"] == credential["id"]
    connected = world.callback(world.consent(url))
    assert connected.status_code == 200, connected.text
    assert fake.credential_of_grant(GRANT) == credential["id"]
    # The next connection names the same Credential: none is made again.
    again = parse_qs(urlsplit(connect_url(world, "acme", "ann")).query)
    assert again["credential_id"] == [credential["id"]]
    assert len(credentials_of(fake, "google")) == 1


def test_a_changed_provider_app_is_made_a_new_credential(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    put_rep(world, "acme", "ann", ANN, provider="google")
    first = parse_qs(urlsplit(connect_url(world, "acme", "ann")).query)["credential_id"]
    changed = {
        **ACME,
        "provider_apps": {"google": {"client_id": "acme-google-app-2", "client_secret": "s2"}},
    }
    assert world.api("PUT", "/v1/orgs/acme", json=changed).status_code == 200

    second = parse_qs(urlsplit(connect_url(world, "acme", "ann")).query)["credential_id"]

    assert second != first
    assert len(credentials_of(fake, "google")) == 2


def test_several_provider_apps_need_the_provider_said(world: AccountsWorld) -> None:
    both = {
        **ACME,
        "provider_apps": {
            **ACME["provider_apps"],
            "microsoft": {"client_id": "acme-azure-app", "client_secret": "azure-secret"},
        },
    }
    assert world.api("PUT", "/v1/orgs/acme", json=both).status_code == 200
    put_rep(world, "acme", "ann", ANN)

    refused = world.client.post("/v1/reps/ann/connect", json={}, headers=as_admin_of("acme"))

    assert refused.status_code == 400
    assert refused.json()["error"]["reason"] == "provider_required"


def test_an_own_application_connects_exchanges_and_reads_the_mailbox_with_its_own_key(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    now = unix_now()
    messages = fill_mailbox(fake, GLOBEX_GRANT, 40, contacts=[CONTACT], start=now - DAY, end=now)
    put_rep(world, "globex", "ben", BEN, provider="microsoft")

    url = connect_url(world, "globex", "ben")

    assert parse_qs(urlsplit(url).query)["client_id"] == [GLOBEX_APP]
    connected = world.callback(world.consent(url))
    assert connected.status_code == 200, connected.text
    assert connected.json()["rep"]["grant_id"] == GLOBEX_GRANT
    # The backfill reads the grant with globex's key: the deployment's sees no such grant.
    world.wait_backfills_done("ben")
    status = world.client.get("/v1/reps/ben/backfill", headers=as_admin_of("globex")).json()
    assert status["mailbox"]["state"] == "done", status
    stored = {e.message_id for e in world.emails("ben")}
    assert stored
    assert stored <= {m["id"] for m in messages}
    # Disconnecting deletes the grant at Nylas through globex's application too.
    answer = world.client.post("/v1/reps/ben/disconnect", headers=as_admin_of("globex"))
    assert answer.json()["grant_destroyed"] is True
    assert fake.grant(GLOBEX_GRANT) is None
