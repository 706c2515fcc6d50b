"""Streams of signed notifications delivered the way Nylas delivers them, and the ledger.

:class:`NotificationStream` posts over real HTTP from several threads at a steady rate; a
503 is delivered again after a pause (Nylas retries 503), anything else but 200 is recorded
and not retried. Afterwards the test compares three sets of message ids: sent, acknowledged
(200) and stored, and counts the rows and change records each stored message made.
:class:`Figures` is the one-line summary each fault test prints (RELIABILITY.md quotes it).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import redis
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from simulator import notifications as sim
from storage.tables import ChangeRow, EmailRow, RawNotification
from tests.support.harness import queue_lengths
from tests.support.nylas import signed
from tests.support.services import wait_for
from workers.queues import all_queue_names

INGRESS = "/webhooks/nylas"
API_TOKEN = "test-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}

REP_ID = "rep-faults"
REP_EMAIL = "ann@acme.example"
CONTACT_EMAIL = "bob@customer.example"


def register_rep(http: httpx2.Client, grant_id: str) -> None:
    """A Gmail rep with one contact, through the CRM API: every message to that contact is
    stored (E2), so each notification of the stream becomes exactly one email."""
    rep = http.put(
        f"/v1/reps/{REP_ID}",
        json={"email": REP_EMAIL, "grant_id": grant_id, "provider": "google"},
        headers=AUTH,
    )
    assert rep.status_code in (200, 201), rep.text
    contacts = http.put(
        f"/v1/reps/{REP_ID}/contacts",
        json={"contacts": [{"id": "c-bob", "emails": [CONTACT_EMAIL]}]},
        headers=AUTH,
    )
    assert contacts.status_code == 200, contacts.text


def deliver(runtime: Runtime, documents: Iterable[dict[str, Any]]) -> None:
    """Register the rep, then deliver each notification through the app, in this thread."""
    with TestClient(build_app(runtime=runtime)) as http:
        register_rep(http, _grant_of(documents))
        for document in documents:
            body, headers = signed(document)
            answer = http.post(INGRESS, content=body, headers=headers)
            assert answer.status_code == 200, answer.text


def _grant_of(documents: Iterable[dict[str, Any]]) -> str:
    [grant_id] = {str(d["data"]["object"]["grant_id"]) for d in documents}
    return grant_id


def message_documents(
    grant_id: str, count: int, *, prefix: str, truncated: bool = False
) -> list[dict[str, Any]]:
    """``count`` distinct ``message.created`` notifications from the rep to the contact."""
    return [
        sim.message_created(
            grant_id,
            message_id=f"{prefix}-{index:05d}",
            sender=REP_EMAIL,
            to=(CONTACT_EMAIL,),
            truncated=truncated,
        )
        for index in range(count)
    ]


def message_id_of(document: dict[str, Any]) -> str:
    message_id: str = document["data"]["object"]["id"]
    return message_id


@dataclass
class _Delivery:
    document: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    attempts: int = 0


@dataclass
class NotificationStream:
    """Delivers ``documents`` to ``base_url``'s ingress: ``rate`` a second, ``concurrency``
    at a time, each 503 again after ``retry_pause`` seconds, for at most ``deadline`` seconds.

    Nylas's own retry schedule is minutes long; the pause is shorter so the test is quick, but
    a retry is still a new request after a wait, never a held connection.
    """

    base_url: str
    documents: Sequence[dict[str, Any]]
    rate: float = 200.0
    concurrency: int = 4
    retry_pause: float = 0.5
    deadline: float = 60.0
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)
    refused_without_retry_after: int = 0
    unexpected: list[str] = field(default_factory=list)
    transport_errors: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[float, int, _Delivery]] = []
        self._in_flight = 0
        self._threads: list[threading.Thread] = []
        self._finished = threading.Event()

    # Running ------------------------------------------------------------------------------

    def start(self) -> NotificationStream:
        """Start delivering in background threads; :meth:`join` waits for the end."""
        began = time.monotonic()
        for index, document in enumerate(self.documents):
            body, headers = signed(document)
            due = began + index / self.rate
            self._pending.append((due, index, _Delivery(document, body, headers)))
        heapq.heapify(self._pending)
        self._stop_at = began + self.deadline
        for _ in range(self.concurrency):
            thread = threading.Thread(target=self._deliver_all, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def join(self) -> None:
        """Wait until every document is acknowledged, refused for good, or the deadline."""
        for thread in self._threads:
            thread.join(timeout=self.deadline + 30)
        self._finished.set()

    def run(self) -> NotificationStream:
        """Deliver everything and return once done."""
        self.start().join()
        return self

    # Figures ------------------------------------------------------------------------------

    @property
    def sent_ids(self) -> set[str]:
        return {message_id_of(d) for d in self.documents}

    @property
    def acknowledged_ids(self) -> set[str]:
        with self._lock:
            by_notification = {d["id"]: message_id_of(d) for d in self.documents}
            return {by_notification[n] for n in self.acknowledged}

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(self.statuses.values()) + self.transport_errors

    def count(self, status: int) -> int:
        with self._lock:
            return self.statuses[status]

    # Delivering ---------------------------------------------------------------------------

    def _deliver_all(self) -> None:
        with httpx2.Client(base_url=self.base_url, timeout=15.0) as http:
            while (delivery := self._next()) is not None:
                self._deliver(http, delivery)

    def _next(self) -> _Delivery | None:
        """The next delivery that is due, waiting for it; None when nothing is left."""
        while time.monotonic() < self._stop_at:
            with self._lock:
                if not self._pending:
                    if self._in_flight == 0:
                        return None
                    wait = 0.01  # a delivery in flight may yet come back for a retry
                else:
                    due, _, delivery = self._pending[0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._pending)
                        self._in_flight += 1
                        return delivery
            time.sleep(min(max(wait, 0.0), 0.01))
        return None

    def _deliver(self, http: httpx2.Client, delivery: _Delivery) -> None:
        delivery.attempts += 1
        retry = False
        try:
            response = http.post(INGRESS, content=delivery.body, headers=delivery.headers)
        except httpx2.TransportError:
            with self._lock:
                self.transport_errors += 1
            retry = True
        else:
            with self._lock:
                self.statuses[response.status_code] += 1
                if response.status_code == 200:
                    self.acknowledged.add(delivery.document["id"])
                elif response.status_code == 503:
                    retry = True
                    if response.headers.get("retry-after") is None:
                        self.refused_without_retry_after += 1
                else:
                    self.unexpected.append(f"{response.status_code}: {response.text[:200]}")
        with self._lock:
            self._in_flight -= 1
            if retry:
                due = time.monotonic() + self.retry_pause
                heapq.heappush(self._pending, (due, -delivery.attempts, delivery))


# The ledger: what the database holds -------------------------------------------------------


def email_rows_per_message(engine: Engine) -> Counter[str]:
    """How many stored email rows each message id has (any rep)."""
    with Session(engine) as session:
        rows = session.exec(
            select(EmailRow.message_id, func.count()).group_by(col(EmailRow.message_id))
        ).all()
    return Counter({str(message_id): int(n) for message_id, n in rows})


def stored_changes_per_message(engine: Engine) -> Counter[str]:
    """How many ``email.stored`` change records each message id has: a message applied
    twice would show a second one (or a second row), which the fault tests forbid."""
    with Session(engine) as session:
        changes = session.exec(select(ChangeRow).where(ChangeRow.type == "email.stored")).all()
    return Counter(str(change.payload["message_id"]) for change in changes)


def emails_stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(EmailRow)).one())


def notification_states(engine: Engine) -> Counter[str]:
    """Raw notification rows by state (``received``/``processed``/``failed``...)."""
    with Session(engine) as session:
        rows = session.exec(
            select(RawNotification.state, func.count()).group_by(col(RawNotification.state))
        ).all()
    return Counter({str(state): int(n) for state, n in rows})


def retried_notifications(engine: Engine) -> int:
    """Raw notifications handled more than once (an attempt failed, or a worker died)."""
    with Session(engine) as session:
        statement = select(func.count()).where(col(RawNotification.attempts) > 1)
        return int(session.exec(statement).one())


def duplicated(counts: Counter[str]) -> set[str]:
    return {key for key, n in counts.items() if n > 1}


@dataclass
class Figures:
    """The figures of one fault run, printed as one line (``pytest -m faults -s`` shows it)."""

    fault: str
    sent: int
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        extras = " ".join(f"{k}={_text(v)}" for k, v in self.extra.items())
        return (
            f"FIGURES {self.fault}: sent={self.sent} acknowledged={self.acknowledged} "
            f"stored={self.stored} lost={self.lost} duplicated={self.duplicated} "
            f"wall={self.seconds:.1f}s {extras}"
        ).rstrip()

    def report(self) -> None:
        print("\n" + self.line())


def _text(value: Any) -> str:
    return f"{value:.1f}s" if isinstance(value, float) else str(value)


def ledger_figures(
    fault: str,
    engine: Engine,
    sent: Iterable[str],
    acknowledged: Iterable[str],
    began: float,
    **extra: Any,
) -> tuple[Figures, Counter[str], Counter[str]]:
    """Figures from the database: stored, lost (acknowledged, not stored) and duplicated."""
    rows = email_rows_per_message(engine)
    changes = stored_changes_per_message(engine)
    acknowledged_ids = set(acknowledged)
    figures = Figures(
        fault=fault,
        sent=len(set(sent)),
        acknowledged=len(acknowledged_ids),
        stored=len(rows),
        lost=len(acknowledged_ids - set(rows)),
        duplicated=len(duplicated(rows) | duplicated(changes)),
        seconds=time.monotonic() - began,
        extra=extra,
    )
    return figures, rows, changes


# What Redis still holds ------------------------------------------------------------------


def in_progress(client: redis.Redis, namespace: str) -> int:
    """Messages fetched by some worker and not yet acknowledged (Dramatiq's ack sets).

    Every broker that ever fetched is in the heartbeats set until maintenance forgets it (a
    dead one only once its messages are requeued), so its ack sets are named without a SCAN
    of the shared Redis, which other sessions fill with keys.
    """
    brokers = [_text_of(b) for b in client.zrange(f"{namespace}:__heartbeats__", 0, -1)]
    pipeline = client.pipeline(transaction=False)
    for broker in brokers:
        for queue in all_queue_names():
            for name in (queue, queue + ".DQ"):
                pipeline.scard(f"{namespace}:__acks__.{broker}.{name}")
    return sum(int(n) for n in pipeline.execute())


def _text_of(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def backlog(client: redis.Redis, namespace: str) -> int:
    """Everything not finished: ready, delayed and in-progress messages (not dead letters)."""
    lengths = queue_lengths(client, namespace)
    waiting = sum(n for queue, n in lengths.items() if not queue.endswith(".XQ"))
    return waiting + in_progress(client, namespace)


def describe(engine: Engine, client: redis.Redis, namespace: str) -> str:
    """Where the work is, for the message of a test that gave up waiting."""
    lengths = {q: n for q, n in queue_lengths(client, namespace).items() if n}
    with Session(engine) as session:
        outcomes = session.exec(
            select(RawNotification.outcome, func.count()).group_by(col(RawNotification.outcome))
        ).all()
        stored = set(session.exec(select(EmailRow.message_id)).all())
        unstored = [
            (n.object_id, n.state, n.outcome, n.attempts, n.last_error)
            for n in session.exec(select(RawNotification))
            if n.object_id not in stored
        ]
    return (
        f"emails={emails_stored(engine)} notifications={dict(notification_states(engine))} "
        f"outcomes={dict(outcomes)} queues={lengths} in_progress={in_progress(client, namespace)}"
        f" without_email={unstored[:5]}"
    )


def wait_until_stored(
    check: Callable[[], bool], engine: Engine, client: redis.Redis, namespace: str, **kw: Any
) -> None:
    """``wait_for(check)``, failing with where the work is rather than only that it is late."""
    try:
        wait_for(check, **kw)
    except AssertionError as error:
        raise AssertionError(f"{error}; {describe(engine, client, namespace)}") from None
