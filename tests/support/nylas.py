"""Posting signed notifications to the ingress, as Nylas would."""

from __future__ import annotations

from typing import Any

from simulator import notifications as sim
from tests.support.services import WEBHOOK_SECRET


def signed(document: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a signed notification request for ``document``."""
    body = sim.encode(document)
    return body, {"Content-Type": "application/json", "X-Nylas-Signature": sim.sign(body, secret)}
