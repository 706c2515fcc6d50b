"""A client generated from ``/openapi.json`` works, as a CRM developer would use one.

Each test session (each xdist worker) generates a Python client with ``openapi-python-client``
from the document the running app serves, imports it, and drives a whole CRM scenario through
its calls and typed answers only: register a rep and its contacts, let signed Nylas
notifications store emails through real workers, list and hide emails, follow the change feed
by its cursor, subscribe, explain messages, read the account status. The app runs under uvicorn
on a loopback port and the client speaks real HTTP with its own httpx client, untouched, as it
would against a deployment. A document the generator cannot turn into working calls (an
operation left out, a field the answer lacks though marked required, a null not marked
nullable, an answer the document does not describe) fails here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx2
import pytest
from sqlmodel import Session, col, select

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.notifications import parse_document
from simulator import notifications as sim
from simulator.mailbox import FakeNylas
from storage.tables import RawNotification
from tests.integration.conftest import GMAIL_GRANT
from tests.integration.test_email_sync import DAY, NOW, SYNC_FROM, created
from tests.support.email_sync import API_TOKEN, running_stack
from tests.support.generated_client import GeneratedClient, disagreements, generate_client
from tests.support.harness import settings_for
from tests.support.live_server import serve
from tests.support.nylas import signed
from tests.support.services import SESSION_TOKEN, wait_for

# One package per test process: xdist workers each generate and import their own.
PACKAGE = f"crmsync_client_{SESSION_TOKEN}"
ANN = "ann@acme.example"


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def rfc3339(unix: int) -> str:
    return at(unix).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedClient:
    """The client generated from the document a running crmsync serves at ``/openapi.json``."""
    directory = tmp_path_factory.mktemp("generated-client")
    settings = settings_for(
        f"sqlite:///{directory / 'unused.db'}", f"crmsync-test-{SESSION_TOKEN}-openapi"
    )
    runtime = Runtime.from_settings(settings)
    try:
        with serve(build_app(runtime=runtime)) as base_url:
            response = httpx2.get(f"{base_url}/openapi.json", timeout=10)
    finally:
        runtime.close()
    assert response.status_code == 200, response.text
    return generate_client(response.json(), directory, PACKAGE)


@dataclass
class Crm:
    """A CRM developer's side: the generated client on a running crmsync. Beside it, the
    Nylas side (signed notifications to the ingress) and a wait on the workers."""

    api: GeneratedClient
    client: Any  # the generated AuthenticatedClient
    base_url: str
    runtime: Runtime
    answers: list[Any] = field(default_factory=list)  # the call's raw answer, for failures

    def call(self, operation_id: str, /, *args: Any, status: int = 200, **kwargs: Any) -> Any:
        """``<package>.api.<tag>.<operation_id>.sync_detailed``: its typed answer, after
        checking the status and that the generated model read the whole answer."""
        operation = self.api.operation(operation_id)
        self.answers.clear()
        try:
            response = operation.sync_detailed(*args, client=self.client, **kwargs)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if not self.answers:
                raise  # no request was made: the call itself is wrong
            [answer] = self.answers
            raise AssertionError(
                f"{operation_id}: the generated client could not read the answer ({error!r}); "
                f"the app answered {answer.status_code} {answer.text}"
            ) from error
        assert response.status_code == status, (operation_id, response.content)
        parsed = response.parsed
        assert parsed is not None, (operation_id, response.content)
        assert not isinstance(parsed, self.api.error_type()), (operation_id, response.content)
        problems = disagreements(parsed, self.api.package.models)
        assert not problems, (
            f"{operation_id}: the answer is not as /openapi.json describes it:\n  "
            + "\n  ".join(problems)
            + f"\nthe app answered {response.content.decode()}"
        )
        return parsed

    def body(self, operation_id: str, document: dict[str, Any]) -> Any:
        """The operation's generated body model, read from ``document``."""
        return self.api.body_type(operation_id).from_dict(document)

    # The Nylas side -------------------------------------------------------------------------

    def notify(self, *documents: dict[str, Any]) -> None:
        """POST each notification signed to the ingress, then wait until all are handled."""
        ids: set[str] = set()
        for document in documents:
            body, headers = signed(document)
            response = httpx2.post(
                f"{self.base_url}/webhooks/nylas", content=body, headers=headers, timeout=10
            )
            assert response.status_code == 200, response.text
            assert response.json()["queued"] == 1
            ids |= {n.notification_id for n in parse_document(document)}
        wait_for(partial(self._handled, ids), what=f"notifications {sorted(ids)} handled")

    def _handled(self, notification_ids: set[str]) -> bool:
        with Session(self.runtime.engine) as session:
            rows = session.exec(
                select(RawNotification).where(
                    col(RawNotification.notification_id).in_(notification_ids)
                )
            ).all()
        return len(rows) == len(notification_ids) and all(
            row.state not in ("pending", "failed") for row in rows
        )


@pytest.fixture
def crm(
    generated: GeneratedClient,
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake_nylas: FakeNylas,
) -> Iterator[Crm]:
    """crmsync under uvicorn on the parametrised database and the real Redis, real worker
    threads, the fake Nylas API over HTTP, and the generated client pointed at it."""
    with (
        running_stack(database_url, redis_namespace, make_runtime, fake_nylas) as runtime,
        serve(build_app(runtime=runtime)) as base_url,
    ):
        answers: list[Any] = []

        def keep(response: Any) -> None:
            response.read()
            answers.append(response)

        client = generated.package.AuthenticatedClient(
            base_url=base_url,
            token=API_TOKEN,
            raise_on_unexpected_status=True,  # an undocumented status is an error
            httpx_args={"event_hooks": {"response": [keep]}},
        )
        with client:
            yield Crm(generated, client, base_url, runtime, answers)


def follow_feed(crm: Crm, cursor: str, **filters: Any) -> tuple[list[Any], str]:
    """Every change after ``cursor``, two a page, following ``next_cursor`` until
    ``has_more`` is false; and the cursor to go on from."""
    changes: list[Any] = []
    while True:
        page = crm.call("list_changes", cursor=cursor, limit=2, **filters)
        assert len(page.data) <= 2
        changes += page.data
        assert isinstance(page.next_cursor, str)
        if page.data:
            assert page.next_cursor == page.data[-1].cursor
        cursor = page.next_cursor
        if not page.has_more:
            return changes, cursor


def test_a_whole_crm_scenario_through_the_generated_client(crm: Crm) -> None:
    unset = crm.api.package.types.Unset
    start = crm.call("latest_cursor").cursor
    assert isinstance(start, str)

    # A rep with settings of its own.
    rep = crm.call(
        "put_rep",
        "rep-ann",
        status=201,
        body=crm.body(
            "put_rep",
            {
                "email": f"Ann <{ANN}>",
                "grant_id": GMAIL_GRANT,
                "provider": "google",
                "settings": {
                    "folders": "INBOX;SENT",
                    "calendar_name": "Work",
                    "calendar_days_after": 14,
                    "sync_from": rfc3339(SYNC_FROM),
                },
            },
        ),
    )
    assert (rep.id, rep.email, rep.grant_id, rep.provider) == (
        "rep-ann",
        ANN,
        GMAIL_GRANT,
        "google",
    )
    assert rep.settings.folders == ["INBOX", "SENT"]
    assert (rep.settings.email_sync, rep.settings.calendar_sync) == (True, True)
    assert (rep.settings.calendar_name, rep.settings.calendar_days_after) == ("Work", 14)
    assert rep.settings.sync_from == at(SYNC_FROM)
    assert rep.account_status.status == "valid"

    # Its contacts, replaced whole.
    replaced = crm.call(
        "replace_contacts",
        "rep-ann",
        body=crm.body(
            "replace_contacts",
            {
                "contacts": [
                    {
                        "id": "c-bob",
                        "name": "Bob",
                        "emails": ["Bob@Customer.example"],
                        "account_ref": "acct-1",
                    },
                    {
                        "id": "c-carol",
                        "name": "Carol",
                        "emails": ["carol@other.example", "carol.alt@other.example"],
                        "account_ref": "acct-2",
                        "lead_ref": "lead-7",
                    },
                ]
            },
        ),
    )
    assert (replaced.rep_id, replaced.added, replaced.updated) == ("rep-ann", 2, 0)
    assert (replaced.removed, replaced.unchanged) == (0, 0)
    carol = crm.call("get_contact", "rep-ann", "c-carol")
    assert (carol.id, carol.rep_id, carol.name) == ("c-carol", "rep-ann", "Carol")
    assert carol.emails == ["carol.alt@other.example", "carol@other.example"]
    assert (carol.account_ref, carol.lead_ref) == ("acct-2", "lead-7")

    # Nylas tells of four messages: three with Ann's contacts, one with nobody she knows.
    nobody_note = created("m-nobody", sender=ANN, to=("x@nowhere.example",), date=NOW - DAY)
    crm.notify(
        created("m-to", sender=ANN, to=("bob@customer.example",), date=NOW - DAY),
        created("m-from", sender="Bob <BOB@customer.example>", to=(ANN,), date=NOW - 2 * DAY),
        created(
            "m-cc",
            sender=ANN,
            to=("x@nowhere.example",),
            cc=("carol.alt@other.example",),
            date=NOW - 3 * DAY,
        ),
        nobody_note,
    )

    # The stored emails, newest first, two a page.
    first = crm.call("list_emails", rep_id="rep-ann", limit=2)
    assert isinstance(first.next_cursor, str)
    second = crm.call("list_emails", rep_id="rep-ann", limit=2, cursor=first.next_cursor)
    assert second.next_cursor is None
    emails = {e.message_id: e for e in [*first.data, *second.data]}
    assert list(emails) == ["m-to", "m-from", "m-cc"]
    for email in emails.values():
        assert (email.rep_id, email.grant_id, email.source) == ("rep-ann", GMAIL_GRANT, "synced")
        assert (email.subject, email.folders) == ("Quarterly proposal", ["INBOX"])
        assert email.hidden is False
        assert isinstance(email.body, unset)  # lists leave bodies out
    assert emails["m-to"].date == at(NOW - DAY)
    assert [a.email for a in emails["m-from"].from_] == ["bob@customer.example"]
    assert [a.email for a in emails["m-cc"].cc] == ["carol.alt@other.example"]
    by_contact = crm.call("list_emails", contact_id="c-bob")
    assert [e.message_id for e in by_contact.data] == ["m-to", "m-from"]
    by_account = crm.call("list_emails", account_ref="acct-2")
    assert [e.message_id for e in by_account.data] == ["m-cc"]
    one = crm.call("get_email", emails["m-to"].id)
    assert (one.message_id, one.body) == ("m-to", "<p>Hello</p>")

    # Hidden in the CRM: gone from the list, there with include_hidden.
    hidden = crm.call("hide_email", emails["m-from"].id)
    assert (hidden.id, hidden.message_id, hidden.hidden) == (emails["m-from"].id, "m-from", True)
    shown = crm.call("list_emails", rep_id="rep-ann")
    assert [e.message_id for e in shown.data] == ["m-to", "m-cc"]
    include_hidden = crm.api.parameter_type("list_emails", "include_hidden")
    everything = crm.call("list_emails", rep_id="rep-ann", include_hidden=include_hidden("true"))
    assert [(e.message_id, e.hidden) for e in everything.data] == [
        ("m-to", False),
        ("m-from", True),
        ("m-cc", False),
    ]

    # The change feed, from the cursor taken before anything happened, page by page. A reader
    # that stopped early goes on from the cursor it was given (on PostgreSQL a change shows
    # once no older transaction is still running).
    changes: list[Any] = []
    head = start

    def read_on() -> bool:
        nonlocal head
        more, head = follow_feed(crm, head)
        changes.extend(more)
        return len(changes) >= 7

    wait_for(read_on, what="the seven changes in the feed")
    types = [c.type_ for c in changes]
    assert Counter(types) == {
        "rep.created": 1,
        "contact.added": 2,
        "email.stored": 3,
        "email.hidden": 1,
    }
    assert (types[0], types[-1]) == ("rep.created", "email.hidden")
    assert {c.rep_id for c in changes} == {"rep-ann"}
    assert len({c.id for c in changes}) == 7
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    stored = sorted(c.payload["message_id"] for c in changes if c.type_ == "email.stored")
    assert stored == ["m-cc", "m-from", "m-to"]
    [hide_change] = [c for c in changes if c.type_ == "email.hidden"]
    assert (hide_change.entity, hide_change.entity_id) == ("email", str(emails["m-from"].id))
    assert (hide_change.operation, hide_change.entity_version) == ("update", 2)
    assert hide_change.payload["hidden"] is True
    assert hide_change.created_at.tzinfo is not None
    rest = crm.call("list_changes", cursor=head)
    assert (rest.data, rest.has_more, rest.next_cursor) == ([], False, head)
    emails_only, _ = follow_feed(crm, start, types="email.*", rep_id="rep-ann")
    assert [c.type_ for c in emails_only] == [t for t in types if t.startswith("email.")]
    assert crm.call("latest_cursor").cursor == head

    # A subscription: its secret in this answer only.
    subscription = crm.call(
        "create_subscription",
        status=201,
        body=crm.body(
            "create_subscription",
            {
                "url": "http://127.0.0.1:9/crm-hooks",
                "event_types": ["email.*"],
                "description": "the CRM's email sync",
            },
        ),
    )
    assert subscription.secret.startswith("whsec_")
    assert (subscription.url, subscription.event_types) == (
        "http://127.0.0.1:9/crm-hooks",
        ["email.*"],
    )
    assert (subscription.status, subscription.description) == ("active", "the CRM's email sync")
    again = crm.call("get_subscription", subscription.id)
    assert isinstance(again.secret, unset)
    assert (again.id, again.status, again.disabled_reason) == (subscription.id, "active", None)
    listed = crm.call("list_subscriptions")
    assert [s.id for s in listed.data] == [subscription.id]

    # Why each message is, or is not, in the CRM.
    nobody = crm.call("explain_message", "rep-ann", "m-nobody")
    assert (nobody.rep_id, nobody.message_id) == ("rep-ann", "m-nobody")
    assert (nobody.decision.outcome, nobody.decision.rule) == ("no_contact", "E2 contact")
    assert (nobody.decision.decided_by, nobody.decision.notes) == (nobody_note["id"], [])
    assert nobody.email is None
    assert [n.explanation.outcome for n in nobody.notifications] == ["no_contact"]
    assert nobody.sync.folders == ["INBOX", "SENT"]
    kept = crm.call("explain_message", "rep-ann", "m-from")
    assert (kept.decision.outcome, kept.decision.rule) == ("hidden", "E7 hidden")
    assert (kept.email.message_id, kept.email.hidden) == ("m-from", True)
    never = crm.call("explain_message", "rep-ann", "m-never-seen")
    assert (never.decision.outcome, never.notifications, never.email) == ("never_seen", [], None)

    # The account status: valid, until Nylas says the grant expired.
    status = crm.call("get_rep", "rep-ann").account_status
    assert (status.status, status.next_action) == ("valid", "Nothing.")
    assert status.meaning
    crm.notify(sim.grant_expired(GMAIL_GRANT))
    status = crm.call("get_rep", "rep-ann").account_status
    assert status.status == "invalid-credentials"
    assert "reconnects" in status.next_action
    assert isinstance(status.since, datetime)
