"""Attacks on hosted OAuth connect (M5, L2, L6, L7), on SQLite and PostgreSQL.

The attacker holds a leaked connect URL and signs in with their own mailbox; or holds a CRM
token and picks a return_url on their own site, an overlong one, or re-signs an old
attempt's nonce with a fresh time; or sends a forged ``Host`` header hoping to see it in a
redirect. Each is refused with a 4xx and a reason, and nothing of the attacker's is kept.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.oauth_state import ConnectState, sign_state
from domain.organizations import DEFAULT_ORG_ID
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from storage.tables import ConnectAttemptRow
from tests.support.accounts import AccountsWorld, accounts_fake, accounts_world
from tests.support.email_sync import AUTH
from workers.context import WorkerContext
from workers.maintenance import Maintenance

GRANT = "grant-ann-google"
ANN = "ann@acme.example"
MALLORY = "mallory@attacker.example"
CRM = "https://crm.example"


@pytest.fixture
def fake() -> FakeNylas:
    return accounts_fake(GRANT, ANN)


@pytest.fixture
def world(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
) -> Iterator[AccountsWorld]:
    with accounts_world(
        database_url, redis_namespace, make_runtime, fake, return_url_origins=(CRM,)
    ) as world:
        world.put_rep("rep-ann", email=ANN)
        yield world


def signed_in_as(auth_url: str, email: str) -> str:
    """The hosted-auth URL as opened by someone signing in with ``email`` (the login hint is
    only a hint: at Nylas's page anyone picks the account they hold)."""
    parts = urlsplit(auth_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, "login_hint": email})))


def grant_of(fake: FakeNylas, email: str) -> str | None:
    return next((g["id"] for g in fake.grants() if g.get("email") == email), None)


def attempts(world: AccountsWorld) -> list[ConnectAttemptRow]:
    with Session(world.runtime.engine) as session:
        return list(session.exec(select(ConnectAttemptRow)))


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["reason"]


# M5: a mailbox of another person --------------------------------------------------------------


def test_a_leaked_link_completed_with_another_mailbox_is_refused_and_the_grant_destroyed(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    auth_url = signed_in_as(world.connect_url("rep-ann"), MALLORY)

    path = world.consent(auth_url)
    mallory_grant = grant_of(fake, MALLORY)
    assert mallory_grant is not None  # Nylas made a grant of the attacker's mailbox
    answer = world.callback(path)

    assert error_of(answer) == (403, "mailbox_mismatch")
    assert MALLORY in answer.json()["error"]["message"]
    assert ANN not in answer.json()["error"]["message"]  # the rep's address is not told
    assert world.rep("rep-ann")["grant_id"] is None
    assert fake.grant(mallory_grant) is None
    assert len(fake.requests_to(f"/v3/grants/{mallory_grant}", method="DELETE")) == 1
    assert [a.outcome for a in attempts(world)] == ["mailbox_mismatch"]


def test_a_mismatch_sends_the_browser_back_to_the_crm_saying_so(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    url = world.connect_url("rep-ann", return_url=f"{CRM}/reps/ann")

    answer = world.callback(world.consent(signed_in_as(url, MALLORY)))

    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert (location.netloc, parse_qs(location.query)) == (
        "crm.example",
        {"rep_id": ["rep-ann"], "status": ["failed"], "error": ["mailbox_mismatch"]},
    )
    assert grant_of(fake, MALLORY) is None
    assert world.rep("rep-ann")["grant_id"] is None


def test_another_reps_mailbox_is_refused_without_destroying_that_reps_grant(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    bob_grant = "grant-bob-google"
    fake.add_mailbox(bob_grant, "google", "bob@acme.example")
    world.put_rep("rep-bob", email="bob@acme.example", grant_id=bob_grant, provider="google")

    answer = world.callback(
        world.consent(signed_in_as(world.connect_url("rep-ann"), "bob@acme.example"))
    )

    assert error_of(answer) == (403, "mailbox_mismatch")
    assert fake.grant(bob_grant) is not None
    assert not fake.requests_to(f"/v3/grants/{bob_grant}", method="DELETE")
    assert world.rep("rep-bob")["grant_id"] == bob_grant
    assert world.rep("rep-ann")["grant_id"] is None


def test_the_reps_own_address_in_other_capitals_connects(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    fake.add_mailbox("grant-cat-google", "google", "Cat.Lee@ACME.example")
    world.put_rep("rep-cat", email="cat.lee@acme.example")

    answer = world.callback(world.consent(world.connect_url("rep-cat")))

    assert answer.status_code == 200, answer.text
    assert world.rep("rep-cat")["grant_id"] == "grant-cat-google"
    assert [a.outcome for a in attempts(world)] == ["connected"]


def test_a_mailbox_of_an_allowed_domain_connects(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
) -> None:
    overrides: dict[str, Any] = {"connect_allowed_domains": ("acme.example",)}
    with accounts_world(database_url, redis_namespace, make_runtime, fake, **overrides) as world:
        world.put_rep("rep-ann", email=ANN)
        sales = world.connect_url("rep-ann")
        answer = world.callback(world.consent(signed_in_as(sales, "ann.sales@acme.example")))
        assert answer.status_code == 200, answer.text
        world.api("POST", "/v1/reps/rep-ann/disconnect")

        other = world.callback(world.consent(signed_in_as(world.connect_url("rep-ann"), MALLORY)))
        assert error_of(other) == (403, "mailbox_mismatch")


# L2: return_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("return_url", "reason"),
    [
        ("https://evil.example/landing", "return_url_not_allowed"),
        ("HTTPS://EVIL.example/landing", "return_url_not_allowed"),
        ("https://crm.example.evil.example/", "return_url_not_allowed"),
        ("http://crm.example/", "return_url_not_allowed"),
        ("https://crm.example@evil.example/", "invalid_return_url"),
        ("http:/\\evil.example", "invalid_return_url"),
        ("http:javascript:alert(1)", "invalid_return_url"),
        (f"{CRM}/" + "a" * 5_000, "return_url_too_long"),
    ],
    ids=["other", "other-capitals", "suffix", "http", "userinfo", "backslash", "js", "5000"],
)
def test_a_return_url_of_another_origin_or_overlong_is_refused_and_nothing_stored(
    world: AccountsWorld, return_url: str, reason: str
) -> None:
    answer = world.api("POST", "/v1/reps/rep-ann/connect", json={"return_url": return_url})

    assert error_of(answer) == (400, reason)
    assert attempts(world) == []


def test_with_no_origin_configured_no_return_url_is_accepted(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
) -> None:
    with accounts_world(database_url, redis_namespace, make_runtime, fake) as world:
        world.put_rep("rep-ann", email=ANN)
        answer = world.api("POST", "/v1/reps/rep-ann/connect", json={"return_url": f"{CRM}/x"})

        assert error_of(answer) == (400, "return_url_not_allowed")
        assert "CRMSYNC_RETURN_URL_ORIGINS" in answer.json()["error"]["message"]


def test_the_status_lands_in_the_query_before_the_fragment(world: AccountsWorld) -> None:
    url = world.connect_url("rep-ann", return_url=f"{CRM}/reps/ann?tab=mail#panel")

    answer = world.callback(world.consent(url))

    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.fragment == "panel"
    assert parse_qs(location.query) == {
        "tab": ["mail"],
        "rep_id": ["rep-ann"],
        "status": ["connected"],
    }


# L7: the attempt's own age ---------------------------------------------------------------------


def test_an_expired_attempt_re_signed_with_a_fresh_time_is_refused(
    world: AccountsWorld,
) -> None:
    path = world.consent(world.connect_url("rep-ann"))
    params = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    payload = params["state"].split(".")[1]
    nonce = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["n"]
    with Session(world.runtime.engine) as session:  # the attempt was started 16 minutes ago
        row = session.get(ConnectAttemptRow, nonce)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(minutes=16)
        session.add(row)
        session.commit()
    # Whoever holds the signing key (by default derived from the first API token) signs the
    # old nonce with the time of now.
    key = world.runtime.settings.state_secret_bytes()[0]
    fresh = sign_state(ConnectState("rep-ann", nonce, datetime.now(UTC)), key)

    answer = world.callback(f"{urlsplit(path).path}?{urlencode({**params, 'state': fresh})}")

    assert error_of(answer) == (400, "expired_state")
    assert world.rep("rep-ann")["grant_id"] is None
    [attempt] = attempts(world)
    assert (attempt.outcome, attempt.used_at is not None) == ("expired", True)
    again = world.callback(f"{urlsplit(path).path}?{urlencode({**params, 'state': fresh})}")
    assert error_of(again) == (400, "state_used")


def test_connect_attempts_older_than_a_day_are_pruned_in_bounded_batches(
    world: AccountsWorld,
) -> None:
    now = datetime.now(UTC)
    with Session(world.runtime.engine) as session:
        for n in range(2_500):
            session.add(
                ConnectAttemptRow(
                    nonce=f"old-{n}",
                    org_id=DEFAULT_ORG_ID,
                    rep_id="rep-ann",
                    created_at=now - timedelta(days=2),
                )
            )
        session.add(
            ConnectAttemptRow(
                nonce="recent", org_id=DEFAULT_ORG_ID, rep_id="rep-ann", created_at=now
            )
        )
        session.commit()
    maintenance = Maintenance(
        WorkerContext(engine=world.runtime.engine), change_retention=timedelta(days=30)
    )

    maintenance.run_once()

    with Session(world.runtime.engine) as session:
        left = session.exec(select(ConnectAttemptRow.nonce)).all()
    assert left == ["recent"]


# L6: a forged Host header ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1", "/v1/reps/", "/v1/reps/rep-ann/"])
def test_a_forged_host_header_is_never_reflected_in_a_redirect(
    world: AccountsWorld, path: str
) -> None:
    answer = world.client.get(
        path, headers={**AUTH, "host": "evil.example"}, follow_redirects=False
    )

    assert "evil.example" not in answer.headers.get("location", "")
    assert error_of(answer) == (404, "not_found")


def test_the_oauth_urls_come_from_the_configured_public_url_whatever_the_host(
    world: AccountsWorld,
) -> None:
    answer = world.client.post(
        "/v1/reps/rep-ann/connect",
        json={"return_url": f"{CRM}/done"},
        headers={**AUTH, "host": "evil.example", "x-forwarded-host": "evil.example"},
    )
    assert answer.status_code == 200, answer.text
    redirect_uri = parse_qs(urlsplit(answer.json()["url"]).query)["redirect_uri"][0]
    assert redirect_uri == "http://crm-sync.test/oauth/nylas/callback"

    path = world.consent(answer.json()["url"])
    back = world.client.get(path, headers={"host": "evil.example"}, follow_redirects=False)

    assert back.status_code == 303
    assert urlsplit(back.headers["location"]).netloc == "crm.example"


def test_the_simulator_mounted_in_embedded_mode_reflects_no_host_either(fake: FakeNylas) -> None:
    with TestClient(build_nylas_api(fake)) as client:
        answer = client.get(
            "/v3/grants/",
            headers={"authorization": f"Bearer {fake.api_key}", "host": "evil.example"},
            follow_redirects=False,
        )

    assert "evil.example" not in answer.headers.get("location", "")
    assert answer.status_code == 404


# M3: a grant id from the code exchange ------------------------------------------------------


def test_a_grant_id_of_another_shape_from_the_exchange_is_never_stored(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    """Grant ids go into Nylas API paths; whatever Nylas answers, one that could climb to
    another path is refused like every other grant id that enters crmsync."""
    fake.add_mailbox("../webhooks/wh_0001", "google", "eve@acme.example")
    world.put_rep("rep-eve", email="eve@acme.example")

    answer = world.callback(world.consent(world.connect_url("rep-eve")))

    assert error_of(answer)[1] == "invalid_grant"
    assert world.rep("rep-eve")["grant_id"] is None
