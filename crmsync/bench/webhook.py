"""The request Nylas makes to crmsync's webhook, as the bench's load generator sends it."""

from __future__ import annotations

from crmsync.bench.load import Request
from simulator.delivery import SignedBody

PATH = "/webhooks/nylas"


def notification_request(signed: SignedBody, *, tag: str | None = None) -> Request:
    """``POST /webhooks/nylas`` with a signed notification body, as Nylas sends it."""
    headers = (("Content-Type", "application/json"), ("X-Nylas-Signature", signed.signature))
    return Request("POST", PATH, signed.body, headers, tag=tag)
