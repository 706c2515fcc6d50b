"""``crmsync demo``'s second part: two organizations side by side, each with its own token.

Two CRM customers get a rep of the same id, a contact of the same address and a message each;
each organization's token then reads only its own: its emails, its feed, and a 404 for the
other's email, as if it did not exist. It needs the simulator (the reps' grants live there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from simulator import notifications as sim

ORGS = ("demo-acme", "demo-globex")
REP_ID = "rep-1"  # the same in both: each organization's ids are its own
CONTACT = "buyer@customer.example"
WAIT_SECONDS = 15

# (method, path, body, bearer token) -> (status, answer)
Call = Callable[[str, str, object, str | None], tuple[int, Any]]


def show_two_organizations(
    call: Call,
    simulate: Callable[[str, str, object], Any],
    post: Callable[[str, dict[str, Any]], bool],
    *,
    grant: str,
    admin: str,
) -> int:
    """Run the two organizations' part; how many notifications were refused."""
    print("\ntwo organizations side by side")
    tokens: dict[str, str] = {}
    for org_id in ORGS:
        status, _ = call("PUT", f"/v1/orgs/{org_id}", {"name": org_id.title()}, admin)
        made, answer = call("POST", f"/v1/orgs/{org_id}/tokens", {"name": "demo CRM"}, admin)
        tokens[org_id] = answer.get("token", "") if isinstance(answer, dict) else ""
        print(f"{status}  PUT /v1/orgs/{org_id:<18} {made}  a token of its own (cso_...)")
    refused = 0
    for org_id in ORGS:
        org_grant = f"{grant}-{org_id}"
        email = f"rep@{org_id}.example"
        simulate("PUT", f"/_simulator/grants/{org_grant}", {"provider": "google", "email": email})
        rep = {"email": email, "grant_id": org_grant, "provider": "google"}
        status, _ = call("PUT", f"/v1/reps/{REP_ID}", rep, tokens[org_id])
        contacts = {"contacts": [{"id": "c-1", "emails": [CONTACT]}]}
        call("PUT", f"/v1/reps/{REP_ID}/contacts", contacts, tokens[org_id])
        print(f"{status}  {org_id}: PUT /v1/reps/{REP_ID} (its token), contact {CONTACT}")
        message = sim.message_created(
            org_grant,
            message_id="demo-same-id",  # the same Nylas message id in both mailboxes
            sender=CONTACT,
            to=(email,),
            subject=f"A quote for {org_id}",
        )
        refused += not post(f"{org_id}: its message.created", message)
    emails = {org_id: _emails(call, tokens[org_id]) for org_id in ORGS}
    for org_id, found in emails.items():
        subjects = [e["subject"] for e in found]
        print(f"200  {org_id}: GET /v1/emails?rep_id={REP_ID} (its token) -> {subjects}")
    acme, globex = ORGS
    if emails[globex]:
        other = emails[globex][0]["id"]
        status, _ = call("GET", f"/v1/emails/{other}", None, tokens[acme])
        print(f"{status}  {acme}'s token on {globex}'s email {other}: not found, as if absent")
    for org_id in ORGS:
        _, feed = call("GET", "/v1/changes", None, tokens[org_id])
        changes = feed.get("data", []) if isinstance(feed, dict) else []
        print(f"200  {org_id}: GET /v1/changes -> {len(changes)} changes, all its own")
    return refused


def _emails(call: Call, token: str) -> list[dict[str, Any]]:
    """The organization's rep's emails, once the workers stored them."""
    deadline = time.monotonic() + WAIT_SECONDS
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, answer = call("GET", f"/v1/emails?rep_id={REP_ID}", None, token)
        found = answer.get("data", []) if status == 200 and isinstance(answer, dict) else []
        if found:
            break
        time.sleep(0.25)
    return found
