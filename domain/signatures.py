"""The Nylas webhook signature: lower-case hex HMAC-SHA256 of the exact body bytes.

Computed here once, for the ingress that checks it and the simulator that produces it.
"""

from __future__ import annotations

import hashlib
import hmac


def nylas_signature(body: bytes, secret: bytes) -> str:
    """The ``X-Nylas-Signature`` value Nylas sends for ``body`` signed with ``secret``."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()
