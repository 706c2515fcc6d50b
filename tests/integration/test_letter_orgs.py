"""Whose work a dead letter was (``workers.letter_orgs``), on SQLite and on PostgreSQL.

Two organizations use the same rep id, each rep with its own grant, subscription, delivery,
action item, backfill, email and parked message; the row ids cross over between tables (a
delivery 1 of one organization, an action item 1 of the other), so a lookup in the wrong
table shows. Letters are built directly as Dramatiq messages, the way the workers' queues
carry them, and as a stranger might have left them: rows gone, grants no rep holds, payloads
that are not notifications, ids that are not ids. None of them may raise; each is None.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.triggers import WorkKind
from simulator import notifications as sim
from storage.engine import create_database_engine, transaction
from storage.tables import (
    ActionItemRow,
    BackfillRow,
    DeliveryRow,
    EmailRow,
    ParkedMessageRow,
    RepRow,
    SubscriptionRow,
)
from tests.integration.test_dead_letters import EVENTS, GRANTS, Operator, operator_on
from tests.support.feed import add_organizations
from workers.deadletters import DeadLetter, dead_letter_key
from workers.letter_orgs import letter_orgs, orgs_of_letters
from workers.queues import (
    BACKFILL_QUEUE,
    CALENDAR_PUSH_QUEUE,
    DELIVERY_QUEUE,
    NOTIFICATION_QUEUES,
    PARKED_QUEUE,
    SEND_QUEUE,
    QueueSpec,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ACME, GLOBEX = "acme", "globex"
REP = "ann"  # one rep id, in both organizations
GRANT = {ACME: "grant-acme-ann", GLOBEX: "grant-globex-ann"}
UNHELD_GRANT = "grant-held-by-no-rep"

# The rows' ids, crossed over between tables: id 1 is acme's in some, globex's in others.
DELIVERY = {ACME: 1, GLOBEX: 2}
ITEM = {GLOBEX: 1, ACME: 2}
BACKFILL = {ACME: 1, GLOBEX: 2}
EMAIL = {GLOBEX: 1, ACME: 2}
PARKED = {ACME: 1, GLOBEX: 2}
PARKED_OF_UNHELD_GRANT = 3
GONE = 999_999  # no row of any table

ROWS: dict[str, dict[str, int]] = {
    DELIVERY_QUEUE.actor_name: DELIVERY,
    CALENDAR_PUSH_QUEUE.actor_name: ITEM,
    BACKFILL_QUEUE.actor_name: BACKFILL,
    SEND_QUEUE.actor_name: EMAIL,
    PARKED_QUEUE.actor_name: PARKED,
}
ROW_SPECS = (DELIVERY_QUEUE, CALENDAR_PUSH_QUEUE, BACKFILL_QUEUE, SEND_QUEUE, PARKED_QUEUE)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The parametrised database with both organizations' rows in it."""
    engine = create_database_engine(database_url)
    try:
        with transaction(engine) as session:
            _seed(session)
        yield engine
    finally:
        engine.dispose()


def _seed(session: Session) -> None:
    add_organizations(session, ACME, GLOBEX, now=T0)
    for org_id in (ACME, GLOBEX):
        session.add(
            RepRow(
                org_id=org_id,
                id=REP,
                email=f"{REP}@{org_id}.example",
                grant_id=GRANT[org_id],
                folders=[],
                sync_from=T0,
                account_status="valid",
                created_at=T0,
                updated_at=T0,
            )
        )
        session.add(
            SubscriptionRow(
                id=f"sub_{org_id}",
                org_id=org_id,
                url=f"https://crm.{org_id}.example/hook",
                event_types=[],
                secret="whsec_x",
                status="active",
                position_txid=0,
                position_seq=0,
                created_at=T0,
                updated_at=T0,
            )
        )
    session.flush()
    for org_id in (ACME, GLOBEX):
        session.add(
            DeliveryRow(
                id=DELIVERY[org_id],
                subscription_id=f"sub_{org_id}",
                change_id=f"chg_{org_id}",
                change_type="email.stored",
                payload={},
                state="pending",
                created_at=T0,
                updated_at=T0,
            )
        )
        session.add(
            ActionItemRow(
                id=ITEM[org_id],
                org_id=org_id,
                rep_id=REP,
                crm_item_id=f"item-{org_id}",
                content={},
                version_at=T0,
                version_side=0,
                version_digest="d",
                push_state="queued",
                created_at=T0,
                updated_at=T0,
            )
        )
        session.add(
            BackfillRow(
                id=BACKFILL[org_id],
                org_id=org_id,
                rep_id=REP,
                grant_id=GRANT[org_id],
                kind="mailbox",
                addresses=[],
                since=T0 - timedelta(days=30),
                until=T0,
                state="running",
                created_at=T0,
                updated_at=T0,
            )
        )
        session.add(
            EmailRow(
                id=EMAIL[org_id],
                org_id=org_id,
                rep_id=REP,
                grant_id=GRANT[org_id],
                subject="Quote",
                snippet="",
                sender=[],
                to=[],
                cc=[],
                bcc=[],
                date=T0,
                folder_ids=[],
                folder_names=[],
                attachments=[],
                source="crm",
                send_key=f"send-{org_id}",
                delivery_state="queued",
                created_at=T0,
                updated_at=T0,
            )
        )
    for parked_id, grant_id in (
        (PARKED[ACME], GRANT[ACME]),
        (PARKED[GLOBEX], GRANT[GLOBEX]),
        (PARKED_OF_UNHELD_GRANT, UNHELD_GRANT),
    ):
        session.add(
            ParkedMessageRow(
                id=parked_id,
                grant_id=grant_id,
                message_id=f"msg-{parked_id}",
                message={},
                observed_at=T0,
                parked_at=T0,
                deadline=T0 + timedelta(minutes=10),
                next_look_at=T0 + timedelta(minutes=10),
            )
        )


def letter(spec: QueueSpec, *args: Any, **kwargs: Any) -> DeadLetter:
    """A dead letter of ``spec``'s actor with these arguments."""
    return DeadLetter(
        queue=spec.queue_name,
        redis_message_id=str(uuid.uuid4()),
        dead_lettered_at=T0,
        message=dramatiq.Message(
            queue_name=spec.queue_name,
            actor_name=spec.actor_name,
            args=args,
            kwargs=kwargs,
            options={},
        ),
    )


def notification(kind: WorkKind, api_version: object, payload: object) -> DeadLetter:
    """A notification's dead letter, with the kwargs the ingress queues (workers.enqueue)."""
    return letter(
        NOTIFICATION_QUEUES[kind], api_version=api_version, payload=payload, received_at=1e9
    )


def orgs(engine: Engine, letters: list[DeadLetter]) -> list[str | None]:
    with Session(engine) as session:
        return orgs_of_letters(session, letters)


# --- each kind of letter -------------------------------------------------------------------


@pytest.mark.parametrize("spec", ROW_SPECS, ids=lambda spec: spec.actor_name)
def test_each_row_actor_finds_the_organization_of_its_row(engine: Engine, spec: QueueSpec) -> None:
    ids = ROWS[spec.actor_name]
    letters = [letter(spec, ids[ACME]), letter(spec, ids[GLOBEX]), letter(spec, GONE)]

    assert orgs(engine, letters) == [ACME, GLOBEX, None]


def test_notifications_find_the_organization_of_their_grant(engine: Engine) -> None:
    v3_grant = sim.grant_expired(GRANT[ACME])
    v3_message = sim.message_created(GRANT[GLOBEX])
    v3_event = sim.event_deleted(GRANT[ACME], "event-1", "calendar-1")
    v2_message = sim.v2_message_delta(GRANT[GLOBEX], "message-1")
    letters = [
        notification(WorkKind.GRANTS, "v3", v3_grant),
        notification(WorkKind.MESSAGES, "v3", v3_message),
        notification(WorkKind.EVENTS, "v3", v3_event),
        notification(WorkKind.MESSAGES, "v2", v2_message),
        notification(WorkKind.OTHER, "v3", sim.grant_expired(GRANT[GLOBEX])),
    ]

    assert orgs(engine, letters) == [ACME, GLOBEX, ACME, GLOBEX, GLOBEX]


def test_a_parked_message_belongs_to_the_organization_of_its_grants_rep(engine: Engine) -> None:
    letters = [
        letter(PARKED_QUEUE, PARKED[GLOBEX]),
        letter(PARKED_QUEUE, PARKED_OF_UNHELD_GRANT),  # parked, but no rep holds its grant
        letter(PARKED_QUEUE, PARKED[ACME]),
    ]

    assert orgs(engine, letters) == [GLOBEX, None, ACME]


def test_a_row_named_by_keyword_is_found_too(engine: Engine) -> None:
    letters = [
        letter(CALENDAR_PUSH_QUEUE, item_id=ITEM[ACME]),
        letter(SEND_QUEUE, email_id=EMAIL[GLOBEX]),
    ]

    assert orgs(engine, letters) == [ACME, GLOBEX]


# --- letters that belong to no organization ------------------------------------------------


def test_gone_rows_and_unheld_grants_belong_to_no_organization(engine: Engine) -> None:
    letters = [
        *(letter(spec, GONE) for spec in ROW_SPECS),
        *(letter(spec, 0) for spec in ROW_SPECS),
        *(letter(spec, -1) for spec in ROW_SPECS),
        notification(WorkKind.GRANTS, "v3", sim.grant_expired(UNHELD_GRANT)),
        notification(WorkKind.MESSAGES, "v2", sim.v2_message_delta(UNHELD_GRANT, "message-1")),
    ]

    assert orgs(engine, letters) == [None] * len(letters)


def _malformed_payloads() -> list[tuple[str, object, object]]:
    """(what, api_version, payload): none of them a notification whose grant can be read,
    though each names a grant a rep holds wherever it names one."""
    good = sim.grant_expired(GRANT[ACME])
    good_v2 = sim.v2_message_delta(GRANT[ACME], "message-1")
    data = good["data"]
    return [
        ("payload a list", "v3", [good]),
        ("payload a string", "v3", json.dumps(good)),
        ("payload null", "v3", None),
        ("payload a number", "v3", 42),
        ("api version v4", "v4", good),
        ("api version missing", None, good),
        ("api version a number", 3, good),
        ("api version upper case", "V3", good),
        ("api version of the other payload", "v2", good),
        ("v2 body where a delta is due", "v2", sim.v2_body(good_v2)),
        ("no id", "v3", {k: v for k, v in good.items() if k != "id"}),
        ("blank id", "v3", {**good, "id": "  "}),
        ("id a number", "v3", {**good, "id": 7}),
        ("no type", "v3", {k: v for k, v in good.items() if k != "type"}),
        ("data a string", "v3", {**good, "data": "grant"}),
        ("data.object a list", "v3", {**good, "data": {**data, "object": [data["object"]]}}),
        ("time a word", "v3", {**good, "time": "yesterday"}),
        ("time a bool", "v3", {**good, "time": True}),
        ("time a list", "v3", {**good, "time": [1]}),
        ("time without zone", "v3", {**good, "time": "2026-11-24T09:00:00"}),
        ("time not a number", "v3", {**good, "time": float("nan")}),
        (
            "grant id a path",
            "v3",
            {**good, "data": {"object": {**data["object"], "grant_id": "../grants"}}},
        ),
        (
            "grant id with markup",
            "v3",
            {**good, "data": {"object": {**data["object"], "grant_id": "[red]g[/]\x1b[2J"}}},
        ),
        (
            "grant id a number",
            "v3",
            {**good, "data": {"object": {**data["object"], "grant_id": 12}}},
        ),
        ("v2 without object_data", "v2", {k: v for k, v in good_v2.items() if k != "object_data"}),
        ("v2 object_data a list", "v2", {**good_v2, "object_data": []}),
        ("v2 date a word", "v2", {**good_v2, "date": "tuesday"}),
        (
            "v2 account id a path",
            "v2",
            {**good_v2, "object_data": {"account_id": "a/b", "namespace_id": "a/b"}},
        ),
        ("empty object", "v3", {}),
    ]


MALFORMED = _malformed_payloads()


def test_malformed_notifications_belong_to_no_organization_and_never_raise(
    engine: Engine,
) -> None:
    letters = [notification(WorkKind.GRANTS, v, payload) for _, v, payload in MALFORMED]
    letters += [
        letter(NOTIFICATION_QUEUES[WorkKind.GRANTS]),  # no kwargs at all
        letter(NOTIFICATION_QUEUES[WorkKind.MESSAGES], "v3", sim.message_created(GRANT[ACME])),
        letter(NOTIFICATION_QUEUES[WorkKind.MESSAGES], payload=sim.message_created(GRANT[ACME])),
    ]
    # The control: the same call reads the well-formed one beside them.
    letters.append(notification(WorkKind.GRANTS, "v3", sim.grant_expired(GRANT[ACME])))

    found = orgs(engine, letters)

    named = [what for what, _, _ in MALFORMED] + ["no kwargs", "positional", "no api_version"]
    assert dict(zip(named, found[:-1], strict=True)) == dict.fromkeys(named)
    assert found[-1] == ACME


@pytest.mark.parametrize(
    "value",
    [True, False, "1", "2", 1.0, 2.0, None, [1], {"id": 1}, b"1"],
    ids=repr,
)
def test_an_argument_that_is_not_an_integer_names_no_row(engine: Engine, value: object) -> None:
    # Rows 1 and 2 exist in every table: True == 1 and "1" would find one, wrongly.
    letters = [letter(spec, value) for spec in ROW_SPECS]
    letters += [letter(CALENDAR_PUSH_QUEUE, item_id=value), letter(SEND_QUEUE, email_id=value)]
    # A second argument that is an id changes nothing: the row is named by the first.
    letters += [letter(spec, value, 1) for spec in ROW_SPECS]

    assert orgs(engine, letters) == [None] * len(letters)


def test_a_letter_of_an_actor_nobody_declared_belongs_to_no_organization(engine: Engine) -> None:
    stranger = QueueSpec(queue_name="deliveries", actor_name="frobnicate")
    misnamed = QueueSpec(queue_name="deliveries", actor_name="Deliver_Change")
    letters = [
        letter(stranger, DELIVERY[ACME]),
        letter(misnamed, DELIVERY[ACME]),
        letter(stranger, api_version="v3", payload=sim.grant_expired(GRANT[ACME])),
        # A row actor's letter carrying a notification: its grant is not looked at.
        letter(DELIVERY_QUEUE, api_version="v3", payload=sim.grant_expired(GRANT[ACME])),
    ]

    assert orgs(engine, letters) == [None] * len(letters)


# --- many letters at once --------------------------------------------------------------------


def _mixed_pool() -> list[tuple[DeadLetter, str | None]]:
    pool: list[tuple[DeadLetter, str | None]] = []
    for spec in ROW_SPECS:
        for org_id, row_id in ROWS[spec.actor_name].items():
            pool.append((letter(spec, row_id), org_id))
        pool.append((letter(spec, GONE), None))
        pool.append((letter(spec, True), None))
    for org_id in (ACME, GLOBEX):
        pool.append((notification(WorkKind.GRANTS, "v3", sim.grant_expired(GRANT[org_id])), org_id))
        pool.append(
            (
                notification(WorkKind.MESSAGES, "v2", sim.v2_message_delta(GRANT[org_id], "m")),
                org_id,
            )
        )
    pool.append((notification(WorkKind.GRANTS, "v3", sim.grant_expired(UNHELD_GRANT)), None))
    pool.append((notification(WorkKind.EVENTS, "v9", sim.grant_expired(GRANT[ACME])), None))
    pool.append((letter(PARKED_QUEUE, PARKED_OF_UNHELD_GRANT), None))
    return pool


def test_many_letters_of_every_kind_come_back_in_their_order(engine: Engine) -> None:
    pool = _mixed_pool()
    shuffler = random.Random(20261124)
    chosen = [shuffler.choice(pool) for _ in range(600)]
    letters = [x for x, _ in chosen]
    expected = [org_id for _, org_id in chosen]

    assert orgs(engine, letters) == expected
    assert list(letter_orgs(engine)(letters)) == expected  # the command's way in: its own session
    assert orgs(engine, list(reversed(letters))) == list(reversed(expected))
    assert orgs(engine, []) == []
    # Each letter alone finds what it found among the others.
    for one, org_id in pool:
        assert orgs(engine, [one]) == [org_id]


# More than one statement may carry as bind parameters: PostgreSQL's protocol allows 65,535,
# SQLite its build's (32,766 by default).
MANY = 70_000


def test_more_letters_than_one_statement_can_name_are_all_resolved(engine: Engine) -> None:
    # Dead-lettered deliveries by the tens of thousands (a subscriber's long outage), and as
    # many notifications of distinct grants (a flood while the database was away).
    letters = [letter(DELIVERY_QUEUE, 10 + n) for n in range(MANY)]
    letters += [
        notification(WorkKind.GRANTS, "v3", {**sim.grant_expired(f"g-{n}"), "id": f"n-{n}"})
        for n in range(MANY)
    ]
    letters[MANY // 2] = letter(DELIVERY_QUEUE, DELIVERY[GLOBEX])
    letters[-1] = notification(WorkKind.GRANTS, "v3", sim.grant_expired(GRANT[ACME]))

    found = orgs(engine, letters)

    assert len(found) == len(letters)
    assert (found[MANY // 2], found[-1]) == (GLOBEX, ACME)
    assert found.count(None) == len(letters) - 2


OUT_OF_RANGE = [
    (CALENDAR_PUSH_QUEUE, 2**31),  # past action_items.id (INTEGER on PostgreSQL)
    (BACKFILL_QUEUE, 2**31),  # past backfills.id (INTEGER on PostgreSQL)
    (DELIVERY_QUEUE, 2**63),  # past any 64-bit key (BIGINT; SQLite's INTEGER)
    (SEND_QUEUE, 2**63),
    (PARKED_QUEUE, -(2**63) - 1),
    (CALENDAR_PUSH_QUEUE, 2**70),
]


def test_an_id_out_of_any_keys_range_names_no_row(engine: Engine) -> None:
    letters = [letter(spec, value) for spec, value in OUT_OF_RANGE]
    letters.append(letter(DELIVERY_QUEUE, DELIVERY[ACME]))

    assert orgs(engine, letters) == [None] * len(OUT_OF_RANGE) + [ACME]


# --- the operator's commands -----------------------------------------------------------------


@pytest.fixture
def dlq_operator(
    tmp_path: Path,
    migrated_sqlite: Path,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Operator]:
    """Two grant and one event notification dead-lettered (test_dead_letters), on SQLite."""
    path = tmp_path / "crmsync.db"
    path.write_bytes(migrated_sqlite.read_bytes())
    yield from operator_on(f"sqlite:///{path}", redis_namespace, make_runtime, monkeypatch, capsys)


HOSTILE_ORG = "[red]x[/]\x1b[2J"


def test_an_org_id_of_markup_and_escapes_selects_nothing_and_prints_nothing_odd(
    dlq_operator: Operator,
) -> None:
    code, out, err = dlq_operator("dlq", "list", "--org", HOSTILE_ORG)

    assert code == 0, err
    assert "\x1b" not in out + err
    assert "0 of 0 matching dead letters shown" in err
    assert "handle_" not in out
    listed = dlq_operator.json("dlq", "list", "--org", HOSTILE_ORG)
    assert listed == {"total": 0, "letters": []}
    assert dlq_operator.json("dlq", "replay", "--org", HOSTILE_ORG, "--dry-run")["matched"] == 0
    code, out, err = dlq_operator("dlq", "purge", "--org", HOSTILE_ORG, "--yes")
    assert (code, "\x1b" in out + err) == (0, False)
    assert "no matching dead letters" in err
    assert dlq_operator.json("dlq", "audit", "--org", HOSTILE_ORG) == []
    code, out, err = dlq_operator("dlq", "audit", "--org", HOSTILE_ORG)
    assert (code, "\x1b" in out + err) == (0, False)
    # Nothing was touched, and the letters are still there for everyone.
    assert (dlq_operator.dead(GRANTS), dlq_operator.dead(EVENTS)) == (2, 1)
    assert dlq_operator.json("dlq", "list")["total"] == 3


def test_a_letter_naming_an_impossible_id_is_listed_and_purged(dlq_operator: Operator) -> None:
    runtime = dlq_operator.runtime
    client, namespace = runtime.broker.client, runtime.settings.redis_namespace
    redis_message_id = str(uuid.uuid4())
    message = dramatiq.Message(
        queue_name=CALENDAR_PUSH_QUEUE.queue_name,
        actor_name=CALENDAR_PUSH_QUEUE.actor_name,
        args=(2**63,),
        kwargs={},
        options={"redis_message_id": redis_message_id, "retries": 1},
    )
    key = dead_letter_key(namespace, CALENDAR_PUSH_QUEUE.queue_name)
    client.zadd(key, {redis_message_id: int(datetime.now(UTC).timestamp() * 1000)})
    client.hset(key + ".msgs", redis_message_id, message.encode())

    listed = dlq_operator.json("dlq", "list")

    assert listed["total"] == 4
    [impossible] = [x for x in listed["letters"] if x["actor"] == "push_action_item"]
    assert impossible["org_id"] is None
    purged = dlq_operator.json("dlq", "purge", "--actor", "push_action_item", "--yes")
    assert purged == {"action": "purge", "matched": 1, "count": 1}


def test_a_notification_that_came_through_an_organization_is_that_organizations(
    engine: Engine,
) -> None:
    def through(org_id: object, grant_id: str) -> DeadLetter:
        queued = notification(WorkKind.GRANTS, "v3", sim.grant_expired(grant_id))
        queued.message.kwargs["org_id"] = org_id
        return queued

    letters = [
        through(GLOBEX, "g-nobody"),  # no rep holds the grant: the organization it came through
        through(GLOBEX, GRANT[ACME]),  # about another's grant: still globex's notification
        through(["not", "an", "id"], GRANT[ACME]),  # junk in the argument: its grant's rep's
    ]

    assert orgs(engine, letters) == [GLOBEX, GLOBEX, ACME]
