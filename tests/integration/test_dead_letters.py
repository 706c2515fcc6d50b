"""`crmsync status` and `crmsync dlq` over real dead letters (O1).

Failing handlers dead-letter real notifications through the real app, the real Redis and real
Dramatiq worker threads; the commands then run as an operator runs them (``crmsync.cli.main``,
and once as real processes) against the same Redis namespace and database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

import crmsync.operator_context
from crmsync.app import build_app
from crmsync.cli import main
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import declare, start_worker
from domain.notifications import parse_document
from domain.times import parse_rfc3339
from domain.triggers import WorkKind
from simulator import notifications as sim
from storage.engine import create_database_engine
from storage.migrate import upgrade
from storage.tables import DeadLetterAuditRow, RawNotification
from tests.support.harness import operator_environment, queue_lengths, settings_for
from tests.support.nylas import signed
from tests.support.processes import clean_environment, run_command
from tests.support.services import wait_for
from workers.actors.handled import Handled, acknowledge_only
from workers.actors.notifications import HANDLERS
from workers.queues import all_queue_names
from workers.replay_lock import ReplayLock, replay_lock_key

GRANTS, EVENTS = "notifications.grants", "notifications.events"
GRANTS_ERROR = "the CRM database said no"
EVENTS_ERROR = "the calendar is on fire"


@dataclass
class Operator:
    """Runs `crmsync` commands in this process against one test's Redis and database."""

    runtime: Runtime
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)

    def dead(self, queue: str) -> int:
        return queue_lengths(self.runtime.broker.client, self.runtime.settings.redis_namespace)[
            queue + ".XQ"
        ]


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite file, for tests whose point is Redis, not the database."""
    url = f"sqlite:///{tmp_path / 'crmsync.db'}"
    engine = create_database_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def operator_on(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Operator]:
    """Two grant and one event notification dead-lettered, the workers stopped again."""
    runtime = make_runtime(settings_for(database_url, redis_namespace))
    for name, value in operator_environment(runtime.settings).items():
        monkeypatch.setenv(name, value)
    # The commands send their logs to standard error as JSON lines; in tests pytest keeps them.
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)
    _dead_letter(runtime, monkeypatch)
    yield Operator(runtime, capsys)


@pytest.fixture
def operator(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Operator]:
    """Dead letters in Redis, on SQLite and on PostgreSQL (for tests that write audits)."""
    yield from operator_on(database_url, redis_namespace, make_runtime, monkeypatch, capsys)


@pytest.fixture
def redis_operator(
    migrated_sqlite_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Operator]:
    """Dead letters in Redis, with a SQLite database (for tests that only read Redis)."""
    yield from operator_on(migrated_sqlite_url, redis_namespace, make_runtime, monkeypatch, capsys)


def _dead_letter(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(message: str) -> Callable[[object, object], Handled]:
        def handler(context: object, notification: object) -> Handled:
            raise RuntimeError(message)

        return handler

    monkeypatch.setitem(HANDLERS, WorkKind.GRANTS, broken(GRANTS_ERROR))
    monkeypatch.setitem(HANDLERS, WorkKind.EVENTS, broken(EVENTS_ERROR))
    declare(runtime)
    worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
    try:
        with TestClient(build_app(runtime=runtime)) as http:
            for document in (
                sim.grant_expired("grant-1"),
                sim.grant_expired("grant-2"),
                sim.event_deleted("grant-1", "event-1", "calendar-1"),
            ):
                body, headers = signed(document)
                answer = http.post("/webhooks/nylas", content=body, headers=headers)
                assert answer.status_code == 200
        # One attempt and the one retry the test settings allow, then the dead letters.
        namespace = runtime.settings.redis_namespace
        wait_for(
            lambda: (
                queue_lengths(runtime.broker.client, namespace)
                == {**_empty(), GRANTS + ".XQ": 2, EVENTS + ".XQ": 1}
            ),
            what="three dead letters and nothing else queued",
        )
    finally:
        worker.stop()


def _empty() -> dict[str, int]:
    return {q + suffix: 0 for q in all_queue_names() for suffix in ("", ".DQ", ".XQ")}


def _ids(letters: list[dict[str, Any]]) -> set[str]:
    return {letter["message_id"] for letter in letters}


def test_list_filters_dead_letters(redis_operator: Operator) -> None:
    everything = redis_operator.json("dlq", "list")
    assert everything["total"] == 3
    letters = everything["letters"]
    # Oldest first, by time (a time on a whole second is written without a fraction, so the
    # texts themselves do not sort).
    parsed = [parse_rfc3339(x["dead_lettered_at"]) for x in letters]
    times = [t for t in parsed if t is not None]
    assert len(times) == len(letters)
    assert times == sorted(times)
    grants = [x for x in letters if x["queue"] == GRANTS]
    assert {x["actor"] for x in grants} == {"handle_grants"}
    assert {x["error"] for x in grants} == {f"RuntimeError: {GRANTS_ERROR}"}
    assert {x["retries"] for x in letters} == {1}
    one = grants[0]

    def selected(*flags: str) -> set[str]:
        return _ids(redis_operator.json("dlq", "list", *flags)["letters"])

    assert selected("--queue", GRANTS) == _ids(grants)
    assert selected("--queue", GRANTS, "--queue", EVENTS) == _ids(letters)
    assert selected("--actor", "handle_events") == _ids(letters) - _ids(grants)
    assert selected("--id", one["message_id"]) == {one["message_id"]}
    assert selected("--id", one["redis_message_id"]) == {one["message_id"]}
    assert selected("--error", "calendar is ON FIRE") == _ids(letters) - _ids(grants)
    assert selected("--error", "no such error") == set()
    assert selected("--since", "10m") == _ids(letters)
    assert selected("--until", "10m") == set()
    assert selected("--since", one["dead_lettered_at"], "--until", one["dead_lettered_at"]) >= {
        one["message_id"]
    }
    assert selected("--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00Z") == set()
    limited = redis_operator.json("dlq", "list", "--limit", "2")
    assert (limited["total"], _ids(limited["letters"])) == (3, _ids(letters[:2]))

    code, out, err = redis_operator("dlq", "list", "--queue", GRANTS)
    assert code == 0
    assert "2 of 2 matching dead letters shown" in err
    assert "handle_grants" in out

    code, _, err = redis_operator("dlq", "list", "--queue", "nope")
    assert code == 2
    assert "unknown queue nope" in err
    code, _, err = redis_operator("dlq", "list", "--since", "yesterday")
    assert code == 2
    assert "RFC 3339" in err


def test_show_prints_one_dead_letter_in_full(redis_operator: Operator) -> None:
    [letter] = redis_operator.json("dlq", "list", "--queue", EVENTS)["letters"]

    shown = redis_operator.json("dlq", "show", letter["message_id"])

    assert shown["actor"] == "handle_events"
    assert shown["queue"] == EVENTS
    assert shown["retries"] == 1
    assert shown["args"] == []
    assert shown["kwargs"]["payload"]["type"] == "event.deleted"
    assert shown["kwargs"]["api_version"] == "v3"
    assert f"RuntimeError: {EVENTS_ERROR}" in shown["traceback"]
    code, out, _ = redis_operator("dlq", "show", letter["message_id"])
    assert code == 0
    assert "actor: handle_events" in out
    assert EVENTS_ERROR in out
    code, _, err = redis_operator("dlq", "show", "no-such-id")
    assert code == 1
    assert "no dead letter with id no-such-id" in err


def test_a_dry_run_says_what_would_move_and_moves_nothing(redis_operator: Operator) -> None:
    before = redis_operator.json("dlq", "list")["letters"]

    dry = redis_operator.json("dlq", "replay", "--queue", GRANTS, "--dry-run")

    assert dry["dry_run"] is True
    assert dry["matched"] == 2
    assert _ids(dry["letters"]) == {x["message_id"] for x in before if x["queue"] == GRANTS}
    assert redis_operator.json("dlq", "list")["letters"] == before
    code, _, err = redis_operator("dlq", "replay", "--dry-run")
    assert code == 0
    assert "dry run: 3 dead letters would be replayed; nothing moved" in err
    assert redis_operator.dead(GRANTS) == 2
    with Session(redis_operator.runtime.engine) as session:
        assert session.exec(select(DeadLetterAuditRow)).all() == []


def test_replay_requeues_with_a_fresh_budget_and_the_work_is_done(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = operator.runtime
    client, namespace = runtime.broker.client, runtime.settings.redis_namespace
    grants = operator.json("dlq", "list", "--queue", GRANTS)["letters"]

    result = operator.json("dlq", "replay", "--queue", GRANTS, "--operator", "ops-ann")

    assert result == {"action": "replay", "matched": 2, "count": 2}
    assert (operator.dead(GRANTS), operator.dead(EVENTS)) == (0, 1)
    queued = [dramatiq.Message.decode(body) for body in client.hvals(f"{namespace}:{GRANTS}.msgs")]
    assert int(client.llen(f"{namespace}:{GRANTS}")) == 2
    assert {m.message_id for m in queued} == _ids(grants)
    for message in queued:
        assert message.actor_name == "handle_grants"
        assert message.kwargs["payload"]["type"] == "grant.expired"
        assert set(message.options) == {"redis_message_id"}  # no retries, no traceback
    assert client.get(replay_lock_key(namespace)) is None

    # The handler works again: the replayed notifications are handled once each.
    monkeypatch.setitem(HANDLERS, WorkKind.GRANTS, acknowledge_only)
    worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
    try:
        wait_for(lambda: _states(runtime, "grant.expired") == ["received", "received"])
        wait_for(lambda: queue_lengths(client, namespace)[GRANTS] == 0, what="grants to drain")
    finally:
        worker.stop()
    with Session(runtime.engine) as session:
        rows = session.exec(select(RawNotification).where(RawNotification.type == "grant.expired"))
        assert [row.attempts for row in rows] == [3, 3]  # two failed attempts, then the replay
    assert operator.dead(GRANTS) == 0

    [audit] = operator.json("dlq", "audit")
    assert audit["operator"] == "ops-ann"
    assert audit["action"] == "replay"
    assert audit["selection"]["queues"] == [GRANTS]
    assert (audit["matched"], audit["count"], audit["outcome"]) == (2, 2, "completed")
    assert audit["finished_at"] is not None
    code, out, _ = operator("dlq", "audit")
    assert code == 0
    assert "ops-ann" in out


def test_dead_letters_are_listed_replayed_and_purged_by_organization(operator: Operator) -> None:
    admin = {"Authorization": "Bearer test-api-token"}
    with TestClient(build_app(runtime=operator.runtime)) as http:
        assert http.put("/v1/orgs/acme", json={"name": "Acme"}, headers=admin).status_code == 201
        for org_id, rep_id, grant_id in (("default", "ann", "grant-1"), ("acme", "cy", "grant-2")):
            rep = {"email": f"{rep_id}@example.com", "grant_id": grant_id, "provider": "google"}
            answer = http.put(
                f"/v1/reps/{rep_id}", json=rep, headers={**admin, "Crmsync-Org": org_id}
            )
            assert answer.status_code == 201, answer.text
    letters = operator.json("dlq", "list")["letters"]
    assert sorted((x["queue"], x["org_id"]) for x in letters) == [
        (EVENTS, "default"),
        (GRANTS, "acme"),
        (GRANTS, "default"),
    ]
    [acme] = [x for x in letters if x["org_id"] == "acme"]
    assert _ids(operator.json("dlq", "list", "--org", "acme")["letters"]) == {acme["message_id"]}
    assert operator.json("dlq", "list", "--org", "nobody")["total"] == 0
    dry = operator.json("dlq", "replay", "--org", "acme", "--dry-run")
    assert (dry["matched"], _ids(dry["letters"])) == (1, {acme["message_id"]})

    purged = operator.json("dlq", "purge", "--org", "acme", "--yes", "--operator", "ops-ann")

    assert purged == {"action": "purge", "matched": 1, "count": 1}
    assert (operator.dead(GRANTS), operator.dead(EVENTS)) == (1, 1)
    [audit] = operator.json("dlq", "audit", "--org", "acme")
    assert (audit["org_id"], audit["selection"]["org_id"], audit["count"]) == ("acme", "acme", 1)
    assert operator.json("dlq", "audit", "--org", "default") == []
    code, out, _ = operator("dlq", "list")
    assert code == 0
    assert "default" in out

    status = operator.json("status", "--org", "acme")
    assert [o["org_id"] for o in status["organizations"]] == ["acme"]
    assert sum(status["reps_by_account_status"].values()) == 1
    assert len(status["queues"]) == len(all_queue_names())  # shared: shown whole
    everyone = operator.json("status")
    assert [o["org_id"] for o in everyone["organizations"]] == ["acme", "default"]
    code, out, _ = operator("status")
    assert (code, "Organizations" in out) == (0, True)
    code, _, err = operator("status", "--org", "nobody")
    assert (code, "no organization nobody" in err) == (1, True)


def _states(runtime: Runtime, notification_type: str) -> list[str]:
    with Session(runtime.engine) as session:
        statement = select(RawNotification).where(RawNotification.type == notification_type)
        return sorted(row.state for row in session.exec(statement))


def test_a_second_replay_is_refused_while_one_runs(operator: Operator) -> None:
    runtime = operator.runtime
    client, namespace = runtime.broker.client, runtime.settings.redis_namespace

    with ReplayLock(client, namespace, "ops-ben"):
        code, _, err = operator("dlq", "replay", "--operator", "ops-ann")
        assert code == 1
        assert "another dead-letter replay is running (ops-ben)" in err
        assert operator.dead(GRANTS) + operator.dead(EVENTS) == 3
        assert operator.json("dlq", "audit") == []
        # A dry run moves nothing and needs no lock.
        assert operator.json("dlq", "replay", "--dry-run")["matched"] == 3

    assert client.get(replay_lock_key(namespace)) is None
    assert operator.json("dlq", "replay", "--queue", EVENTS)["count"] == 1
    assert operator.dead(EVENTS) == 0


def test_purge_asks_first_unless_told_yes(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: answers.pop(0))

    answers.append("n")
    code, _, err = operator("dlq", "purge", "--queue", GRANTS)
    assert code == 1
    assert "nothing deleted" in err
    assert operator.dead(GRANTS) == 2

    answers.append("y")
    code, _, err = operator("dlq", "purge", "--queue", GRANTS, "--operator", "ops-ann")
    assert code == 0
    assert "deleted 2 of 2 matching dead letters" in err
    assert operator.dead(GRANTS) == 0

    assert operator.json("dlq", "purge", "--yes", "--actor", "handle_events") == {
        "action": "purge",
        "matched": 1,
        "count": 1,
    }
    assert operator.dead(EVENTS) == 0
    assert answers == []
    runtime = operator.runtime
    client, namespace = runtime.broker.client, runtime.settings.redis_namespace
    assert not client.exists(f"{namespace}:{GRANTS}.XQ.msgs", f"{namespace}:{EVENTS}.XQ.msgs")

    audits = operator.json("dlq", "audit")
    assert [(a["action"], a["count"], a["outcome"]) for a in audits] == [
        ("purge", 1, "completed"),
        ("purge", 2, "completed"),
    ]
    assert audits[0]["selection"]["actor"] == "handle_events"
    assert audits[1]["operator"] == "ops-ann"


def test_status_reports_a_known_queue_state(operator: Operator) -> None:
    runtime = operator.runtime
    received_at = 1_000.0  # long ago: the oldest ready message's age is known
    documents = [sim.message_created("grant-9") for _ in range(3)]
    notifications = [n for d in documents for n in parse_document(d)]
    runtime.enqueuer.enqueue(notifications, received_at=received_at)
    for _ in range(2):
        runtime.broker.enqueue(
            dramatiq.Message(
                queue_name="notifications.other",
                actor_name="handle_other",
                args=(),
                kwargs={},
                options={},
            ),
            delay=600_000,
        )
    with TestClient(build_app(runtime=runtime)) as http:
        for rep in ("rep-1", "rep-2"):
            answer = http.put(
                f"/v1/reps/{rep}",
                json={"email": f"{rep}@acme.example", "grant_id": f"g-{rep}"},
                headers={"Authorization": "Bearer test-api-token"},
            )
            assert answer.status_code == 201, answer.text
            account_status = answer.json()["account_status"]["status"]

    status = operator.json("status")

    assert status["mode"] == "redis"
    queues = {q["queue"]: q for q in status["queues"]}
    assert list(queues) == [
        "notifications.messages",
        "notifications.events",
        "notifications.grants",
        "notifications.folders",
        "notifications.other",
        "deliveries",
        "calendar.push",
        "backfill",
        "sends",
        "parked",
        "offboarding",
    ]
    depths = {name: (q["ready"], q["delayed"], q["dead_letters"]) for name, q in queues.items()}
    assert depths == {
        "notifications.messages": (3, 0, 0),
        "notifications.events": (0, 0, 1),
        "notifications.grants": (0, 0, 2),
        "notifications.folders": (0, 0, 0),
        "notifications.other": (0, 2, 0),
        "deliveries": (0, 0, 0),
        "calendar.push": (0, 0, 0),
        "backfill": (0, 0, 0),
        "sends": (0, 0, 0),
        "parked": (0, 0, 0),
        "offboarding": (0, 0, 0),
    }
    assert all(q["in_progress"] == 0 for q in queues.values())
    messages = queues["notifications.messages"]
    assert messages["oldest_ready_age_seconds"] == pytest.approx(
        _timestamp(status["generated_at"]) - received_at, abs=1
    )
    assert messages["oldest_dead_letter_age_seconds"] is None
    assert 0 < queues[GRANTS]["oldest_dead_letter_age_seconds"] < 120
    assert queues["deliveries"]["oldest_ready_age_seconds"] is None
    assert status["reps_by_account_status"] == {account_status: 2}
    errors = status["recent_errors"]
    assert len(errors) == 3
    assert {e["source"] for e in errors} == {"notification"}
    assert sorted(e["error"] for e in errors) == [
        f"RuntimeError: {GRANTS_ERROR}",
        f"RuntimeError: {GRANTS_ERROR}",
        f"RuntimeError: {EVENTS_ERROR}",
    ]
    assert [e["at"] for e in errors] == sorted((e["at"] for e in errors), reverse=True)

    code, out, _ = operator("status")
    assert code == 0
    assert "notifications.grants" in out
    assert f"RuntimeError: {GRANTS_ERROR}" in out


def _timestamp(text: str) -> float:
    parsed = parse_rfc3339(text)
    assert parsed is not None
    return parsed.timestamp()


def test_status_in_the_embedded_mode_shows_the_database_only(
    migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("REDIS_URL", "NYLAS_API_KEY", "NYLAS_WEBHOOK_SECRETS", "CRMSYNC_API_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["mode"] == "embedded"
    assert status["queues"] is None
    assert "running `crmsync run` process" in status["queues_note"]
    assert status["recent_errors"] == []

    assert main(["status"]) == 0
    assert "showing the database only" in capsys.readouterr().err
    assert main(["dlq", "list"]) == 2
    assert "embedded mode" in capsys.readouterr().err


def test_status_and_dlq_list_as_processes(redis_operator: Operator) -> None:
    environment = {
        **clean_environment(),
        **operator_environment(redis_operator.runtime.settings),
    }
    environment["COLUMNS"] = "200"

    status = run_command("crmsync", "status", "--json", env=environment)
    listing = run_command("crmsync", "dlq", "list", "--queue", GRANTS, env=environment)

    assert status.returncode == 0, status.stderr
    queues = {q["queue"]: q["dead_letters"] for q in json.loads(status.stdout)["queues"]}
    assert (queues[GRANTS], queues[EVENTS]) == (2, 1)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count("handle_grants") == 2
    assert "2 of 2 matching dead letters shown" in listing.stderr
    for letter in redis_operator.json("dlq", "list", "--queue", GRANTS)["letters"]:
        assert letter["message_id"] in listing.stdout
