"""One dead-letter replay at a time (O1), across every machine that shares the Redis.

Two operators replaying overlapping selections would not corrupt anything (each move is
atomic), but they would interleave, double the load on a recovering system, and make both
progress bars and audit records misleading. The lock is ``SET NX EX`` with a random token; only
the holder's token releases or extends it, and it expires on its own if the holder dies.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

import redis

# Compare-and-act: release or extend only a lock that is still ours.
_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("expire", KEYS[1], ARGV[2]) end
return 0
"""


class ReplayInProgress(Exception):
    """Raised when another replay holds the lock."""

    def __init__(self, holder: str, expires_in_seconds: int) -> None:
        super().__init__(
            f"another dead-letter replay is running ({holder}); "
            f"its lock expires in {expires_in_seconds} s if it stopped without releasing it"
        )
        self.holder = holder
        self.expires_in_seconds = expires_in_seconds


class ReplayLock:
    """``with ReplayLock(client, namespace, holder):`` around a replay; :meth:`extend` while
    it runs long."""

    def __init__(
        self, client: redis.Redis, namespace: str, holder: str, ttl_seconds: int = 300
    ) -> None:
        self.key = replay_lock_key(namespace)
        self.ttl_seconds = ttl_seconds
        self._client = client
        self._token = f"{holder} {uuid.uuid4()}"
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    def __enter__(self) -> ReplayLock:
        if not self._client.set(self.key, self._token, nx=True, ex=self.ttl_seconds):
            value: Any = self._client.get(self.key)
            holder = value.decode().rsplit(" ", 1)[0] if value else "unknown"
            raise ReplayInProgress(holder, max(int(self._client.ttl(self.key)), 0))
        return self

    def extend(self) -> None:
        """Give the holder another ``ttl_seconds`` from now."""
        self._extend(keys=[self.key], args=[self._token, self.ttl_seconds])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release(keys=[self.key], args=[self._token])


def replay_lock_key(namespace: str) -> str:
    """The Redis key of the replay lock."""
    return f"{namespace}:dlq:replay-lock"
