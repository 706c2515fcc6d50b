"""Why an email is (not) in the CRM, over HTTP and the CLI on SQLite and PostgreSQL: real
notifications through the ingress and the workers, then the decision for each message
(``GET /v1/reps/{rep_id}/messages/{message_id}``, ``crmsync explain``), a rep's
notifications paged (``GET /v1/notifications``), and per-rep outcomes in ``crmsync status``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import event
from sqlmodel import Session

import crmsync.operator_context
from crmsync.cli import main
from domain.organizations import DEFAULT_ORG_ID
from domain.reps import parse_rep
from simulator import folder_presets as mailbox
from storage.engine import create_database_engine, transaction
from storage.message_history import NotificationPageKey, explain_message, list_notifications
from storage.reps import get_rep, put_rep
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.integration.test_email_sync import DAY, NOW, SYNC_FROM, created, register_ann
from tests.support.email_sync import EmailSyncWorld
from tests.support.harness import empty_database, operator_environment

ANN = "ann@acme.example"
NOW_AT = datetime.fromtimestamp(NOW, UTC)


def refusal(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["reason"]


def explain(world: EmailSyncWorld, rep_id: str, message_id: str) -> dict[str, Any]:
    response = world.api("GET", f"/v1/reps/{rep_id}/messages/{quote(message_id, safe='')}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bob_only() -> tuple[str, ...]:
    return ("bob@customer.example",)


@pytest.fixture
def ann_mail(world: EmailSyncWorld) -> EmailSyncWorld:
    """Ann's mailbox after one message of each fate: stored, stored then hidden, no contact,
    a folder she does not sync, too old, and one seen twice (no contact, then stored)."""
    register_ann(world)
    bob = ("bob@customer.example",)
    world.notify(
        created("m-stored", sender=ANN, to=bob, date=NOW - DAY),
        created("m-hidden", sender=ANN, to=bob, date=NOW - DAY),
        created("m-nobody", sender=ANN, to=("x@nowhere.example",)),
        created("m-label", sender=ANN, to=bob, folders=(mailbox.GMAIL_COOLSTUFF_ID,)),
        created("m-old", sender=ANN, to=bob, date=SYNC_FROM - DAY),
        created(
            "m-rita",
            grant=MICROSOFT_GRANT,
            sender="rita@acme.example",
            to=bob,
            folders=(mailbox.MICROSOFT_DELETED_ID,),
        ),
    )
    hidden = world.email("rep-ann", "m-hidden")
    assert world.api("POST", f"/v1/emails/{hidden.id}/hide").status_code == 200
    return world


def test_each_decision_is_explained_with_its_rule(ann_mail: EmailSyncWorld) -> None:
    world = ann_mail
    decisions = {
        message_id: explain(world, "rep-ann", message_id)["decision"]
        for message_id in ("m-stored", "m-hidden", "m-nobody", "m-label", "m-old")
    }
    assert {m: (d["outcome"], d["rule"]) for m, d in decisions.items()} == {
        "m-stored": ("stored", "E2 stored"),
        "m-hidden": ("hidden", "E7 hidden"),
        "m-nobody": ("no_contact", "E2 contact"),
        "m-label": ("folder_not_synced", "E2 folder"),
        "m-old": ("before_sync_from", "E2 window"),
    }
    assert "POST /v1/reps/rep-ann/backfill" in decisions["m-old"]["would_change"]

    label = explain(world, "rep-ann", "m-label")
    [notification] = label["notifications"]
    assert notification["trigger"] == "message.created"
    assert notification["object_id"] == "m-label"
    assert notification["grant_id"] == GMAIL_GRANT
    assert notification["state"] == "processed"
    assert notification["explanation"]["outcome"] == "folder_not_synced"
    assert notification["received_at"].endswith("Z")
    assert "payload" not in notification
    assert label["decision"]["decided_by"] == notification["notification_id"]
    assert label["email"] is None
    assert label["grant_ids"] == [GMAIL_GRANT]
    assert label["sync"]["sync_from"].startswith("20")
    assert label["notifications_omitted"] == 0

    hidden = explain(world, "rep-ann", "m-hidden")
    assert hidden["email"]["hidden"] is True
    assert hidden["email"]["message_id"] == "m-hidden"
    assert [n["explanation"]["outcome"] for n in hidden["notifications"]] == ["stored"]


def test_a_message_seen_again_is_decided_by_its_latest_notification(
    ann_mail: EmailSyncWorld,
) -> None:
    world = ann_mail
    first = created("m-late", sender=ANN, to=("x@nowhere.example",))
    world.notify(first)
    world.put_contacts(
        "rep-ann",
        [
            {"id": "c-bob", "emails": ["bob@customer.example"]},
            {"id": "c-x", "emails": ["x@nowhere.example"]},
        ],
    )
    again = created("m-late", sender=ANN, to=("x@nowhere.example",))
    world.notify(again)

    answer = explain(world, "rep-ann", "m-late")
    assert [n["explanation"]["outcome"] for n in answer["notifications"]] == [
        "no_contact",
        "stored",
    ]
    assert answer["decision"]["outcome"] == "stored"
    assert answer["email"]["message_id"] == "m-late"


def test_a_message_never_seen_says_so_plainly(ann_mail: EmailSyncWorld) -> None:
    answer = explain(ann_mail, "rep-ann", "m-never")
    assert answer["decision"]["outcome"] == "never_seen"
    assert answer["decision"]["decided_by"] is None
    assert answer["notifications"] == []
    assert answer["email"] is None
    notes = " ".join(answer["decision"]["notes"])
    assert "sync window starts" in notes
    assert "No mailbox backfill is recorded" in notes
    # Another rep's message is not this rep's, even with the same id space.
    assert explain(ann_mail, "rep-ann", "m-rita")["decision"]["outcome"] == "never_seen"
    assert explain(ann_mail, "rep-rita", "m-rita")["decision"]["outcome"] == "folder_not_synced"


def test_a_reconnected_rep_keeps_the_notifications_of_grants_its_backfills_recorded(
    ann_mail: EmailSyncWorld,
) -> None:
    world = ann_mail
    # Ann's mailbox is connected again under a new grant: the rep row keeps only that one,
    # but the backfills of her contacts (E11) recorded the old grant.
    world.put_rep("rep-ann", email=ANN, grant_id="grant-ann-2", provider="google")
    answer = explain(world, "rep-ann", "m-label")
    assert answer["grant_ids"] == ["grant-ann-2", GMAIL_GRANT]
    assert answer["decision"]["outcome"] == "folder_not_synced"
    page = _page(world, "rep_id=rep-ann&outcome=folder_not_synced")
    assert [n["object_id"] for n in page["data"]] == ["m-label"]


def test_hostile_ids_are_refused_with_a_reason(world: EmailSyncWorld) -> None:
    register_ann(world)
    cases = {
        "/v1/reps/nobody/messages/m-1": (404, "unknown_rep"),
        f"/v1/reps/{'r' * 256}/messages/m-1": (400, "invalid_rep_id"),
        f"/v1/reps/rep-ann/messages/{'m' * 1025}": (400, "invalid_message_id"),
        "/v1/reps/rep-ann/messages/m-1%20": (400, "invalid_message_id"),
        "/v1/reps/rep-ann/messages/m%00": (400, "invalid_message_id"),
        "/v1/reps/rep-ann/messages/m%1B%5B2J": (400, "invalid_message_id"),
        "/v1/reps/rep-ann/messages/m-1?verbose=1": (400, "unknown_parameter"),
    }
    assert {path: refusal(world.api("GET", path)) for path in cases} == cases
    # A quote, a percent sign or SQL in an id is only an id nobody has.
    answer = explain(world, "rep-ann", "x' OR '1'='1 %_")
    assert answer["decision"]["outcome"] == "never_seen"
    unauthenticated = world.client.get("/v1/reps/rep-ann/messages/m-1")
    assert refusal(unauthenticated) == (401, "unauthorized")
    assert refusal(world.client.get("/v1/notifications?rep_id=rep-ann")) == (401, "unauthorized")


def _page(world: EmailSyncWorld, query: str) -> dict[str, Any]:
    response = world.api("GET", f"/v1/notifications?{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_reps_notifications_are_paged_newest_first(ann_mail: EmailSyncWorld) -> None:
    world = ann_mail
    seen: list[dict[str, Any]] = []
    query = "rep_id=rep-ann&limit=2"
    while True:
        page = _page(world, query)
        assert len(page["data"]) <= 2
        seen += page["data"]
        if page["next_cursor"] is None:
            break
        # A notification recorded while a client pages does not shift its pages.
        world.notify(created(f"m-meanwhile-{len(seen)}", sender=ANN, to=("x@nowhere.example",)))
        query = f"rep_id=rep-ann&limit=2&cursor={page['next_cursor']}"
    objects = [n["object_id"] for n in seen]
    assert sorted(objects) == ["m-hidden", "m-label", "m-nobody", "m-old", "m-stored"]
    keys = [(n["received_at"], n["id"]) for n in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(n["grant_id"] == GMAIL_GRANT for n in seen)  # never Rita's
    assert {n["explanation"]["outcome"] for n in seen} == {
        "stored",
        "no_contact",
        "folder_not_synced",
        "before_sync_from",
    }

    by_outcome = _page(world, "rep_id=rep-ann&outcome=folder_not_synced")
    assert [n["object_id"] for n in by_outcome["data"]] == ["m-label"]
    assert by_outcome["next_cursor"] is None
    later = _page(world, f"rep_id=rep-ann&since={quote(seen[0]['received_at'])}")
    assert seen[0]["id"] in [n["id"] for n in later["data"]]
    assert all(n["received_at"] >= seen[0]["received_at"] for n in later["data"])
    rita = _page(world, f"grant_id={MICROSOFT_GRANT}")
    assert [n["object_id"] for n in rita["data"]] == ["m-rita"]
    assert _page(world, f"rep_id=rep-ann&grant_id={MICROSOFT_GRANT}")["data"] == []

    with_payload = _page(world, "rep_id=rep-ann&outcome=no_contact&include_payload=true")
    [nobody] = [n for n in with_payload["data"] if n["object_id"] == "m-nobody"]
    assert nobody["payload"]["data"]["object"]["id"] == "m-nobody"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", (400, "missing_filter")),
        ("rep_id=nobody", (404, "unknown_rep")),
        ("rep_id=rep-ann&outcome=No%20Contact", (400, "invalid_outcome")),
        ("rep_id=rep-ann&outcome=" + "x" * 65, (400, "invalid_outcome")),
        ("rep_id=rep-ann&since=yesterday", (400, "invalid_since")),
        ("rep_id=rep-ann&since=2026-11-01T00:00:00", (400, "invalid_since")),
        ("rep_id=rep-ann&limit=0", (400, "invalid_limit")),
        ("rep_id=rep-ann&limit=201", (400, "invalid_limit")),
        ("rep_id=rep-ann&include_payload=true&limit=50", (400, "invalid_limit")),
        ("rep_id=rep-ann&include_payload=yes", (400, "invalid_include_payload")),
        ("rep_id=rep-ann&cursor=bm90LW91cnM", (400, "invalid_cursor")),
        ("rep_id=rep-ann&cursor=" + "A" * 600, (400, "invalid_cursor")),
        ("grant_id=..%2Fwebhooks", (400, "invalid_grant_id")),
        ("rep_id=rep-ann&state=failed", (400, "unknown_parameter")),
        ("rep_id=rep%00", (400, "invalid_rep_id")),
    ],
)
def test_bad_listing_filters_are_refused_with_a_reason(
    world: EmailSyncWorld, query: str, expected: tuple[int, str]
) -> None:
    world.put_rep("rep-ann", email=ANN, grant_id=GMAIL_GRANT)
    assert refusal(world.api("GET", f"/v1/notifications?{query}")) == expected


@pytest.fixture
def operator(
    ann_mail: EmailSyncWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Runs ``crmsync`` commands in this process against the world's database."""
    for name, value in operator_environment(ann_mail.runtime.settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_crmsync_explain_prints_what_the_api_answers(
    ann_mail: EmailSyncWorld, operator: Any
) -> None:
    code, out, _ = operator("explain", "--rep", "rep-ann", "--message", "m-label", "--json")
    assert code == 0
    assert json.loads(out) == explain(ann_mail, "rep-ann", "m-label")

    code, out, _ = operator("explain", "--rep", "rep-ann", "--message", "m-label")
    assert code == 0
    assert "Message m-label of rep rep-ann: folder_not_synced (rule E2 folder)" in out
    assert "What would change it: Moving the message into a synced folder" in out
    assert "message.created" in out
    assert "Stored email: none" in out

    code, out, _ = operator("explain", "--rep", "rep-ann", "--message", "m-hidden")
    assert code == 0
    assert "hidden (rule E7 hidden)" in out
    assert "hidden: yes" in out

    # A message in a label the mailbox's folder cache does not know yet (N2): parked.
    ann_mail.notify(created("m-new-label", sender=ANN, to=bob_only(), folders=("Label_404",)))
    code, out, _ = operator("explain", "--rep", "rep-ann", "--message", "m-new-label")
    assert code == 0
    assert "m-new-label of rep rep-ann: folder_pending (rule N2 folder pending)" in out
    assert "waiting for folders Label_404 to become known" in out

    code, _, err = operator("explain", "--rep", "nobody", "--message", "m-1")
    assert code == 1
    assert "no rep 'nobody'" in err
    code, _, err = operator("explain", "--rep", "rep-ann", "--message", "m\x1b[2J")
    assert code == 2
    assert "message id" in err
    assert "\x1b" not in err


def test_crmsync_status_shows_the_reps_whose_mail_is_kept_out(
    ann_mail: EmailSyncWorld, operator: Any
) -> None:
    world = ann_mail
    bob = ("bob@customer.example",)
    # Rita's messages all sit in a folder she does not sync (her Deleted Items).
    deleted = (mailbox.MICROSOFT_DELETED_ID,)
    world.notify(
        *[
            created(f"m-r{i}", grant=MICROSOFT_GRANT, sender=ANN, to=bob, folders=deleted)
            for i in range(3)
        ]
    )
    world.notify(created("m-orphan", grant="grant-nobody", sender=ANN, to=bob))

    code, out, _ = operator("status", "--json", "--reps", "5")
    assert code == 0
    outcomes = json.loads(out)["rep_outcomes"]
    assert [r["rep_id"] for r in outcomes["worst"]] == ["rep-rita", "rep-ann"]
    rita, ann = outcomes["worst"]
    assert rita["outcomes"] == {"folder_not_synced": 4}
    assert rita["not_stored_share"] == 1.0
    assert ann["outcomes"] == {
        "before_sync_from": 1,
        "folder_not_synced": 1,
        "no_contact": 1,
        "stored": 2,
    }
    assert ann["not_stored_share"] == 0.6
    assert outcomes["without_rep"] == {"unknown_grant": 1}
    assert outcomes["reps_counted"] == 2

    code, out, _ = operator("status", "--json", "--reps", "1")
    assert [r["rep_id"] for r in json.loads(out)["rep_outcomes"]["worst"]] == ["rep-rita"]
    code, out, _ = operator("status")
    assert code == 0
    assert "Reps whose mail most often did not reach the CRM" in out
    assert "folder_not_synced 4" in out
    assert "(no rep)" in out


def test_the_queries_of_one_message_and_of_a_reps_pages_use_indexes(
    postgres_database_url: str,
) -> None:
    """On PostgreSQL, with sequential scans priced out, no query reads raw_notifications
    whole: (grant_id, object_id, received_at) serves a message, (grant_id, received_at) a page."""
    engine = create_database_engine(postgres_database_url)
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "raw_notifications" in statement and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    try:
        with transaction(engine) as session:
            put_rep(
                session,
                DEFAULT_ORG_ID,
                "rep-ix",
                parse_rep({"email": ANN, "grant_id": "g-ix"}),
                NOW_AT,
            )
        event.listen(engine, "before_cursor_execute", record)
        with Session(engine) as session:
            rep = get_rep(session, DEFAULT_ORG_ID, "rep-ix")
            assert rep is not None
            explain_message(session, rep, "m-1")
            list_notifications(
                session,
                grant_ids=["g-ix"],
                outcome="no_contact",
                since=NOW_AT,
                after=NotificationPageKey(NOW_AT, 10),
                limit=50,
            )
        event.remove(engine, "before_cursor_execute", record)
        assert len(statements) == 3  # the message's count and rows, the page
        with engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plans = [
                "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}", args))
                for sql, args in statements
            ]
    finally:
        engine.dispose()
        empty_database(postgres_database_url)
    assert not any("Seq Scan on raw_notifications" in plan for plan in plans), plans
    message_count, message_rows, page = plans
    assert "using ix_raw_notifications_grant_object" in message_count
    assert "using ix_raw_notifications_grant_object" in message_rows
    assert "using ix_raw_notifications_grant_received" in page
