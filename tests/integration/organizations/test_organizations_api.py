"""``/v1/orgs`` over HTTP on SQLite and PostgreSQL: organizations created, replaced, listed
and deleted; their secrets sealed at rest, write-only and never answered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select
from starlette.datastructures import Secret
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from storage.engine import transaction
from storage.org_tables import OrganizationRow
from storage.sealing import SecretBox, new_key
from tests.support.harness import settings_for

AUTH = {"Authorization": "Bearer test-api-token"}
API_KEY = "nyk_v0_customer-own-api-key-3f9a"
WEBHOOK_SECRET = "customer-webhook-secret-77c1"
CLIENT_SECRET = "Vq8Q~azure-client-secret-0d2e"
OWN_APP: dict[str, Any] = {
    "name": "Globex",
    "nylas_application": {
        "client_id": "app-globex",
        "region": "eu",
        "api_key": API_KEY,
        "webhook_secrets": [WEBHOOK_SECRET],
    },
}
PROVIDER_APPS: dict[str, Any] = {
    "name": "Acme Corp",
    "provider_apps": {"microsoft": {"client_id": "azure-acme", "client_secret": CLIENT_SECRET}},
    "defaults": {
        "lookback_days": 90,
        "folders": "Inbox;Sent;Deals",
        "return_url_origins": ["https://Acme.CRM.example:443/"],
        "connect_allowed_domains": ["@Acme.example"],
    },
}


@pytest.fixture
def keys() -> list[str]:
    return [new_key()]


@pytest.fixture
def make_client(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Callable[..., TestClient]:
    """A client of an app whose settings are the test's, with ``overrides``."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = settings_for(database_url, redis_namespace, **overrides)
        client = TestClient(build_app(runtime=make_runtime(settings)))
        clients.append(client)
        return client

    return make


@pytest.fixture
def api(make_client: Callable[..., TestClient], keys: list[str]) -> TestClient:
    return make_client(secret_keys=tuple(Secret(k) for k in keys))


def sealed_column(database_url: str, org_id: str) -> str | None:
    from storage.engine import create_database_engine

    engine = create_database_engine(database_url)
    try:
        with transaction(engine) as session:
            row = session.exec(select(OrganizationRow).where(OrganizationRow.id == org_id)).one()
            return row.sealed_secrets
    finally:
        engine.dispose()


def test_a_deployment_has_the_default_organization_from_its_first_migration(
    api: TestClient,
) -> None:
    listed = api.get("/v1/orgs", headers=AUTH).json()
    assert [org["id"] for org in listed["data"]] == ["default"]
    default = listed["data"][0]
    assert default["provider_apps"] == {}
    assert default["nylas_application"] is None
    assert set(default["defaults"].values()) == {None}


def test_an_organization_with_its_own_nylas_application_never_shows_its_secrets(
    api: TestClient, database_url: str, keys: list[str]
) -> None:
    created = api.put("/v1/orgs/globex", json=OWN_APP, headers=AUTH)

    assert created.status_code == 201
    shown = created.json()
    assert shown["nylas_application"] == {
        "client_id": "app-globex",
        "region": "eu",
        "api_uri": "https://api.eu.nylas.com",
        "api_key_set": True,
        "webhook_secrets_set": 1,
    }
    for answer in (
        created,
        api.get("/v1/orgs/globex", headers=AUTH),
        api.get("/v1/orgs", headers=AUTH),
    ):
        assert API_KEY not in answer.text
        assert WEBHOOK_SECRET not in answer.text
    sealed = sealed_column(database_url, "globex")
    assert sealed is not None
    assert API_KEY not in sealed
    assert WEBHOOK_SECRET not in sealed
    assert SecretBox(keys).open(sealed)["api_key"] == API_KEY


def test_a_replacement_that_leaves_secrets_out_keeps_them(
    api: TestClient, database_url: str, keys: list[str]
) -> None:
    api.put("/v1/orgs/globex", json=OWN_APP, headers=AUTH)
    without = {"name": "Globex Inc", "nylas_application": {"client_id": "app-globex"}}

    replaced = api.put("/v1/orgs/globex", json=without, headers=AUTH)

    assert replaced.status_code == 200
    assert replaced.json()["name"] == "Globex Inc"
    assert replaced.json()["version"] == 2
    assert replaced.json()["nylas_application"]["api_key_set"] is True
    assert replaced.json()["nylas_application"]["region"] == "us"  # the region is not a secret
    opened = SecretBox(keys).open(sealed_column(database_url, "globex") or "")
    assert opened["api_key"] == API_KEY
    assert opened["webhook_secrets"] == [WEBHOOK_SECRET]

    rotated = {
        "name": "Globex Inc",
        "nylas_application": {
            "client_id": "app-globex",
            "webhook_secrets": ["new-secret", WEBHOOK_SECRET],
        },
    }
    assert (
        api.put("/v1/orgs/globex", json=rotated, headers=AUTH).json()["nylas_application"][
            "webhook_secrets_set"
        ]
        == 2
    )

    same = api.put("/v1/orgs/globex", json=rotated, headers=AUTH)
    assert same.status_code == 200
    assert same.json()["version"] == 3


def test_provider_apps_and_defaults_are_stored_normalised(api: TestClient) -> None:
    created = api.put("/v1/orgs/acme", json=PROVIDER_APPS, headers=AUTH).json()

    assert created["provider_apps"] == {
        "microsoft": {"client_id": "azure-acme", "client_secret_set": True, "credential_id": None}
    }
    assert created["defaults"] == {
        "lookback_days": 90,
        "folders": ["Inbox", "Sent", "Deals"],
        "calendar_name": None,
        "calendar_days_after": None,
        "return_url_origins": ["https://acme.crm.example"],
        "connect_allowed_domains": ["acme.example"],
    }
    # Dropping the app drops its secret with it.
    dropped = api.put("/v1/orgs/acme", json={"name": "Acme Corp"}, headers=AUTH).json()
    assert dropped["provider_apps"] == {}


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (
            {"name": "X", "provider_apps": {"google": {"client_id": "gcp-x"}}},
            "provider_apps.google.client_secret",
        ),
        (
            {"name": "X", "nylas_application": {"client_id": "app-x", "api_key": "k"}},
            "nylas_application.webhook_secrets",
        ),
        (
            {"name": "X", "nylas_application": {"client_id": "app-x", "webhook_secrets": ["s"]}},
            "nylas_application.api_key",
        ),
    ],
    ids=["an app without its secret", "no webhook secret", "no api key"],
)
def test_access_without_a_secret_it_needs_is_refused_by_name(
    api: TestClient, document: dict[str, Any], path: str
) -> None:
    refused = api.put("/v1/orgs/x", json=document, headers=AUTH)

    assert refused.status_code == 400
    assert refused.json()["error"]["reason"] == "missing_secret"
    assert [f["path"] for f in refused.json()["error"]["fields"]] == [path]
    assert api.get("/v1/orgs/x", headers=AUTH).status_code == 404


def test_two_organizations_cannot_share_a_nylas_application(api: TestClient) -> None:
    api.put("/v1/orgs/globex", json=OWN_APP, headers=AUTH)

    refused = api.put("/v1/orgs/impostor", json={**OWN_APP, "name": "Impostor"}, headers=AUTH)

    assert refused.status_code == 409
    assert refused.json()["error"]["reason"] == "application_in_use"
    assert "globex" not in refused.text  # the holder is not named


def test_organizations_are_listed_a_page_at_a_time(api: TestClient) -> None:
    for org_id in ("b-org", "a-org", "c-org"):
        assert api.put(f"/v1/orgs/{org_id}", json={"name": org_id}, headers=AUTH).status_code == 201

    first = api.get("/v1/orgs?limit=2", headers=AUTH).json()
    second = api.get(f"/v1/orgs?limit=2&cursor={first['next_cursor']}", headers=AUTH).json()

    assert [o["id"] for o in first["data"]] == ["a-org", "b-org"]
    assert [o["id"] for o in second["data"]] == ["c-org", "default"]


def test_deleting_an_organization_begins_its_offboarding_but_the_default_one_stays(
    api: TestClient,
) -> None:
    api.put("/v1/orgs/acme", json=PROVIDER_APPS, headers=AUTH)
    token = api.post("/v1/orgs/acme/tokens", json={"name": "crm"}, headers=AUTH).json()["token"]

    plan = api.delete("/v1/orgs/acme", params={"dry_run": "true"}, headers=AUTH)
    assert plan.status_code == 200
    assert plan.json()["rows"]["org_tokens"] == 1
    assert (
        api.get("/v1/subscriptions", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )

    begun = api.delete("/v1/orgs/acme", headers=AUTH)

    assert begun.status_code == 202
    assert (begun.json()["org_id"], begun.json()["state"]) == ("acme", "disconnecting")
    assert (
        api.get("/v1/subscriptions", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    shown = api.get("/v1/orgs/acme", headers=AUTH).json()
    assert shown["offboarding"]["requested_by"] == "token-1"
    assert api.delete("/v1/orgs/acme", headers=AUTH).json() == begun.json()  # the same one
    changed = api.put("/v1/orgs/acme", json=PROVIDER_APPS, headers=AUTH)
    assert (changed.status_code, changed.json()["error"]["reason"]) == (409, "org_offboarding")
    in_acme = api.get("/v1/subscriptions", headers={**AUTH, "Crmsync-Org": "acme"})
    assert (in_acme.status_code, in_acme.json()["error"]["reason"]) == (404, "unknown_org")
    assert api.delete("/v1/orgs/nobody", headers=AUTH).status_code == 404
    for params in ({}, {"dry_run": "true"}):
        kept = api.delete("/v1/orgs/default", params=params, headers=AUTH)
        assert (kept.status_code, kept.json()["error"]["reason"]) == (409, "default_org")
    assert api.delete("/v1/orgs/acme", params={"dry_run": "yes"}, headers=AUTH).status_code == 400


def test_keys_rotate_the_new_one_first_and_the_old_one_still_opening(
    make_client: Callable[..., TestClient], database_url: str, keys: list[str]
) -> None:
    old = keys[0]
    make_client(secret_keys=(Secret(old),)).put("/v1/orgs/globex", json=OWN_APP, headers=AUTH)
    new = new_key()
    rotated = make_client(secret_keys=(Secret(new), Secret(old)))

    shown = rotated.get("/v1/orgs/globex", headers=AUTH).json()
    assert shown["nylas_application"]["api_key_set"] is True

    # A change seals with the new key: the old one alone no longer opens it.
    rotated.put("/v1/orgs/globex", json={**OWN_APP, "name": "Globex 2"}, headers=AUTH)
    sealed = sealed_column(database_url, "globex") or ""
    assert SecretBox([new]).open(sealed)["api_key"] == API_KEY


def test_without_keys_secrets_are_refused_and_what_was_sealed_is_still_shown(
    make_client: Callable[..., TestClient], keys: list[str]
) -> None:
    make_client(secret_keys=(Secret(keys[0]),)).put("/v1/orgs/globex", json=OWN_APP, headers=AUTH)
    keyless = make_client(secret_keys=())

    refused = keyless.put("/v1/orgs/acme", json=PROVIDER_APPS, headers=AUTH)
    assert refused.status_code == 503
    assert refused.json()["error"]["reason"] == "secret_keys_not_configured"
    assert keyless.put("/v1/orgs/plain", json={"name": "Plain"}, headers=AUTH).status_code == 201
    shown = keyless.get("/v1/orgs/globex", headers=AUTH).json()["nylas_application"]
    assert shown["api_key_set"] is True
    assert shown["webhook_secrets_set"] is None
    wrong = make_client(secret_keys=(Secret(new_key()),)).get("/v1/orgs/globex", headers=AUTH)
    assert wrong.status_code == 200


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            {"name": "X", "provider_apps": {"yahoo": {"client_id": "y", "client_secret": "s"}}},
            "invalid_org",
        ),
        ({**OWN_APP, **PROVIDER_APPS}, "invalid_org"),
        ({"name": "X", "nylas_application": {"client_id": "a", "region": "mars"}}, "invalid_org"),
        ({"name": "X", "defaults": {"return_url_origins": ["javascript:alert(1)"]}}, "invalid_org"),
        (
            {"name": "X", "defaults": {"return_url_origins": ["https://crm.example/path"]}},
            "invalid_org",
        ),
        ({"name": "X", "defaults": {"connect_allowed_domains": ["not a domain"]}}, "invalid_org"),
        ({"name": "X", "defaults": {"connect_allowed_domains": ["a.example"] * 51}}, "invalid_org"),
        ({"name": "X", "defaults": {"lookback_days": -1}}, "invalid_org"),
        (
            {"name": "X", "nylas_application": {"client_id": "a", "api_key": "has space"}},
            "invalid_org",
        ),
        (
            {"name": "X", "nylas_application": {"client_id": "a", "webhook_secrets": ["s"] * 6}},
            "invalid_org",
        ),
        (
            {"name": "X", "nylas_application": {"client_id": "a", "api_key": "k" * 1025}},
            "invalid_org",
        ),
        ({"name": " "}, "invalid_org"),
        ({"name": "X", "extra": 1}, "unknown_field"),
    ],
    ids=[
        "a provider without Credentials",
        "both kinds of access",
        "an unknown region",
        "a script origin",
        "an origin with a path",
        "a domain with a space",
        "51 domains",
        "negative look-back",
        "a key with a space",
        "six webhook secrets",
        "a 1 KiB key",
        "a blank name",
        "an unknown field",
    ],
)
def test_a_bad_organization_is_a_400_that_names_it_and_stores_nothing(
    api: TestClient, document: dict[str, Any], reason: str
) -> None:
    refused = api.put("/v1/orgs/x", json=document, headers=AUTH)

    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["reason"] == reason
    assert "k" * 100 not in refused.text  # a secret is never echoed back whole
    assert api.get("/v1/orgs/x", headers=AUTH).status_code == 404


@pytest.mark.parametrize("org_id", ["-lead", "a" * 65, "dots..ok", "%00", "a b", "ü"], ids=repr)
def test_an_organization_id_is_the_vendors_in_a_plain_shape(api: TestClient, org_id: str) -> None:
    answer = api.put(f"/v1/orgs/{org_id}", json={"name": "X"}, headers=AUTH)
    if org_id == "dots..ok":
        assert answer.status_code == 201
        return
    assert answer.status_code == 400
    assert answer.json()["error"]["reason"] in ("invalid_org_id", "invalid_text")


def test_a_secret_is_never_logged(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        api.put("/v1/orgs/globex", json=OWN_APP, headers=AUTH)
        api.put("/v1/orgs/x", json={**OWN_APP, "name": ""}, headers=AUTH)
    logged = json.dumps([record.getMessage() for record in caplog.records])
    assert API_KEY not in logged
    assert WEBHOOK_SECRET not in logged


def test_organizations_need_a_configured_token(api: TestClient) -> None:
    for method, path in [("GET", "/v1/orgs"), ("PUT", "/v1/orgs/a"), ("DELETE", "/v1/orgs/a")]:
        assert api.request(method, path, headers={"Authorization": "Bearer x"}).status_code == 401
