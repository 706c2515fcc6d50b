"""The ingress routes each notification to its organization, on SQLite and PostgreSQL, with
the real Redis and real workers: an organization's own URL verifies with its secrets only,
the deployment's URL finds an organization's own application by ``data.application_id``,
a new or rotated secret verifies within moments, and a notification that came through one
organization never acts on another's rep."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from simulator import folder_presets as mailbox
from simulator import notifications as sim
from storage.engine import transaction
from storage.tables import RawNotification
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.nylas import signed
from tests.support.services import WEBHOOK_SECRET, wait_for

GLOBEX_SECRET = "globex-webhook-secret-1"
ROTATED_SECRET = "globex-webhook-secret-2"
APPLICATION = "app-globex"
IN_GLOBEX = {**AUTH, "Crmsync-Org": "globex"}


def own_application(*secrets: str) -> dict[str, Any]:
    return {
        "name": "Globex",
        "nylas_application": {
            "client_id": APPLICATION,
            "region": "us",
            # The fake Nylas's key (conftest): the workers' calls for globex's grant reach it.
            "api_key": "test-nylas-api-key",
            "webhook_secrets": list(secrets),
        },
    }


@pytest.fixture
def globex(world: EmailSyncWorld) -> EmailSyncWorld:
    """Globex, with a Nylas application of its own and a rep on the Microsoft grant; the
    default organization's rep on the Gmail grant. Each rep has bob as a contact."""
    answer = world.api("PUT", "/v1/orgs/globex", json=own_application(GLOBEX_SECRET))
    assert answer.status_code == 201, answer.text
    rep = {"email": "ben@acme.example", "grant_id": MICROSOFT_GRANT, "provider": "microsoft"}
    assert world.client.put("/v1/reps/ben", json=rep, headers=IN_GLOBEX).status_code == 201
    contacts = {"contacts": [{"id": "c-bob", "emails": ["bob@customer.example"]}]}
    answer = world.client.put("/v1/reps/ben/contacts", json=contacts, headers=IN_GLOBEX)
    assert answer.status_code == 200
    world.put_rep("ann", email="ann@acme.example", grant_id=GMAIL_GRANT, provider="google")
    world.put_contacts("ann", [{"id": "c-bob", "email": "bob@customer.example"}])
    return world


def globex_message(message_id: str, application_id: str = APPLICATION) -> dict[str, Any]:
    document = sim.message_created(
        MICROSOFT_GRANT,
        message_id=message_id,
        sender="bob@customer.example",
        to=("ben@acme.example",),
        folders=(mailbox.MICROSOFT_INBOX_ID,),
    )
    document["data"]["application_id"] = application_id
    return document


def post(world: EmailSyncWorld, path: str, document: dict[str, Any], secret: str) -> Any:
    body, headers = signed(document, secret)
    return world.client.post(path, content=body, headers=headers)


def accepted_soon(world: EmailSyncWorld, path: str, document: dict[str, Any], secret: str) -> Any:
    """The answer once the web process has read the organization's secrets (a few hundred
    milliseconds in the tests: CRMSYNC_ORG_KEYS_REFRESH_MS is 100 there)."""
    answers: list[Any] = []

    def accepted() -> bool:
        answers.append(post(world, path, document, secret))
        return bool(answers[-1].status_code == 200)

    wait_for(accepted, what=f"{path} to accept a notification signed with its secret")
    return answers[-1]


def stored(world: EmailSyncWorld, notification_id: str) -> RawNotification | None:
    with transaction(world.runtime.engine) as session:
        row = session.exec(
            select(RawNotification).where(RawNotification.notification_id == notification_id)
        ).first()
        if row is not None:
            session.expunge(row)
        return row


def handled(world: EmailSyncWorld, notification_id: str) -> RawNotification:
    wait_for(lambda: stored(world, notification_id) is not None, what=f"{notification_id} handled")
    row = stored(world, notification_id)
    assert row is not None
    return row


def test_an_organizations_url_takes_what_its_own_secret_signs(globex: EmailSyncWorld) -> None:
    document = globex_message("m-own-url")

    answer = accepted_soon(globex, "/webhooks/nylas/globex", document, GLOBEX_SECRET)

    assert answer.json()["queued"] == 1
    row = handled(globex, document["id"])
    assert (row.org_id, row.via_org, row.outcome) == ("globex", "globex", "stored")
    [email] = globex.emails()
    assert (email.org_id, email.rep_id, email.message_id) == ("globex", "ben", "m-own-url")


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/webhooks/nylas/globex", WEBHOOK_SECRET),  # the deployment's secret: not globex's
        ("/webhooks/nylas/default", WEBHOOK_SECRET),  # no application of its own
        ("/webhooks/nylas/nobody", GLOBEX_SECRET),  # no such organization
        ("/webhooks/nylas/nobody", WEBHOOK_SECRET),
    ],
)
def test_an_organizations_url_refuses_any_other_signature_as_a_bad_one(
    globex: EmailSyncWorld, path: str, secret: str
) -> None:
    accepted_soon(globex, "/webhooks/nylas/globex", globex_message("m-ready"), GLOBEX_SECRET)

    answer = post(globex, path, globex_message("m-refused"), secret)

    # The same answer whether the organization exists or not: the URL enumerates nothing.
    assert answer.status_code == 401
    assert answer.json()["error"]["reason"] == "bad_signature"


def test_the_deployments_url_finds_an_organizations_own_application(
    globex: EmailSyncWorld,
) -> None:
    own = globex_message("m-by-application")
    accepted_soon(globex, "/webhooks/nylas", own, GLOBEX_SECRET)
    row = handled(globex, own["id"])
    assert (row.org_id, row.via_org, row.outcome) == ("globex", "globex", "stored")

    # Another application's id does not make globex's secret sign for it.
    stranger = globex_message("m-stranger", application_id="app-someone-else")
    assert post(globex, "/webhooks/nylas", stranger, GLOBEX_SECRET).status_code == 401
    # The deployment's secret still signs for the deployment's application.
    deployments = globex_message("m-deployment", application_id=sim.APPLICATION_ID)
    assert post(globex, "/webhooks/nylas", deployments, WEBHOOK_SECRET).status_code == 200
    assert handled(globex, deployments["id"]).via_org == ""  # the deployment's


def test_one_organizations_notification_never_acts_on_anothers_rep(
    globex: EmailSyncWorld,
) -> None:
    # Globex's people hold globex's secret: they can sign a notification about any grant.
    forged = sim.message_created(GMAIL_GRANT, message_id="m-forged", sender="bob@customer.example")
    forged["data"]["application_id"] = APPLICATION

    accepted_soon(globex, "/webhooks/nylas/globex", forged, GLOBEX_SECRET)

    row = handled(globex, forged["id"])
    assert (row.org_id, row.via_org, row.outcome) == ("globex", "globex", "other_organization")
    assert globex.emails() == []
    # The same notification from the deployment's application is the default rep's to store.
    assert post(globex, "/webhooks/nylas", forged, WEBHOOK_SECRET).json()["queued"] == 1
    wait_for(lambda: len(globex.emails()) == 1, what="the deployment's notification stored")
    assert globex.emails()[0].org_id == "default"


def test_a_notification_id_is_seen_once_per_organization_it_came_through(
    globex: EmailSyncWorld,
) -> None:
    document = globex_message("m-twice")
    first = accepted_soon(globex, "/webhooks/nylas/globex", document, GLOBEX_SECRET)
    again = post(globex, "/webhooks/nylas/globex", document, GLOBEX_SECRET)
    through_deployment = post(globex, "/webhooks/nylas", document, WEBHOOK_SECRET)

    assert (first.json()["queued"], again.json()["duplicates"]) == (1, 1)
    assert through_deployment.json()["queued"] == 1  # globex's deliveries mark none of others'


def test_a_rotated_secret_verifies_within_moments_and_the_old_one_until_it_is_removed(
    globex: EmailSyncWorld,
) -> None:
    accepted_soon(globex, "/webhooks/nylas/globex", globex_message("m-1"), GLOBEX_SECRET)

    rotating = globex.api(
        "PUT", "/v1/orgs/globex", json=own_application(ROTATED_SECRET, GLOBEX_SECRET)
    )
    assert rotating.status_code == 200

    # While both are listed, neither is ever refused: nothing is lost during the rotation.
    old = post(globex, "/webhooks/nylas/globex", globex_message("m-2"), GLOBEX_SECRET)
    assert old.status_code == 200
    accepted_soon(globex, "/webhooks/nylas/globex", globex_message("m-3"), ROTATED_SECRET)

    assert (
        globex.api("PUT", "/v1/orgs/globex", json=own_application(ROTATED_SECRET)).status_code
        == 200
    )

    def old_refused() -> bool:
        answer = post(globex, "/webhooks/nylas/globex", globex_message("m-4"), GLOBEX_SECRET)
        return bool(answer.status_code == 401)

    wait_for(old_refused, what="the removed secret to be refused")
    new = post(globex, "/webhooks/nylas/globex", globex_message("m-5"), ROTATED_SECRET)
    assert new.status_code == 200


def test_an_organizations_url_answers_nylas_challenge(globex: EmailSyncWorld) -> None:
    answer = globex.client.get("/webhooks/nylas/globex", params={"challenge": "abc123"})
    assert (answer.status_code, answer.text) == (200, "abc123")
