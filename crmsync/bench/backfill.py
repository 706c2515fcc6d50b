"""Backfill (A2, issue 8): one rep's look-back window read through the Nylas API into emails.

The real path, as a CRM and a rep's browser drive it: the fake Nylas holds one mailbox of N
realistic messages dated over the last 30 days (``simulator.mailbox_fill``, about 30% of
them with a few of the rep's contacts); the rep and its contacts are registered through the
CRM API without a mailbox; then hosted OAuth connects it (``POST /v1/reps/{id}/connect``, the
URL opened at the fake, which consents and redirects to crmsync's callback). The figure is
the time from the callback to ``GET /v1/reps/{id}/backfill`` showing ``done`` (polled every
50 ms): the dispatcher queueing the backfill, the worker's SDK paging the fake over HTTP
under the grant's rate limits, and every page applied by the live rules.

Beside it, the same windows paged with the gateway alone, in this process and storing
nothing: what reading the mailbox from this fake costs before anything is stored. The run
also checks the result: the emails stored must be exactly the messages in the backfill's
window that touch one of the rep's contacts, computed here from the generated messages with
the domain's own matching; a backfill that stored another number is a failed row.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import uvloop

from crmsync.bench import crm_api
from crmsync.bench.figures import Figure, FigureStatus
from crmsync.bench.load import Connection, Request
from crmsync.bench.processes import free_port
from crmsync.bench.stack import NYLAS_API_KEY, BenchContext, connecting_environment, running_stack
from domain.backfill import BackfillKind, Window, window_at, window_count, window_size
from domain.contacts import Contact, match_contacts, parse_contact
from domain.messages import parse_message
from domain.times import parse_rfc3339
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox
from simulator.traffic import MailboxTraffic, SimRep, TrafficProfile
from workers.grant_limits import GrantLimits
from workers.nylas_client import MAX_PAGE_SIZE, NylasGateway

TARGET_MESSAGES = 10_000
TARGET_SECONDS = 15.0  # issue 8
LOOKBACK = timedelta(days=30)  # CRMSYNC_SYNC_LOOKBACK_DAYS' default: what the callback sets
# The mail is dated inside the look-back window with this much room at both ends, so that
# the seconds between filling the mailbox and the callback move no message out of it.
MARGIN = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    messages: int
    contacts_in_mail: int  # how many of the rep's contacts the mail is with
    contact_share: float
    profile: TrafficProfile
    worker_processes: int
    worker_threads: int
    poll_seconds: float
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class Paging:
    """Reading every window of the backfill page by page: how long, how many pages."""

    seconds: float
    pages: int
    messages: int


@dataclass(frozen=True, slots=True)
class BackfillResult:
    database: str
    mailbox: int  # messages in the fake mailbox
    seconds: float  # callback to "done"
    scanned: int
    stored: int
    expected: int  # messages in the window that touch a contact
    in_window: int  # messages in the window
    pages: int
    windows: int
    message_calls: int  # list-messages calls the workers made (retries included)
    other_calls: int  # the grant's other calls (folders)
    paging: Paging
    limits: GrantLimits

    @property
    def messages_per_second(self) -> float:
        return self.scanned / self.seconds

    @property
    def calls_per_second(self) -> float:
        return (self.message_calls + self.other_calls) / self.seconds

    @property
    def correct(self) -> bool:
        return self.stored == self.expected and self.scanned == self.in_window


class BackfillStalled(Exception):
    """Raised when the backfill does not finish within the plan's timeout, or gives up."""


class ConnectRefused(Exception):
    """Raised when the hosted-auth steps do not bring the browser back to crmsync."""


def measure_backfill(
    context: BenchContext, database: str, database_url: str, plan: BackfillPlan
) -> BackfillResult:
    """Connect one rep with ``plan.messages`` messages through hosted OAuth and time its
    backfill on ``database_url``; then page the same windows with the gateway alone."""
    from crmsync.bench.fake_nylas import serve_fake_nylas  # uvicorn in a thread, only here

    now = int(time.time())
    rep = MailboxTraffic(replace(plan.profile, reps=1), now=now).reps[0]
    fake = FakeNylas(api_key=NYLAS_API_KEY)
    fake.add_mailbox(rep.grant_id, rep.provider, rep.email)
    messages = fill_mailbox(
        fake,
        rep.grant_id,
        plan.messages,
        contacts=[contact.addresses[0] for contact in rep.contacts[: plan.contacts_in_mail]],
        start=now - int((LOOKBACK - MARGIN).total_seconds()),
        end=now - int(MARGIN.total_seconds()),
        contact_share=plan.contact_share,
        seed=plan.profile.seed,
    )
    namespace = context.namespace(f"backfill-{database}")
    port = free_port()
    try:
        with serve_fake_nylas(fake) as nylas_url:
            environment = connecting_environment(
                database_url, namespace, nylas_url=nylas_url, client_id=fake.client_id, port=port
            )
            with running_stack(
                environment,
                context.log_dir("backfill"),
                worker_processes=plan.worker_processes,
                worker_threads=plan.worker_threads,
                port=port,
            ) as stack:
                driver = _Driver(stack.port, rep, fake, plan)
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    seconds, backfill = runner.run(driver.run())
            requests = fake.requests_to(f"/grants/{rep.grant_id}/")
            window = _window_of(backfill)
            paging = page_alone(nylas_url, rep.grant_id, window)
    finally:
        namespace.clean()
    progress = backfill["progress"]
    message_calls = sum(1 for r in requests if r.path.endswith("/messages"))
    in_window = [
        m for m in messages if window.received_after < int(m["date"]) < window.received_before
    ]
    return BackfillResult(
        database=database,
        mailbox=len(messages),
        seconds=seconds,
        scanned=int(progress["messages_scanned"]),
        stored=int(progress["emails_stored"]),
        expected=count_matching(rep, in_window),
        in_window=len(in_window),
        pages=int(progress["pages_done"]),
        windows=int(progress["windows_total"]),
        message_calls=message_calls,
        other_calls=len(requests) - message_calls,
        paging=paging,
        limits=GrantLimits(),  # the bench leaves CRMSYNC_NYLAS_GRANT_* at their defaults
    )


class _Driver:
    """Registers the rep, connects it as its browser would, and waits for the backfill."""

    def __init__(self, port: int, rep: SimRep, fake: FakeNylas, plan: BackfillPlan) -> None:
        self.port = port
        self.rep = rep
        self.fake = fake
        self.plan = plan

    async def run(self) -> tuple[float, dict[str, Any]]:
        """Seconds from the callback to the backfill done, and the backfill as last read."""
        api = Connection("127.0.0.1", self.port)
        try:
            await crm_api.register(api, self.rep, sync_from=None, with_grant=False)
            rep_path = f"/v1/reps/{self.rep.rep_id}"
            connect = await crm_api.call(api, "POST", f"{rep_path}/connect", {})
            callback = await asyncio.to_thread(_consent, str(connect["url"]))
            self.fake.clear_requests()
            started = time.perf_counter()
            status, answer = await api.send(Request("GET", callback))
            if status != 200:
                raise ConnectRefused(f"callback answered {status}: {answer[:300]!r}")
            return await self._until_done(api, f"{rep_path}/backfill", started)
        finally:
            api.close()

    async def _until_done(
        self, api: Connection, path: str, started: float
    ) -> tuple[float, dict[str, Any]]:
        deadline = started + self.plan.timeout_seconds
        while time.perf_counter() < deadline:
            backfill = (await crm_api.call(api, "GET", path))["mailbox"]
            state = backfill["state"] if backfill else None
            if state == "done":
                return time.perf_counter() - started, backfill
            if state in ("failed", "cancelled"):
                raise BackfillStalled(f"the backfill ended {state}: {backfill['error']}")
            await asyncio.sleep(self.plan.poll_seconds)
        raise BackfillStalled(f"not done after {self.plan.timeout_seconds:.0f} s: {backfill}")


def _consent(url: str) -> str:
    """Open the hosted-auth URL as the rep's browser would; the callback path (and query)
    the fake redirects it to, on crmsync."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    location = answer.getheader("Location") or ""
    if answer.status != 302 or "code=" not in location:
        raise ConnectRefused(f"hosted auth answered {answer.status}, Location {location!r}")
    target = urlsplit(location)
    return f"{target.path}?{target.query}"


def _window_of(backfill: dict[str, Any]) -> Window:
    since, until = parse_rfc3339(backfill["since"]), parse_rfc3339(backfill["until"])
    if since is None or until is None:
        raise BackfillStalled(f"the backfill's window is unreadable: {backfill}")
    return Window(since, until)


def page_alone(nylas_url: str, grant_id: str, window: Window) -> Paging:
    """Page every day window of ``window`` as the backfill does (newest first, 200 a page),
    with the gateway and nothing else: no rate limiter, no storage."""
    gateway = NylasGateway(NYLAS_API_KEY, nylas_url)
    size = window_size(BackfillKind.MAILBOX, window.start, window.end)
    pages = messages = 0
    started = time.perf_counter()
    for index in range(window_count(window.start, window.end, size)):
        day = window_at(index, window.start, window.end, size)
        cursor: str | None = None
        while True:
            page = gateway.list_messages(
                grant_id,
                received_after=day.received_after,
                received_before=day.received_before,
                limit=MAX_PAGE_SIZE,
                page_token=cursor,
            )
            pages += 1
            messages += len(page.messages)
            cursor = page.next_cursor
            if not cursor:
                break
    return Paging(time.perf_counter() - started, pages, messages)


def count_matching(rep: SimRep, wires: Iterable[dict[str, Any]]) -> int:
    """How many of ``wires`` rule E2 stores for ``rep``: every message here is in its inbox
    or sent folder, so those that touch one of its contacts (the domain's own matching)."""
    contacts = [parse_contact(rep.rep_id, contact.to_api()) for contact in rep.contacts]
    by_address: dict[str, list[Contact]] = defaultdict(list)
    for contact in contacts:
        for address in contact.addresses:
            by_address[address].append(contact)
    matched = 0
    for wire in wires:
        message = parse_message(wire)
        candidates = [c for a in message.matching_addresses() for c in by_address.get(a, ())]
        matched += bool(match_contacts(message, rep.rep_id, candidates))
    return matched


def backfill_figures(result: BackfillResult) -> list[Figure]:
    db = result.database
    on_target = result.mailbox >= TARGET_MESSAGES
    paging = result.paging
    limits = result.limits
    figures = [
        Figure(
            key="backfill.seconds",
            group="backfill",
            label=f"backfill {db}: {result.mailbox:,} messages, callback to done",
            unit="s",
            value=result.seconds,
            baseline=paging.seconds,
            baseline_label="paging the fake alone",
            target=f"< {TARGET_SECONDS:.0f} s" if on_target else None,
            met=result.seconds < TARGET_SECONDS if on_target else None,
            note=f"{result.pages} pages over {result.windows} day windows; "
            f"{result.message_calls + result.other_calls} Nylas calls "
            f"({result.calls_per_second:.1f}/s; grant limit {limits.calls_per_second}/s, "
            f"{limits.concurrent_calls} at once)",
        ),
        Figure(
            key="backfill.messages_per_second",
            group="backfill",
            label=f"backfill {db}: messages scanned/s",
            unit="msg/s",
            value=result.messages_per_second,
            baseline=paging.messages / paging.seconds,
            baseline_label="paging the fake alone",
        ),
        Figure(
            key="backfill.emails_stored",
            group="backfill",
            label=f"backfill {db}: emails stored",
            unit="emails",
            value=float(result.stored),
            baseline=float(result.expected),
            baseline_label="matching messages in the window",
            note=f"{result.scanned:,} of {result.in_window:,} messages in the window scanned",
        ),
    ]
    if not result.correct:
        figures.append(
            Figure(
                key="backfill.wrong_result",
                group="backfill",
                label=f"backfill {db}: result check",
                unit="",
                value=None,
                status=FigureStatus.FAILED,
                note=f"stored {result.stored} emails, expected {result.expected}; scanned "
                f"{result.scanned} of the {result.in_window} messages in the window",
            )
        )
    return figures
