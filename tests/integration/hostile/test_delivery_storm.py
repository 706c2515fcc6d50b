"""A subscriber whose answers cannot be stored as sent, and the sweep of overdue deliveries,
on SQLite and PostgreSQL (S3).

A subscriber answering 500 with a NUL in its body (PostgreSQL refuses NUL in text) or with a
``Retry-After`` of twenty digits once left its delivery unrecorded and due at its creation
time; ten minutes later the sweep queued it on every pass. Every answer is now recorded as an
attempt, the sweep marks what it queues, and a message for a delivery not yet due does
nothing. The clock is a fake one moved past the sweep's interval; the subscriber is real HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from dramatiq import Retry
from sqlmodel import Session, select
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.outbound_addresses import LOOPBACK_NETWORKS
from storage.engine import transaction
from storage.tables import DeliveryAttemptRow, DeliveryRow, SubscriptionRow
from tests.support.email_sync import AUTH
from tests.support.feed import record_change, wait_until_settled
from tests.support.harness import settings_for
from tests.support.hostile_subscriber import HostileSubscriber, hostile_subscriber
from workers.actors.deliveries import Answer, deliver
from workers.context import WorkerContext
from workers.dispatch import OVERDUE_DELIVERIES, SWEEP_AFTER, dispatch_once, dispatch_recorded
from workers.outbound_http import OutboundClient

SCHEDULE = (timedelta(minutes=1),) * 5
SWEEP_INTERVAL = timedelta(seconds=0.5)


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class Storm:
    """One subscription to a hostile subscriber, one change, and the worker's parts by hand."""

    runtime: Runtime
    subscriber: HostileSubscriber
    clock: FakeClock
    context: WorkerContext
    delivery_id: int

    def attempt(self) -> bool:
        """Run one delivery message; whether it asked to be retried."""
        try:
            deliver(self.context, self.delivery_id)
        except Retry:
            return True
        return False

    def sweep(self) -> list[int]:
        queued: list[int] = []
        dispatch_recorded(self.context, OVERDUE_DELIVERIES, queued.append)
        return queued

    def delivery(self) -> DeliveryRow:
        with Session(self.runtime.engine) as session:
            row = session.get(DeliveryRow, self.delivery_id)
            assert row is not None
            return row

    def attempts(self) -> list[DeliveryAttemptRow]:
        with Session(self.runtime.engine) as session:
            query = select(DeliveryAttemptRow).where(
                DeliveryAttemptRow.delivery_id == self.delivery_id
            )
            return list(session.exec(query))

    def subscription(self) -> SubscriptionRow:
        with Session(self.runtime.engine) as session:
            [row] = session.exec(select(SubscriptionRow))
            return row


@pytest.fixture
def make_storm(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[Callable[[str], Storm]]:
    """A storm against the hostile subscriber's ``path`` (tests/support/hostile_subscriber)."""
    with hostile_subscriber() as subscriber:

        def make(path: str) -> Storm:
            return _storm(database_url, redis_namespace, make_runtime, subscriber, path)

        yield make


def _storm(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    subscriber: HostileSubscriber,
    path: str,
) -> Storm:
    runtime = make_runtime(settings_for(database_url, redis_namespace))
    with TestClient(build_app(runtime=runtime)) as client:
        url = subscriber.url(path)
        answer = client.post("/v1/subscriptions", json={"url": url}, headers=AUTH)
        assert answer.status_code == 201, answer.text
    with transaction(runtime.engine) as session:
        record_change(session, 0, change_type="email.stored")
    wait_until_settled(runtime.engine)
    clock = FakeClock()
    context = WorkerContext(
        engine=runtime.engine,
        # Excerpts of this loopback subscriber's answers are shown, as a public one's are:
        # the NUL must reach the record to prove it cannot break it.
        outbound=OutboundClient(
            allowed_networks=LOOPBACK_NETWORKS, shows_body=lambda _address: True
        ),
        clock=clock,
        delivery_schedule=SCHEDULE,
        disable_after=timedelta(days=5),
    )
    created: list[int] = []
    assert dispatch_once(context, created.append) == 1
    return Storm(runtime, subscriber, clock, context, created[0])


def test_a_nul_in_a_500_body_is_recorded_as_an_attempt_and_retried_on_schedule(
    make_storm: Callable[[str], Storm],
) -> None:
    storm = make_storm("/nul")

    assert storm.attempt() is True

    [attempt] = storm.attempts()
    assert (attempt.status_code, attempt.error) == (500, "nul-in-body")
    assert storm.subscription().failing_since is not None
    assert storm.delivery().next_attempt_at == storm.clock.now + SCHEDULE[0]
    assert storm.attempt() is False  # a duplicate message before the next attempt is due
    assert len(storm.subscriber.requests) == 1


def test_a_retry_after_of_twenty_digits_waits_a_day_and_is_never_swept_early(
    make_storm: Callable[[str], Storm],
) -> None:
    storm = make_storm("/retry-after-huge")
    started = storm.clock.now

    assert storm.attempt() is True
    storm.clock.advance(SWEEP_AFTER + timedelta(minutes=1))

    assert storm.sweep() == []
    assert storm.attempt() is False
    assert storm.delivery().next_attempt_at == started + timedelta(days=1)
    assert [a.status_code for a in storm.attempts()] == [503]
    assert len(storm.subscriber.requests) == 1


def test_the_sweep_queues_a_lost_delivery_once_per_interval_not_on_every_pass(
    make_storm: Callable[[str], Storm],
) -> None:
    storm = make_storm("/nul")
    # The delivery's first message was lost: nothing attempts it for eleven minutes.
    storm.clock.advance(SWEEP_AFTER + timedelta(minutes=1))

    queued: list[int] = []
    for _ in range(240):  # two minutes of passes, every half second
        queued += storm.sweep()
        storm.clock.advance(SWEEP_INTERVAL)
    for _ in queued:
        storm.attempt()
        storm.attempt()  # and each message delivered twice

    assert queued == [storm.delivery_id]
    assert len(storm.subscriber.requests) == 1
    assert [a.error for a in storm.attempts()] == ["nul-in-body"]
    assert storm.delivery().state == "pending"


def test_an_attempt_in_flight_is_not_made_again_by_a_duplicate(
    make_storm: Callable[[str], Storm],
) -> None:
    storm = make_storm("/ok")
    entered = threading.Event()
    release = threading.Event()
    posted: list[str] = []

    def held_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        posted.append(url)
        entered.set()
        release.wait(10)
        return Answer(200, None, None)

    first = threading.Thread(target=deliver, args=(storm.context, storm.delivery_id, held_post))
    first.start()
    assert entered.wait(10)
    deliver(storm.context, storm.delivery_id, held_post)  # the duplicate, while in flight
    release.set()
    first.join(10)

    assert len(posted) == 1
    assert storm.delivery().state == "delivered"


def test_an_unexpected_failure_of_the_client_is_recorded_as_an_attempt(
    make_storm: Callable[[str], Storm],
) -> None:
    storm = make_storm("/ok")

    def broken_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(Retry):
        deliver(storm.context, storm.delivery_id, broken_post)

    [attempt] = storm.attempts()
    assert (attempt.status_code, attempt.error) == (None, "unexpected_error: UnicodeDecodeError")
