"""An organization's defaults are what its reps start from: a rep's own setting wins, and
an organization without defaults, like ``default``, takes the deployment's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from simulator.mailbox import FakeNylas
from tests.support.accounts import AccountsWorld, accounts_fake, accounts_world
from tests.support.email_sync import AUTH, EmailSyncWorld

ACME = {**AUTH, "Crmsync-Org": "acme"}
DEFAULTS = {
    "lookback_days": 90,
    "folders": "Inbox;Deals",
    "calendar_name": "Sales",
    "calendar_days_after": 14,
    "return_url_origins": ["https://acme.crm.example"],
}
DEPLOYMENT_ORIGIN = "https://crm.example"


def settings_of(world: EmailSyncWorld | AccountsWorld, headers: dict[str, str]) -> Any:
    answer = world.client.put("/v1/reps/rep-1", json={"email": "ann@acme.example"}, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["settings"]


def days_ago(text: str) -> float:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (datetime.now(UTC) - moment) / timedelta(days=1)


def test_a_rep_left_without_settings_takes_its_organizations_defaults(
    world: EmailSyncWorld,
) -> None:
    world.api("PUT", "/v1/orgs/acme", json={"name": "Acme", "defaults": DEFAULTS})

    settings = settings_of(world, ACME)

    assert settings["folders"] == ["Inbox", "Deals"]
    assert settings["calendar_name"] == "Sales"
    assert settings["calendar_days_after"] == 14
    assert days_ago(settings["sync_from"]) == pytest.approx(90, abs=0.01)
    default = settings_of(world, AUTH)  # the default organization: the manuals' defaults
    assert default["folders"] == []
    assert default["calendar_name"] is None
    assert default["calendar_days_after"] == 30
    assert days_ago(default["sync_from"]) == pytest.approx(30, abs=0.01)


def test_a_reps_own_settings_win_over_its_organizations(world: EmailSyncWorld) -> None:
    world.api("PUT", "/v1/orgs/acme", json={"name": "Acme", "defaults": DEFAULTS})
    own = {"folders": "", "calendar_name": "Mine", "calendar_days_after": 0}

    answer = world.client.put(
        "/v1/reps/rep-1", json={"email": "ann@acme.example", "settings": own}, headers=ACME
    )

    settings = answer.json()["settings"]
    assert settings["folders"] == []  # given empty: the inbox and sent folders, as asked
    assert (settings["calendar_name"], settings["calendar_days_after"]) == ("Mine", 0)


GRANT = "grant-defaults"


@pytest.fixture
def accounts(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
) -> Iterator[AccountsWorld]:
    fake: FakeNylas = accounts_fake(GRANT, "ann@acme.example")
    with accounts_world(
        database_url,
        redis_namespace,
        make_runtime,
        fake,
        return_url_origins=(DEPLOYMENT_ORIGIN,),
    ) as world:
        world.client.put("/v1/orgs/acme", json={"name": "Acme", "defaults": DEFAULTS}, headers=AUTH)
        for headers in (AUTH, ACME):
            settings_of(world, headers)
        yield world


@pytest.mark.parametrize(
    ("headers", "return_url", "status"),
    [
        (ACME, "https://acme.crm.example/deals/7", 200),
        (ACME, f"{DEPLOYMENT_ORIGIN}/deals/7", 400),  # the organization's list replaces it
        (AUTH, f"{DEPLOYMENT_ORIGIN}/deals/7", 200),
        (AUTH, "https://acme.crm.example/deals/7", 400),
    ],
    ids=["its origin", "the deployment's origin", "default: deployment's", "default: not its"],
)
def test_a_connection_returns_only_to_its_organizations_origins(
    accounts: AccountsWorld, headers: dict[str, str], return_url: str, status: int
) -> None:
    answer = accounts.client.post(
        "/v1/reps/rep-1/connect", json={"return_url": return_url}, headers=headers
    )

    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["error"]["reason"] == "return_url_not_allowed"


def test_a_connection_counts_sync_from_by_its_organizations_look_back(
    accounts: AccountsWorld,
) -> None:
    url = accounts.client.post("/v1/reps/rep-1/connect", json={}, headers=ACME).json()["url"]

    answer = accounts.callback(accounts.consent(url))

    assert answer.status_code == 200, answer.text
    assert days_ago(answer.json()["rep"]["settings"]["sync_from"]) == pytest.approx(90, abs=0.01)
