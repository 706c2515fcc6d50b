"""One Nylas gateway per application, on SQLite and PostgreSQL: a grant of an organization
with its own Nylas application is reached with that application's API key in its region,
any other with the deployment's; a rotated key is used within moments."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import Secret

from storage.sealing import SecretBox, new_key
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.services import SECRET_KEY
from workers.nylas_client import NylasGateway
from workers.org_gateways import OrgGateways, OrgKeyUnavailable

REGIONS = {"us": "http://us.nylas.test", "eu": "http://eu.nylas.test"}


def own_application(api_key: str, region: str = "eu") -> dict[str, Any]:
    return {
        "name": "Globex",
        "nylas_application": {
            "client_id": "app-globex",
            "region": region,
            "api_key": api_key,
            "webhook_secrets": ["globex-webhook-secret"],
        },
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def built() -> list[tuple[str, str]]:
    return []


def gateways(
    world: EmailSyncWorld, built: list[tuple[str, str]], clock: Clock, key: str = SECRET_KEY
) -> OrgGateways:
    def build(api_key: str, api_uri: str) -> NylasGateway:
        built.append((api_key, api_uri))
        return NylasGateway(api_key, api_uri)

    box = SecretBox((str(Secret(key)),))
    return OrgGateways(world.runtime.engine, box, build, REGIONS, clock=clock)


@pytest.fixture
def two_orgs(world: EmailSyncWorld) -> EmailSyncWorld:
    """Globex has its own application and a rep on the Microsoft grant; the default
    organization's rep is on the Gmail grant."""
    assert world.api("PUT", "/v1/orgs/globex", json=own_application("nyk_one")).status_code == 201
    rep = {"email": "ben@acme.example", "grant_id": MICROSOFT_GRANT, "provider": "microsoft"}
    in_globex = {**AUTH, "Crmsync-Org": "globex"}
    assert world.client.put("/v1/reps/ben", json=rep, headers=in_globex).status_code == 201
    world.put_rep("ann", email="ann@acme.example", grant_id=GMAIL_GRANT, provider="google")
    return world


def test_a_grant_of_an_own_application_gets_its_key_and_region(
    two_orgs: EmailSyncWorld, built: list[tuple[str, str]]
) -> None:
    chooser = gateways(two_orgs, built, Clock())

    own = chooser.for_grant(MICROSOFT_GRANT)

    assert own is not None
    assert built == [("nyk_one", REGIONS["eu"])]
    # The deployment's rep, and a grant no rep holds, use the deployment's gateway.
    assert chooser.for_grant(GMAIL_GRANT) is None
    assert chooser.for_grant("grant-nobody") is None
    # Another call for the same grant, or another grant of globex, builds nothing new.
    assert chooser.for_grant(MICROSOFT_GRANT) is own
    assert built == [("nyk_one", REGIONS["eu"])]


def test_a_rotated_key_is_used_once_the_grants_access_is_read_again(
    two_orgs: EmailSyncWorld, built: list[tuple[str, str]]
) -> None:
    clock = Clock()
    chooser = gateways(two_orgs, built, clock)
    first = chooser.for_grant(MICROSOFT_GRANT)

    rotated = two_orgs.api("PUT", "/v1/orgs/globex", json=own_application("nyk_two", "us"))
    assert rotated.status_code == 200
    assert chooser.for_grant(MICROSOFT_GRANT) is first  # within the few seconds it is kept
    clock.now += 6

    second = chooser.for_grant(MICROSOFT_GRANT)

    assert second is not first
    assert built == [("nyk_one", REGIONS["eu"]), ("nyk_two", REGIONS["us"])]


def test_a_key_that_cannot_be_opened_stops_that_organizations_work_only(
    two_orgs: EmailSyncWorld, built: list[tuple[str, str]]
) -> None:
    chooser = gateways(two_orgs, built, Clock(), key=new_key())

    with pytest.raises(OrgKeyUnavailable):
        chooser.for_grant(MICROSOFT_GRANT)
    assert chooser.for_grant(GMAIL_GRANT) is None
    assert built == []
