"""Secrets never appear in logs (O2): the real `crmsync run`, logging at DEBUG, is given
distinctive secrets and driven through every path that handles one; then everything it wrote
to standard output and standard error is searched for each secret and its obvious encodings.

Paths: signed notifications (the current and the rotated-out webhook secret, and a bad
signature), CRM API calls with a good, a wrong and a missing token, a subscription created and
its secret rotated (``whsec_`` secrets) with deliveries signed and sent, Nylas API calls made
with the API key (a message fetched, one gone), a PostgreSQL URL with a password; and start-up
refused for bad settings, and a database that cannot be reached.
"""

from __future__ import annotations

import base64
import json
import logging
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx2
import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.organizations import DEFAULT_ORG_ID
from domain.outbound_webhooks import SECRET_PREFIX
from simulator import notifications as sim
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from storage.engine import transaction
from storage.tables import SubscriptionRow
from tests.support.harness import settings_for
from tests.support.live_server import serve
from tests.support.processes import clean_environment, command, free_port, listening, run_command
from tests.support.services import REDIS_URL, wait_for

GRANT = "grant-leakcheck"
# Every secret carries MARKER, so that any fragment of one printed as is shows up as well.
MARKER = "LEAKCHECK"
WEBHOOK_SECRET = f"whk-current-{MARKER}-8a2f71"
OLD_WEBHOOK_SECRET = f"whk-old-{MARKER}-1c9d3e"
NYLAS_API_KEY = f"nyk-{MARKER}-4b7e90d2"
API_TOKEN = f"tok-{MARKER}-a1b2c3"
OTHER_API_TOKEN = f"tok2-{MARKER}-d4e5f6"
WRONG_TOKEN = f"tok-{MARKER}-wrong-9f9f"  # a near miss is as sensitive as the real one
DATABASE_PASSWORD = f"pgpw-{MARKER}-55e1"


def encodings(secret: str) -> set[str]:
    """``secret`` as a log line might carry it: as is, URL-, JSON-, base64- and hex-encoded."""
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    }
    if secret.startswith(SECRET_PREFIX):  # a Standard Webhooks secret: its key, bare
        key = secret.removeprefix(SECRET_PREFIX)
        forms |= {key, base64.b64decode(key).hex()}
    return forms


def leaks(output: str, secrets: list[str]) -> list[str]:
    """Which encodings of which secrets ``output`` holds (case-insensitive for hex)."""
    lowered = output.lower()
    found = [form for s in secrets for form in encodings(s) if form in output]
    found += [s.encode().hex() for s in secrets if s.encode().hex() in lowered]
    return sorted(set(found))


class Receiver:
    """A CRM endpoint: refuses the first delivery (400), accepts the rest."""

    def __init__(self) -> None:
        self.received = 0
        self.lock = threading.Lock()

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            await request.body()
            with self.lock:
                self.received += 1
                status = 400 if self.received == 1 else 200
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def nylas_url() -> Iterator[str]:
    """The fake Nylas API, keyed with the secret API key, holding one message from a contact."""
    fake = FakeNylas(api_key=NYLAS_API_KEY)
    fake.add_mailbox(GRANT, "google", "ann@acme.example")
    fake.put_message(
        GRANT,
        sim.message_object(
            GRANT, message_id="m-leak", sender="bob@customer.example", to=("ann@acme.example",)
        ),
    )
    # Nylas refuses one message: the handler fails and its traceback is logged.
    fake.inject(401, path_contains="/messages/m-denied", error_type="unauthorized", times=10)
    with serve(build_nylas_api(fake)) as url:
        yield url


def drive(base_url: str, hook_url: str, receiver: Receiver, log_path: Path) -> list[str]:
    """Send the running crmsync traffic that handles every secret; returns the ``whsec_``
    secrets it handed out."""
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with httpx2.Client(base_url=base_url, timeout=10) as http:
        # The CRM API: a wrong token, a missing one, a malformed header, then the real ones.
        assert (
            http.get(
                "/v1/subscriptions", headers={"Authorization": f"Bearer {WRONG_TOKEN}"}
            ).status_code
            == 401
        )
        assert http.get("/v1/subscriptions").status_code == 401
        assert (
            http.get("/v1/subscriptions", headers={"Authorization": WRONG_TOKEN}).status_code == 401
        )
        other = {"Authorization": f"Bearer {OTHER_API_TOKEN}"}
        assert http.get("/v1/subscriptions", headers=other).status_code == 200

        created = http.post("/v1/subscriptions", json={"url": hook_url}, headers=auth)
        assert created.status_code == 201, created.text
        subscription = created.json()
        rotated = http.post(
            f"/v1/subscriptions/{subscription['id']}/rotate-secret",
            json={"overlap_hours": 1},
            headers=auth,
        )
        assert rotated.status_code == 200, rotated.text

        rep = {"email": "ann@acme.example", "grant_id": GRANT, "provider": "google"}
        assert http.put("/v1/reps/rep-ann", json=rep, headers=auth).status_code == 201
        contacts = {"contacts": [{"id": "c-bob", "emails": ["bob@customer.example"]}]}
        assert http.put("/v1/reps/rep-ann/contacts", json=contacts, headers=auth).status_code == 200

        # Nylas: truncated notifications make the workers call the Nylas API with the key.
        truncated = sim.message_created(GRANT, message_id="m-leak", truncated=True)
        gone = sim.message_created(GRANT, message_id="m-gone", truncated=True)
        denied = sim.message_created(GRANT, message_id="m-denied", truncated=True)
        for document, secret in (
            (truncated, WEBHOOK_SECRET),
            (gone, OLD_WEBHOOK_SECRET),
            (denied, WEBHOOK_SECRET),
        ):
            body = sim.encode(document)
            headers = {"Content-Type": "application/json"}
            headers["X-Nylas-Signature"] = sim.sign(body, secret)
            assert http.post("/webhooks/nylas", content=body, headers=headers).status_code == 200
        body = sim.encode(sim.message_created(GRANT))
        forged = {
            "Content-Type": "application/json",
            "X-Nylas-Signature": sim.sign(body, WRONG_TOKEN),
        }
        assert http.post("/webhooks/nylas", content=body, headers=forged).status_code == 401

        def stored() -> bool:
            emails = http.get("/v1/emails", params={"rep_id": "rep-ann"}, headers=auth)
            return len(emails.json()["data"]) == 1

        wait_for(stored, what="the fetched message to be stored")
        wait_for(
            lambda: "notification handler failed" in log_path.read_text(),
            what="the refused fetch to be logged",
        )
        # rep.created, contact.added and email.stored (at least), the first one refused.
        wait_for(lambda: receiver.received >= 3, what="deliveries to the subscriber")
        assert http.get("/metrics").status_code == 200
        assert http.get("/readyz").status_code == 200
    return [subscription["secret"], rotated.json()["secret"]]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_secrets_never_reach_the_logs(
    database_url: str, redis_namespace: str, nylas_url: str, tmp_path: Path
) -> None:
    database = make_url(database_url).set(password=DATABASE_PASSWORD)
    port = free_port()
    environment = {
        **clean_environment(),
        "DATABASE_URL": database.render_as_string(hide_password=False),
        "REDIS_URL": REDIS_URL,
        "CRMSYNC_REDIS_NAMESPACE": redis_namespace,
        "NYLAS_API_KEY": NYLAS_API_KEY,
        "NYLAS_API_URI": nylas_url,
        "NYLAS_WEBHOOK_SECRETS": f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}",
        "CRMSYNC_API_TOKENS": f"{API_TOKEN},{OTHER_API_TOKEN}",
        "CRMSYNC_LOG_LEVEL": "DEBUG",
        "CRMSYNC_WORKER_THREADS": "2",
        "CRMSYNC_MAX_RETRIES": "1",
        # The subscriber listens on loopback, which deliveries reach only when allowed.
        "CRMSYNC_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    log_path = tmp_path / "crmsync.log"
    receiver = Receiver()
    with serve(receiver.app()) as hook_base, log_path.open("w") as log:
        # Written to a file, not a pipe: DEBUG output would fill a pipe nobody reads yet.
        server = subprocess.Popen(  # noqa: S603  (our own command)
            [command("crmsync"), "run", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: listening(port) or server.poll() is not None, what="crmsync to listen")
            assert server.poll() is None, log_path.read_text()
            handed_out = drive(f"http://127.0.0.1:{port}", f"{hook_base}/hook", receiver, log_path)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    assert server.returncode == 0, log_path.read_text()[-3000:]

    # Start-up refused: bad settings, then a database that cannot be reached.
    refused = run_command(
        "crmsync",
        "run",
        env={**environment, "NYLAS_API_KEY": "", "CRMSYNC_PORT": "not-a-port"},
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    assert "NYLAS_API_KEY" in refused.stderr
    assert "CRMSYNC_PORT" in refused.stderr
    unreachable = database.set(port=1).render_as_string(hide_password=False)
    no_database = run_command(
        "crmsync", "migrate", env={**environment, "DATABASE_URL": unreachable}, cwd=tmp_path
    )
    assert no_database.returncode != 0

    output = log_path.read_text()
    everything = "\n".join(
        [output, refused.stdout, refused.stderr, no_database.stdout, no_database.stderr]
    )
    secrets = [
        WEBHOOK_SECRET,
        OLD_WEBHOOK_SECRET,
        NYLAS_API_KEY,
        API_TOKEN,
        OTHER_API_TOKEN,
        WRONG_TOKEN,
        DATABASE_PASSWORD,
        *handed_out,
    ]
    assert all(s.startswith(SECRET_PREFIX) for s in handed_out)
    assert MARKER not in everything
    assert leaks(everything, secrets) == []

    # Not vacuous: the run logged, at DEBUG, what it did with each of those paths.
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(entries) > 50
    levels = {entry["level"] for entry in entries}
    assert {"debug", "info", "warning"} <= levels
    messages = " ".join(entry["message"] for entry in entries)
    reasons = {entry.get("reason") for entry in entries}
    assert "bad_signature" in reasons
    assert "notification queued" in messages
    outcomes = {entry.get("outcome") for entry in entries}
    # The fetched message: stored by its notification, or found first by the contact's
    # backfill (E11), which makes the notification's outcome "unchanged".
    assert outcomes & {"stored", "unchanged"}
    assert "gone" in outcomes
    failed = [e for e in entries if e["message"] == "notification handler failed"]
    assert failed
    assert "NylasRejected" in failed[0]["exception"]  # a traceback, searched as well
    assert any(entry["logger"].startswith("dramatiq") for entry in entries)
    assert any(entry["logger"].startswith("urllib3") for entry in entries)  # HTTP calls out
    assert receiver.received >= 3
    assert "invalid configuration" in refused.stderr
    assert "connection" in no_database.stderr.lower()


def test_a_failing_statement_logs_no_bound_parameter(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed INSERT (here a duplicate key) is logged by whoever catches it, with
    SQLAlchemy's text: the statement, never the values bound to it (secrets, addresses)."""
    engine = make_runtime(settings_for(database_url, redis_namespace)).engine
    secret = f"{SECRET_PREFIX}{base64.b64encode(MARKER.encode() * 3).decode()}"
    now = datetime.now(UTC)

    def subscription() -> SubscriptionRow:
        return SubscriptionRow(
            id="sub_leakcheck",
            org_id=DEFAULT_ORG_ID,
            url=f"https://crm.example/{MARKER}",
            event_types=[],
            description=f"owner {MARKER}@customer.example",
            secret=secret,
            status="active",
            position_txid=0,
            position_seq=0,
            created_at=now,
            updated_at=now,
        )

    with transaction(engine) as session:
        session.add(subscription())
    with pytest.raises(IntegrityError) as failed, transaction(engine) as session:
        session.add(subscription())
    logging.getLogger("crmsync.test").error("saving failed", exc_info=failed.value)

    assert "INSERT INTO subscriptions" in str(failed.value)
    assert MARKER not in str(failed.value)
    assert MARKER not in caplog.text
    assert leaks(caplog.text, [secret]) == []
