"""Where the real services of the test suite are, and small helpers to wait on them."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

REDIS_URL = os.environ.get("CRMSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get(
    "CRMSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# One token per test process (a session, or each pytest-xdist worker of one): databases and
# Redis key prefixes never collide between processes running side by side.
SESSION_TOKEN = uuid.uuid4().hex[:10]
WEBHOOK_SECRET = "test-webhook-secret-7f3a"
# A key of CRMSYNC_SECRET_KEYS for the tests (Fernet: 32 bytes, URL-safe base64).
SECRET_KEY = "dGVzdHMtc2VhbC1vcmctc2VjcmV0cy13aXRoLXRoaXM="

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``probe`` until it returns a truthy value; fail the test after ``timeout`` seconds.

    A bound on waiting for work to finish, not a measure of speed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what or probe}")
        time.sleep(interval)
