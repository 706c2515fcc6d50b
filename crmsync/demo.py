"""``crmsync demo``: show a running crmsync syncing a rep's email, through its public surfaces.

It registers a demo rep and contact through the CRM API, fills the rep's mailbox in the
built-in Nylas simulator when crmsync runs with it, sends signed real-shaped notifications
(a message, a truncated one, a v2 body, a grant expiry, and a retry), and then reads the
stored emails back from the API. With the simulator it also connects a second rep through
hosted OAuth and shows its backfill. Everything goes over HTTP, as Nylas and a CRM would.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from crmsync.simulated_nylas import SIMULATOR_API_KEY, SIMULATOR_PATH
from simulator import notifications as sim

REP_ID = "demo-rep"
CONNECTED_REP_ID = "demo-connected-rep"
REP_EMAIL = "rep@demo.example"
CONTACT_EMAIL = "buyer@customer.example"
WAIT_SECONDS = 15


@dataclass(frozen=True)
class DemoTarget:
    url: str
    secret: str
    token: str
    grant: str


class Unreachable(Exception):
    """Raised when crmsync does not answer at all."""


def run_demo(target: DemoTarget) -> int:
    """Run the demo against ``target``; 0 when every notification was accepted."""
    try:
        _register(target)
        simulated = _fill_mailbox(target)
        failures = _send_notifications(target)
        _show_emails(target, expected=4 if simulated else 1)
        if simulated:
            _connect_a_rep(target)
    except Unreachable as error:
        print(f"crmsync demo: cannot reach {target.url}: {error}", file=sys.stderr)
        return 1
    return 1 if failures else 0


def _register(target: DemoTarget) -> None:
    rep = {"email": REP_EMAIL, "grant_id": target.grant, "provider": "google"}
    status, answer = _call(target, "PUT", f"/v1/reps/{REP_ID}", rep, api=True)
    print(f"{status}  PUT /v1/reps/{REP_ID:<24} account status: {_status_of(answer)}")
    contacts = {"contacts": [{"id": "demo-contact", "emails": [CONTACT_EMAIL]}]}
    status, answer = _call(target, "PUT", f"/v1/reps/{REP_ID}/contacts", contacts, api=True)
    print(f"{status}  PUT /v1/reps/{REP_ID}/contacts      {json.dumps(answer)}")


def _fill_mailbox(target: DemoTarget) -> bool:
    """Create the rep's mailbox in the built-in simulator; False when crmsync uses real Nylas."""
    base = f"{SIMULATOR_PATH}/_simulator/grants/{target.grant}"
    mailbox = {"provider": "google", "email": REP_EMAIL}
    status, _ = _call(target, "PUT", base, mailbox, bearer=SIMULATOR_API_KEY)
    if status != 200:
        print(
            "      (no built-in Nylas simulator: truncated and v2 samples are looked up in Nylas)"
        )
        return False
    for message_id in ("demo-truncated", "demo-v2-1", "demo-v2-2"):
        message = sim.message_object(
            target.grant, message_id=message_id, sender=CONTACT_EMAIL, to=(REP_EMAIL,)
        )
        _call(target, "PUT", f"{base}/messages/{message_id}", message, bearer=SIMULATOR_API_KEY)
    print(f"200  simulated Nylas mailbox {target.grant!r} with 3 messages")
    return True


def _send_notifications(target: DemoTarget) -> int:
    message = sim.message_created(
        target.grant, message_id="demo-message", sender=REP_EMAIL, to=(CONTACT_EMAIL,)
    )
    samples: list[tuple[str, dict[str, Any]]] = [
        ("message.created", message),
        (
            "message.created.truncated",
            sim.message_created(target.grant, message_id="demo-truncated", truncated=True),
        ),
        (
            "v2 deltas (2)",
            sim.v2_body(
                sim.v2_message_delta(target.grant, "demo-v2-1"),
                sim.v2_message_delta(target.grant, "demo-v2-2"),
            ),
        ),
        ("grant.expired", sim.grant_expired(target.grant)),
        ("message.created again (a retry)", message),
    ]
    failures = 0
    for label, document in samples:
        body = sim.encode(document)
        headers = {"X-Nylas-Signature": sim.sign(body, target.secret)}
        status, answer = _call(target, "POST", "/webhooks/nylas", body, headers=headers)
        failures += status != 200
        print(f"{status}  {label:<34} {json.dumps(answer)}")
    return failures


def _connect_a_rep(target: DemoTarget) -> None:
    """Connect a second rep the way a CRM does: hosted OAuth (the simulator's sign-in page
    consents at once), then the backfill of its last 30 days."""
    rep_id, email, grant = CONNECTED_REP_ID, "new-rep@demo.example", f"{target.grant}-new"
    print(f"\nconnecting {rep_id} through hosted OAuth")
    _call(target, "PUT", f"/v1/reps/{rep_id}", {"email": email}, api=True)
    contacts = {"contacts": [{"id": "demo-contact", "emails": [CONTACT_EMAIL]}]}
    _call(target, "PUT", f"/v1/reps/{rep_id}/contacts", contacts, api=True)
    base = f"{SIMULATOR_PATH}/_simulator/grants/{grant}"
    _call(target, "PUT", base, {"provider": "google", "email": email}, bearer=SIMULATOR_API_KEY)
    now = int(time.time())
    for index, days_ago in enumerate((1, 3, 12, 45)):
        message = sim.message_object(
            grant,
            message_id=f"demo-history-{index}",
            sender=CONTACT_EMAIL,
            to=(email,),
            subject=f"Sent {days_ago} days ago",
            date=now - days_ago * 86_400,
        )
        path = f"{base}/messages/{message['id']}"
        _call(target, "PUT", path, message, bearer=SIMULATOR_API_KEY)
    print(f"200  simulated mailbox {grant!r}: 4 messages with the contact, one 45 days old")
    status, answer = _call(target, "POST", f"/v1/reps/{rep_id}/connect", {}, api=True)
    print(f"{status}  POST /v1/reps/{rep_id}/connect  -> a hosted sign-in URL")
    if status != 200:
        print(f"     {json.dumps(answer)}")
        return
    # The browser's trip: Nylas's page (here the simulator, which consents) redirects to the
    # callback, which stores the grant and starts the backfill.
    status, answer = _call(target, "GET", answer["url"], None, absolute=True)
    shown = _status_of(answer.get("rep") if isinstance(answer, dict) else answer)
    print(f"{status}  sign-in and callback             account status: {shown}")
    deadline = time.monotonic() + WAIT_SECONDS
    backfill: dict[str, Any] = {}
    while time.monotonic() < deadline:
        _, progress = _call(target, "GET", f"/v1/reps/{rep_id}/backfill", None, api=True)
        backfill = (progress or {}).get("mailbox") or {}
        if backfill.get("state") in ("done", "failed"):
            break
        time.sleep(0.25)
    counts = backfill.get("progress", {})
    print(
        f"200  backfill {backfill.get('state')}: {counts.get('messages_scanned')} messages "
        f"scanned, {counts.get('emails_stored')} stored (the 45-day-old one is before sync-from)"
    )
    _, rep = _call(target, "GET", f"/v1/reps/{rep_id}", None, api=True)
    print(f"200  GET /v1/reps/{rep_id}  account status: {_status_of(rep)}")


def _show_emails(target: DemoTarget, expected: int) -> None:
    """Wait for the workers, then print the rep's emails as the CRM API lists them."""
    deadline = time.monotonic() + WAIT_SECONDS
    emails: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, answer = _call(target, "GET", f"/v1/emails?rep_id={REP_ID}", None, api=True)
        emails = answer.get("data", []) if status == 200 and isinstance(answer, dict) else []
        if len(emails) >= expected:
            break
        time.sleep(0.25)
    print(f"\nemails stored for {REP_ID} (GET /v1/emails?rep_id={REP_ID}): {len(emails)}")
    for email in emails:
        print(
            f"  {email['date']}  {email['message_id']:<16} {email['subject']!r}  {email['folders']}"
        )


def _status_of(answer: object) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("account_status"), dict):
        return str(answer["account_status"].get("status"))
    return json.dumps(answer)


def _call(
    target: DemoTarget,
    method: str,
    path: str,
    body: object,
    *,
    api: bool = False,
    bearer: str | None = None,
    headers: dict[str, str] | None = None,
    absolute: bool = False,
) -> tuple[int, Any]:
    """One HTTP request (redirects followed); the status and the decoded JSON answer (or its
    text). ``path`` is a whole URL when ``absolute``."""
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310  (the URL is the operator's own)
        path if absolute else target.url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    token = target.token if api else bearer
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    except urllib.error.URLError as error:
        raise Unreachable(str(error.reason)) from error
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text
