"""The CRM API (`/v1`) over HTTP on SQLite and PostgreSQL: tokens, reps, contacts, emails,
activity, and a clear JSON refusal for every kind of bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.contacts import ContactMatch, HeaderRole
from domain.messages import parse_message
from domain.organizations import DEFAULT_ORG_ID
from simulator import notifications as sim
from storage.contacts import contacts_for_addresses
from storage.emails import store_email
from storage.engine import transaction
from tests.integration.conftest import GMAIL_GRANT
from tests.support.email_sync import EmailSyncWorld

REP = {"email": "Ann <ann@acme.example>", "grant_id": GMAIL_GRANT, "provider": "google"}


def refusal(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["reason"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}],
    ids=["no token", "an unknown token", "another scheme"],
)
def test_every_v1_route_needs_a_configured_bearer_token(
    world: EmailSyncWorld, headers: dict[str, str]
) -> None:
    for method, path in [("GET", "/v1/reps/r1"), ("PUT", "/v1/reps/r1"), ("GET", "/v1/emails")]:
        response = world.client.request(method, path, headers=headers)
        assert refusal(response) == (401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_rep_is_created_read_and_updated_with_its_settings(world: EmailSyncWorld) -> None:
    created = world.api("PUT", "/v1/reps/rep-ann", json=REP)
    assert created.status_code == 201
    rep = created.json()
    assert rep["email"] == "ann@acme.example"
    assert rep["settings"]["folders"] == []
    assert rep["settings"]["email_sync"] is True
    assert rep["settings"]["calendar_days_after"] == 30
    assert rep["account_status"]["status"] == "valid"
    assert rep["account_status"]["next_action"] == "Nothing."
    # No sync-from given: the look-back of 30 days from now, kept on later updates.
    sync_from = datetime.fromisoformat(rep["settings"]["sync_from"].replace("Z", "+00:00"))
    assert abs(sync_from - (datetime.now(UTC) - timedelta(days=30))) < timedelta(minutes=1)

    again = world.api(
        "PUT",
        "/v1/reps/rep-ann",
        json={**REP, "settings": {"folders": "Inbox\\CoolStuff; sent", "email_sync": False}},
    )
    assert again.status_code == 200
    assert again.json()["settings"]["folders"] == ["CoolStuff", "sent"]
    assert again.json()["settings"]["sync_from"] == rep["settings"]["sync_from"]
    assert world.api("GET", "/v1/reps/rep-ann").json() == again.json()
    # An identical PUT changes nothing and records nothing.
    world.api(
        "PUT",
        "/v1/reps/rep-ann",
        json={**REP, "settings": {"folders": "CoolStuff;sent", "email_sync": False}},
    )
    assert [c.type for c in world.changes(entity="rep")] == ["rep.created", "rep.updated"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"[]", "invalid_rep"),
        (b'{"email": "not-an-address"}', "invalid_rep"),
        (b'{"email": "a@b.example", "settings": {"email_sync": "yes"}}', "invalid_rep"),
        (b'{"email": "a@b.example", "settings": {"calendar_days_after": 400}}', "invalid_rep"),
        (
            b'{"email": "a@b.example", "settings": {"sync_from": "2026-01-01T00:00:00"}}',
            "invalid_rep",
        ),
        (b'{"email": "a@b.example", "provider": "aol"}', "invalid_rep"),
    ],
    ids=[
        "not JSON",
        "not an object",
        "a bad address",
        "a non-boolean flag",
        "too many days",
        "a time without a zone",
        "an unknown provider",
    ],
)
def test_a_bad_rep_is_refused_with_a_reason_and_nothing_stored(
    world: EmailSyncWorld, body: bytes, reason: str
) -> None:
    response = world.api("PUT", "/v1/reps/rep-x", content=body)
    assert refusal(response) == (400, reason)
    assert world.api("GET", "/v1/reps/rep-x").status_code == 404
    assert world.changes() == []


def test_a_typo_in_a_rep_is_refused_naming_the_field_and_nothing_changes(
    world: EmailSyncWorld,
) -> None:
    world.put_rep("rep-ann", **REP)
    before = world.api("GET", "/v1/reps/rep-ann").json()

    response = world.api(
        "PUT", "/v1/reps/rep-ann", json={**REP, "settings": {"calendar_synk": False}}
    )

    assert refusal(response) == (400, "unknown_field")
    error = response.json()["error"]
    assert error["fields"] == [
        {"path": "settings.calendar_synk", "problem": "not a field of this document"}
    ]
    assert "settings.calendar_synk" in error["message"]
    assert world.api("GET", "/v1/reps/rep-ann").json() == before


def test_a_rep_of_the_wrong_shape_names_each_field_and_what_it_must_be(
    world: EmailSyncWorld,
) -> None:
    body = {"email": 5, "settings": {"email_sync": "yes", "calendar_days_after": 400}}

    response = world.api("PUT", "/v1/reps/rep-x", json=body)

    assert refusal(response) == (400, "invalid_rep")
    assert response.json()["error"]["fields"] == [
        {"path": "email", "problem": "must be a valid string"},
        {"path": "settings.email_sync", "problem": "must be true or false"},
        {"path": "settings.calendar_days_after", "problem": "must be less than or equal to 365"},
    ]


def test_a_grant_belongs_to_one_rep(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    response = world.api("PUT", "/v1/reps/rep-bob", json={**REP, "email": "bob@acme.example"})
    assert refusal(response) == (409, "grant_in_use")


def test_unknown_reps_contacts_and_emails_are_404(world: EmailSyncWorld) -> None:
    assert refusal(world.api("GET", "/v1/reps/nobody")) == (404, "unknown_rep")
    assert refusal(world.api("PUT", "/v1/reps/nobody/contacts", json={"contacts": []})) == (
        404,
        "unknown_rep",
    )
    world.put_rep("rep-ann", **REP)
    assert refusal(world.api("GET", "/v1/reps/rep-ann/contacts/c-1")) == (404, "unknown_contact")
    assert refusal(world.api("DELETE", "/v1/reps/rep-ann/contacts/c-1")) == (
        404,
        "unknown_contact",
    )
    assert refusal(world.api("GET", "/v1/emails/12345")) == (404, "unknown_email")
    assert refusal(world.api("POST", "/v1/emails/abc/hide")) == (404, "unknown_email")


def test_contacts_are_replaced_in_bulk_writing_only_what_changed(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    first = [
        {"id": "c-1", "emails": ["One@Example.com"], "account_ref": "acct-1"},
        {"id": "c-2", "emails": ["two@example.com", "two.b@example.com"], "name": "Two"},
        {"id": "c-3", "email": "three@example.com"},
    ]
    assert world.put_contacts("rep-ann", first) == {
        "rep_id": "rep-ann",
        "added": 3,
        "updated": 0,
        "removed": 0,
        "unchanged": 0,
    }
    assert world.put_contacts("rep-ann", first)["unchanged"] == 3
    second = [first[0], {**first[1], "account_ref": "acct-2"}]
    assert world.put_contacts("rep-ann", second) == {
        "rep_id": "rep-ann",
        "added": 0,
        "updated": 1,
        "removed": 1,
        "unchanged": 1,
    }
    assert [c.type for c in world.changes(entity="contact")] == [
        "contact.added",
        "contact.added",
        "contact.added",
        "contact.updated",
        "contact.removed",
    ]
    listed = world.api("GET", "/v1/reps/rep-ann/contacts", params={"limit": 1}).json()
    assert [c["id"] for c in listed["data"]] == ["c-1"]
    assert listed["data"][0]["emails"] == ["one@example.com"]
    rest = world.api(
        "GET", "/v1/reps/rep-ann/contacts", params={"cursor": listed["next_cursor"]}
    ).json()
    assert [c["id"] for c in rest["data"]] == ["c-2"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"contacts": "c-1"}, "invalid_contacts"),
        ({"contacts": [{"emails": ["a@b.example"]}]}, "invalid_contact"),
        ({"contacts": [{"id": "c-1", "emails": []}]}, "invalid_contact"),
        ({"contacts": [{"id": "c-1", "emails": ["nope"]}]}, "invalid_contact"),
        (
            {"contacts": [{"id": "c-1", "email": "a@b.example"}, {"id": "c-1", "email": "c@d.e"}]},
            "duplicate_contact",
        ),
        ({"people": []}, "unknown_field"),
        ({}, "invalid_contacts"),
    ],
    ids=[
        "not a list",
        "no id",
        "no address",
        "a bad address",
        "an id twice",
        "a key for the list misspelt",
        "no contacts key",
    ],
)
def test_a_bad_contact_list_is_refused_whole(
    world: EmailSyncWorld, document: dict[str, Any], reason: str
) -> None:
    world.put_rep("rep-ann", **REP)
    response = world.api("PUT", "/v1/reps/rep-ann/contacts", json=document)
    assert refusal(response) == (400, reason)
    assert world.changes(entity="contact") == []


def test_one_contact_is_added_updated_and_removed(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    path = "/v1/reps/rep-ann/contacts/c-9"
    assert world.api("PUT", path, json={"emails": ["nine@example.com"]}).status_code == 201
    assert world.api("PUT", path, json={"emails": ["9@example.com"]}).status_code == 200
    assert world.api("GET", path).json()["emails"] == ["9@example.com"]
    mismatch = world.api("PUT", path, json={"id": "c-10", "emails": ["9@example.com"]})
    assert refusal(mismatch) == (400, "id_mismatch")
    assert world.api("DELETE", path).status_code == 204
    assert world.api("GET", path).status_code == 404
    assert [c.type for c in world.changes(entity="contact")] == [
        "contact.added",
        "contact.updated",
        "contact.removed",
    ]


def store(world: EmailSyncWorld, rep_id: str, message_id: str, date: datetime, to: str) -> None:
    """Store an email directly, as the worker would, to read it back through the API."""
    wire = sim.message_object(
        GMAIL_GRANT, message_id=message_id, to=(to,), date=int(date.timestamp())
    )
    message = parse_message(wire)
    with transaction(world.runtime.engine) as session:
        indexed = contacts_for_addresses(session, DEFAULT_ORG_ID, rep_id, {to})
        store_email(
            session,
            org_id=DEFAULT_ORG_ID,
            rep_id=rep_id,
            message=message,
            folder_names=["INBOX"],
            contacts=[
                (i, ContactMatch(i.contact.crm_contact_id, frozenset({HeaderRole.TO})))
                for i in indexed
            ],
            observed_at=date,
            now=date,
        )


def test_emails_are_listed_newest_first_by_rep_contact_or_account(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    world.put_contacts(
        "rep-ann",
        [
            {"id": "c-1", "email": "one@example.com", "account_ref": "acct-1"},
            {"id": "c-2", "email": "two@example.com", "account_ref": "acct-1"},
            {"id": "c-3", "email": "three@example.com", "account_ref": "acct-2"},
        ],
    )
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for day, to in enumerate(["one", "two", "three", "one", "two"]):
        store(world, "rep-ann", f"m-{day}", base + timedelta(days=day), f"{to}@example.com")

    def ids(**params: Any) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            page = world.api(
                "GET",
                "/v1/emails",
                params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
            ).json()
            found += [e["message_id"] for e in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    assert ids(rep_id="rep-ann") == ["m-4", "m-3", "m-2", "m-1", "m-0"]
    assert ids(contact_id="c-1") == ["m-3", "m-0"]
    assert ids(account_ref="acct-1") == ["m-4", "m-3", "m-1", "m-0"]
    assert ids(account_ref="acct-1", rep_id="rep-ann") == ["m-4", "m-3", "m-1", "m-0"]
    assert ids(account_ref="acct-unknown") == []
    unknown_rep = world.api("GET", "/v1/emails", params={"rep_id": "someone-else"})
    unknown_contact = world.api("GET", "/v1/emails", params={"contact_id": "c-unknown"})
    assert refusal(unknown_rep) == (404, "unknown_rep")
    assert refusal(unknown_contact) == (404, "unknown_contact")

    listed = world.api("GET", "/v1/emails", params={"contact_id": "c-3"}).json()["data"]
    [email] = listed
    assert "body" not in email
    assert email["contacts"] == [
        {"id": "c-3", "account_ref": "acct-2", "lead_ref": None, "roles": ["to"]}
    ]
    one = world.api("GET", f"/v1/emails/{email['id']}").json()
    assert one["body"] == "<p>Hello</p>"
    assert one["date"] == "2026-11-03T00:00:00Z"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "missing_filter"),
        ({"rep_id": "r", "limit": "0"}, "invalid_limit"),
        ({"rep_id": "r", "limit": "lots"}, "invalid_limit"),
        ({"rep_id": "r", "cursor": "!!!"}, "invalid_cursor"),
        ({"rep_id": "r", "include_hidden": "maybe"}, "invalid_include_hidden"),
    ],
    ids=["no filter", "a zero limit", "a limit not a number", "a forged cursor", "a bad flag"],
)
def test_bad_email_queries_are_refused(
    world: EmailSyncWorld, params: dict[str, str], reason: str
) -> None:
    assert refusal(world.api("GET", "/v1/emails", params=params)) == (400, reason)


def test_rep_activity_counts_synced_emails_in_the_period(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    world.put_contacts("rep-ann", [{"id": "c-1", "email": "one@example.com"}])
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(5):
        store(world, "rep-ann", f"m-{day}", base + timedelta(days=day), "one@example.com")
    [hidden] = [e for e in world.emails() if e.message_id == "m-2"]
    assert world.api("POST", f"/v1/emails/{hidden.id}/hide").status_code == 200

    response = world.api(
        "GET",
        "/v1/reps/rep-ann/activity",
        params={"from": "2026-11-01T00:00:00Z", "to": "2026-11-04T00:00:00Z"},
    )

    assert response.json() == {
        "rep_id": "rep-ann",
        "from": "2026-11-01T00:00:00Z",
        "to": "2026-11-04T00:00:00Z",
        "emails": {"synced": 2, "system_generated": 0, "total": 2},
    }
    backwards = world.api(
        "GET",
        "/v1/reps/rep-ann/activity",
        params={"from": "2026-11-04T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
    )
    assert refusal(backwards) == (400, "invalid_period")
    assert refusal(world.api("GET", "/v1/reps/rep-ann/activity", params={"from": "yesterday"})) == (
        400,
        "invalid_from",
    )


def test_hiding_is_idempotent_and_recorded_once(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    world.put_contacts("rep-ann", [{"id": "c-1", "email": "one@example.com"}])
    store(world, "rep-ann", "m-1", datetime(2026, 11, 1, tzinfo=UTC), "one@example.com")
    [email] = world.emails()
    for _ in range(2):
        response = world.api("POST", f"/v1/emails/{email.id}/hide")
        assert response.status_code == 200
        assert response.json()["hidden"] is True
    assert [c.type for c in world.changes(entity="email")] == ["email.stored", "email.hidden"]


def test_every_v1_answer_is_private_and_not_sniffed(world: EmailSyncWorld) -> None:
    """Answers carry contacts, emails and, once, a signing secret: no cache keeps them."""
    refused = world.client.get("/v1/reps/r1")
    created = world.api("POST", "/v1/subscriptions", json={"url": "https://crm.example/hook"})

    for response in (refused, created):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
