"""``crmsync demo``: show a running crmsync syncing a rep's email, through its public surfaces.

It registers a demo rep and contact through the CRM API, fills the rep's mailbox in the Nylas
simulator crmsync uses (the one built into the embedded mode, or a ``crmsync simulator``
process in the Procfile shape), sends signed real-shaped notifications (a message, a truncated
one, a v2 body, a grant expiry, and a retry), and then reads the stored emails back from the
API. With a simulator it also adds a folder to the mailbox (the simulator delivers its
``folder.created``) and files a message there, and connects a second rep through hosted OAuth
and shows its backfill, then two organizations side by side (``crmsync.demo_orgs``).
Everything goes over HTTP, as Nylas and a CRM would.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from crmsync.demo_orgs import show_two_organizations
from crmsync.simulated_nylas import SIMULATOR_API_KEY
from simulator import notifications as sim

REP_ID = "demo-rep"
CONNECTED_REP_ID = "demo-connected-rep"
REP_EMAIL = "rep@demo.example"
CONTACT_EMAIL = "buyer@customer.example"
FOLDER_NAME = "Proposals"
# The rep syncs a label of their own beside the inbox and the sent mail (names, E2).
REP_FOLDERS = f"Inbox; Sent; {FOLDER_NAME}"
WAIT_SECONDS = 15


@dataclass(frozen=True)
class DemoTarget:
    """The crmsync the demo talks to, and the Nylas simulator that crmsync calls.

    ``simulator`` is the base URL of the simulator's API: under ``url`` in the embedded mode
    (``/simulator/nylas``), or a ``crmsync simulator`` process in the Procfile shape.
    """

    url: str
    secret: str
    token: str
    grant: str
    simulator: str
    simulator_key: str = SIMULATOR_API_KEY


def local_simulator(api_uri: str | None) -> str | None:
    """``api_uri`` (crmsync's ``NYLAS_API_URI``) when it is on this machine, else None.

    A simulator is a local process; the demo never sends its control calls, with the
    simulator's key, to the real Nylas.
    """
    if not api_uri:
        return None
    host = urllib.parse.urlsplit(api_uri).hostname or ""
    if host == "localhost":
        return api_uri
    try:
        return api_uri if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


class Unreachable(Exception):
    """Raised when crmsync does not answer at all."""


def run_demo(target: DemoTarget) -> int:
    """Run the demo against ``target``; 0 when every notification was accepted."""
    try:
        _register(target)
        simulated = _fill_mailbox(target)
        filed, refused = _file_in_a_new_folder(target) if simulated else (None, 0)
        failures = refused + _send_notifications(target, filed)
        _show_emails(target, expected=(1 if filed is None else 2) + (3 if simulated else 0))
        if simulated:
            _connect_a_rep(target)
            failures += show_two_organizations(
                lambda method, path, body, token: _call(target, method, path, body, bearer=token),
                lambda method, path, body: _simulator(target, method, path, body),
                lambda label, document: _post_notification(target, label, document),
                grant=target.grant,
                admin=target.token,
            )
    except Unreachable as error:
        print(f"crmsync demo: cannot reach {target.url}: {error}", file=sys.stderr)
        return 1
    return 1 if failures else 0


def _register(target: DemoTarget) -> None:
    rep = {
        "email": REP_EMAIL,
        "grant_id": target.grant,
        "provider": "google",
        "settings": {"folders": REP_FOLDERS},
    }
    status, answer = _call(target, "PUT", f"/v1/reps/{REP_ID}", rep, api=True)
    print(f"{status}  PUT /v1/reps/{REP_ID:<24} account status: {_status_of(answer)}")
    contacts = {"contacts": [{"id": "demo-contact", "emails": [CONTACT_EMAIL]}]}
    status, answer = _call(target, "PUT", f"/v1/reps/{REP_ID}/contacts", contacts, api=True)
    print(f"{status}  PUT /v1/reps/{REP_ID}/contacts      {json.dumps(answer)}")


def _fill_mailbox(target: DemoTarget) -> bool:
    """Create the rep's mailbox in the simulator; False when crmsync uses real Nylas."""
    base = f"/_simulator/grants/{target.grant}"
    mailbox = {"provider": "google", "email": REP_EMAIL}
    status, _ = _simulator(target, "PUT", base, mailbox)
    if status != 200:
        print(
            f"      (no Nylas simulator at {target.simulator}: truncated and v2 samples are "
            "looked up in Nylas)"
        )
        return False
    for message_id in ("demo-truncated", "demo-v2-1", "demo-v2-2"):
        message = sim.message_object(
            target.grant, message_id=message_id, sender=CONTACT_EMAIL, to=(REP_EMAIL,)
        )
        _simulator(target, "PUT", f"{base}/messages/{message_id}", message)
    print(f"200  simulated Nylas mailbox {target.grant!r} with 3 messages ({target.simulator})")
    return True


def _file_in_a_new_folder(target: DemoTarget) -> tuple[dict[str, Any] | None, int]:
    """The rep adds a label and a message lands in it: the simulator delivers the label's
    ``folder.created`` to crmsync (drain), so the folder id resolves to the synced name.
    The message filed there (None when the folder could not be made), and how many of the
    drained notifications crmsync refused."""
    base = f"/_simulator/grants/{target.grant}"
    status, answer = _simulator(target, "POST", f"{base}/folders", {"name": FOLDER_NAME})
    folder = answer.get("data") if status == 201 and isinstance(answer, dict) else None
    if status == 409:  # an earlier demo made it
        folder = _folder_named(target, FOLDER_NAME)
    if not isinstance(folder, dict):
        print(f"{status}  add folder {FOLDER_NAME!r}: {json.dumps(answer)}")
        return None, 0
    done = "added" if status == 201 else "already there"
    print(f"{status}  simulated folder {FOLDER_NAME!r} {done}, id {folder['id']!r}")
    message = sim.message_object(
        target.grant,
        message_id="demo-proposal",
        sender=CONTACT_EMAIL,
        to=(REP_EMAIL,),
        folders=(folder["id"],),
        subject="The proposal, filed under Proposals",
    )
    _simulator(target, "PUT", f"{base}/messages/{message['id']}", message)
    return message, _drain(target)


def _drain(target: DemoTarget) -> int:
    """Have the simulator deliver what it queued (one it only returns is sent from here);
    how many crmsync refused."""
    status, answer = _simulator(target, "POST", "/_simulator/notifications/drain", None)
    answer = answer if status == 200 and isinstance(answer, dict) else {}
    if "deliveries" not in answer:
        notifications = answer.get("data", [])
        label = "{} (from the simulator)"
        return sum(
            not _post_notification(target, label.format(n["type"]), n) for n in notifications
        )
    refused = 0
    for delivery in answer["deliveries"]:
        if delivery["status"] == 200:
            print(f"200  {delivery['type']:<34} delivered by the simulator")
            continue
        refused += 1
        why = f"crmsync answered {delivery['answer']}" if delivery["status"] else delivery["error"]
        print(f"{delivery['status'] or 'ERR'}  {delivery['type']:<34} not delivered: {why}")
        if delivery["status"] == 401:
            print("      (sign with one of crmsync's NYLAS_WEBHOOK_SECRETS: --webhook-secret)")
    return refused


def _folder_named(target: DemoTarget, name: str) -> dict[str, Any] | None:
    path = f"/v3/grants/{target.grant}/folders?limit=200"
    status, answer = _simulator(target, "GET", path, None)
    folders = answer.get("data", []) if status == 200 and isinstance(answer, dict) else []
    return next((f for f in folders if isinstance(f, dict) and f.get("name") == name), None)


def _send_notifications(target: DemoTarget, filed: dict[str, Any] | None) -> int:
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
    if filed is not None:
        in_folder = sim.envelope("message.created", filed, source="/google/emails/realtime")
        samples.append((f"message.created in {FOLDER_NAME!r}", in_folder))
    return sum(not _post_notification(target, label, doc) for label, doc in samples)


def _post_notification(target: DemoTarget, label: str, document: dict[str, Any]) -> bool:
    """Send one notification as Nylas does, signed; whether crmsync accepted it."""
    body = sim.encode(document)
    headers = {"X-Nylas-Signature": sim.sign(body, target.secret)}
    status, answer = _call(target, "POST", "/webhooks/nylas", body, headers=headers)
    print(f"{status}  {label:<34} {json.dumps(answer)}")
    return status == 200


def _connect_a_rep(target: DemoTarget) -> None:
    """Connect a second rep the way a CRM does: hosted OAuth (the simulator's sign-in page
    consents at once), then the backfill of its last 30 days."""
    rep_id, email, grant = CONNECTED_REP_ID, "new-rep@demo.example", f"{target.grant}-new"
    print(f"\nconnecting {rep_id} through hosted OAuth")
    _call(target, "PUT", f"/v1/reps/{rep_id}", {"email": email}, api=True)
    contacts = {"contacts": [{"id": "demo-contact", "emails": [CONTACT_EMAIL]}]}
    _call(target, "PUT", f"/v1/reps/{rep_id}/contacts", contacts, api=True)
    base = f"/_simulator/grants/{grant}"
    _simulator(target, "PUT", base, {"provider": "google", "email": email})
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
        _simulator(target, "PUT", f"{base}/messages/{message['id']}", message)
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


def _simulator(target: DemoTarget, method: str, path: str, body: object) -> tuple[int, Any]:
    """One request to the simulator's API or control routes, with its key."""
    url = target.simulator + path
    return _call(target, method, url, body, bearer=target.simulator_key, absolute=True)


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
