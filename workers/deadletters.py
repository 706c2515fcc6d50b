"""Dead letters in Dramatiq's Redis layout: read them, put them back on their queue, delete them.

Dramatiq's RedisBroker (``dispatch.lua``, command ``nack``) keeps a queue's dead letters in a
sorted set ``<ns>:<queue>.XQ`` of Redis message ids scored by the time (ms) they were
dead-lettered, with the bodies in the hash ``<ns>:<queue>.XQ.msgs``. A body is the message as it
was last enqueued: its Retries options (``retries``, ``traceback``) are those of the attempt
*before* the last one, so the error shown is the previous attempt's (the same failure, in
practice); a message that failed on its only attempt carries no traceback.

A replay writes the message back exactly as ``enqueue.lua`` and Dramatiq's ``enqueue`` do (HSET
the body into ``<queue>.msgs``, RPUSH its id onto ``<queue>``) and removes it from the dead
letters in the same Lua script, so a letter is never both queued and dead, nor lost between.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import dramatiq
import redis

from domain.dead_letters import LetterFacts, Selection, error_summary

_REPLAY_SCRIPT = files("workers").joinpath("replay.lua").read_text()
_CHUNK = 500

# Options the Retries middleware and the broker write while a message fails and waits: a
# replayed message starts without them, so it has its whole retry budget again.
_SPENT_OPTIONS = frozenset({"retries", "traceback", "requeue_timestamp", "eta", "redis_message_id"})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-lettered message, decoded, with where and when it was dead-lettered."""

    queue: str
    redis_message_id: str
    dead_lettered_at: datetime
    message: dramatiq.Message[Any]
    # Whose work it was, once looked up (``workers.letter_orgs``); None when no organization
    # is known to own it.
    org_id: str | None = None

    @property
    def traceback(self) -> str | None:
        value = self.message.options.get("traceback")
        return value if isinstance(value, str) else None

    @property
    def error(self) -> str | None:
        """The exception line of the stored traceback, if any."""
        return error_summary(self.traceback)

    @property
    def retries(self) -> int:
        return int(self.message.options.get("retries", 0))

    @property
    def enqueued_at(self) -> datetime:
        """When the message was first enqueued (Dramatiq's ``message_timestamp``)."""
        return datetime.fromtimestamp(self.message.message_timestamp / 1000, UTC)

    def facts(self) -> LetterFacts:
        return LetterFacts(
            queue=self.queue,
            actor_name=self.message.actor_name,
            message_id=self.message.message_id,
            redis_message_id=self.redis_message_id,
            dead_lettered_at=self.dead_lettered_at,
            error_text=self.traceback,
            org_id=self.org_id,
        )


def dead_letter_key(namespace: str, queue: str) -> str:
    """The sorted set of a queue's dead-letter ids (Dramatiq's ``<queue>.XQ``)."""
    return f"{namespace}:{queue}.XQ"


OrgsOf = Callable[[Sequence["DeadLetter"]], Sequence[str | None]]
"""The organization of each letter, in order (``workers.letter_orgs``, given a database)."""


def read_dead_letters(
    client: redis.Redis,
    namespace: str,
    queues: Iterable[str],
    selection: Selection,
    orgs_of: OrgsOf | None = None,
) -> list[DeadLetter]:
    """The dead letters of ``queues`` that ``selection`` means, oldest dead-lettered first,
    each with its organization when ``orgs_of`` is given (which selecting by one needs).

    The time bounds are applied in Redis (the sorted set's scores); the other filters on the
    decoded bodies, the organization's on the letters the rest selected. ``selection.limit``
    keeps the oldest ones.
    """
    if orgs_of is not None:
        candidates = read_dead_letters(
            client, namespace, queues, replace(selection, org_id=None, limit=None)
        )
        owned = [
            replace(letter, org_id=org_id)
            for letter, org_id in zip(candidates, orgs_of(candidates), strict=True)
        ]
        chosen = [letter for letter in owned if selection.matches(letter.facts())]
        return chosen if selection.limit is None else chosen[: selection.limit]
    if selection.org_id is not None:
        raise ValueError("selecting dead letters by organization needs orgs_of")
    low = "-inf" if selection.since is None else int(selection.since.timestamp() * 1000)
    high = "+inf" if selection.until is None else int(selection.until.timestamp() * 1000)
    found: list[DeadLetter] = []
    for queue in queues:
        if selection.queues and queue not in selection.queues:
            continue
        key = dead_letter_key(namespace, queue)
        scored: list[Any] = client.zrangebyscore(key, low, high, withscores=True)
        for letter in _decoded(client, key + ".msgs", queue, scored):
            if selection.matches(letter.facts()):
                found.append(letter)
    found.sort(key=lambda letter: (letter.dead_lettered_at, letter.redis_message_id))
    return found if selection.limit is None else found[: selection.limit]


def replayable(letter: DeadLetter) -> dramatiq.Message[Any]:
    """The original message (same id, actor, arguments, first-enqueued time) with a fresh
    retry budget and a new Redis id, bound for the letter's own queue."""
    options = fresh_options(letter.message.options)
    redis_message_id = str(uuid.uuid4())
    options["redis_message_id"] = redis_message_id
    original = letter.message
    return dramatiq.Message(
        queue_name=letter.queue,
        actor_name=original.actor_name,
        args=original.args,
        kwargs=original.kwargs,
        options=options,
        message_id=original.message_id,
        message_timestamp=original.message_timestamp,
    )


def fresh_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without what failing spent: retry count, traceback, eta, Redis id."""
    return {key: value for key, value in options.items() if key not in _SPENT_OPTIONS}


class DeadLetterStore:
    """Moves dead letters of one namespace: back onto their queue, or away for good."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._client = client
        self._namespace = namespace
        self._replay = client.register_script(_REPLAY_SCRIPT)

    def replay(self, letter: DeadLetter) -> bool:
        """Queue ``letter`` again with a fresh budget; False if it was no longer dead-lettered
        (replayed or purged meanwhile, or expired)."""
        message = replayable(letter)
        dead = dead_letter_key(self._namespace, letter.queue)
        queue = f"{self._namespace}:{letter.queue}"
        moved = self._replay(
            keys=[dead, dead + ".msgs", queue, queue + ".msgs"],
            args=[letter.redis_message_id, message.options["redis_message_id"], message.encode()],
        )
        return bool(moved)

    def purge(self, letter: DeadLetter) -> bool:
        """Delete ``letter``; False if it was already gone."""
        dead = dead_letter_key(self._namespace, letter.queue)
        with self._client.pipeline(transaction=True) as pipeline:
            pipeline.zrem(dead, letter.redis_message_id)
            pipeline.hdel(dead + ".msgs", letter.redis_message_id)
            removed, _ = pipeline.execute()
        return bool(removed)


def _decoded(
    client: redis.Redis, bodies_key: str, queue: str, scored: Sequence[tuple[bytes, float]]
) -> Iterable[DeadLetter]:
    for start in range(0, len(scored), _CHUNK):
        chunk = scored[start : start + _CHUNK]
        bodies: list[Any] = client.hmget(bodies_key, [member for member, _ in chunk])
        for (member, score), body in zip(chunk, bodies, strict=True):
            if body is None:  # expired between the two reads
                continue
            yield DeadLetter(
                queue=queue,
                redis_message_id=member.decode(),
                dead_lettered_at=datetime.fromtimestamp(score / 1000, UTC),
                message=dramatiq.Message.decode(body),
            )
