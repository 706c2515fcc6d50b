"""How Nylas delivers notifications: at least once, in any order, each body signed.

:func:`deliveries` turns a stream of new messages into the stream of requests Nylas would
make (NYLAS.md 1.9): some notifications are delivered again later (a retry keeps the id and
counts ``webhook_delivery_attempt``), some overtake others. Pure and seeded, like
:mod:`simulator.traffic`.

:class:`StampedBody` serves a load generator that needs thousands of distinct, realistic
notifications per second: it encodes one notification once and issues it again under fresh
ids, signing each copy from a precomputed HMAC state, so that generating the load costs
microseconds instead of re-encoding kilobytes of JSON per request.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from simulator import notifications as sim
from simulator.traffic import SimMessage

PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One request Nylas makes: a message's notification, on its ``attempt``-th delivery."""

    message: SimMessage
    attempt: int

    @property
    def duplicate(self) -> bool:
        return self.attempt > 1

    def document(self) -> dict[str, Any]:
        return self.message.delivered(self.attempt)


def deliveries(
    messages: Iterable[SimMessage],
    *,
    duplicate_rate: float = 0.0,
    reorder_rate: float = 0.0,
    window: int = 16,
    seed: int = 0,
) -> Iterator[Delivery]:
    """Each message's notification once, plus retries, with some of them held back.

    A notification is held back with probability ``reorder_rate`` and delivered again with
    probability ``duplicate_rate``; held and repeated deliveries come 1 to ``window``
    deliveries later. Every message is delivered at least once; with both rates 0 the
    stream is the messages in order.
    """
    if not (0.0 <= duplicate_rate <= 1.0 and 0.0 <= reorder_rate <= 1.0) or window < 1:
        raise ValueError("rates are probabilities from 0 to 1 and the window is at least 1")
    rng = random.Random(seed)
    held: list[tuple[int, int, Delivery]] = []  # (due position, tie-break, delivery)
    order = itertools.count()
    position = 0
    for message in messages:
        first = Delivery(message, 1)
        if rng.random() < reorder_rate:
            heapq.heappush(held, (position + rng.randint(1, window), next(order), first))
        else:
            yield first
            position += 1
        if rng.random() < duplicate_rate:
            retry = Delivery(message, 2)
            heapq.heappush(held, (position + rng.randint(1, window), next(order), retry))
        while held and held[0][0] <= position:
            yield heapq.heappop(held)[2]
            position += 1
    while held:
        yield heapq.heappop(held)[2]


@dataclass(frozen=True, slots=True)
class SignedBody:
    """A request body and its ``X-Nylas-Signature``."""

    body: bytes
    signature: str


def signed_body(document: Mapping[str, Any], secret: str) -> SignedBody:
    """``document`` encoded as Nylas sends it, and signed with ``secret``."""
    body = sim.encode(dict(document))
    return SignedBody(body, sim.sign(body, secret))


class StampedBody:
    """One encoded notification, issued again under any notification id, already signed.

    ``stamp(i)`` is byte for byte ``signed_body({**document, "id": i}, secret)`` for an id
    that needs no JSON escaping; only the id's bytes and the hash of the rest are new work.
    """

    def __init__(self, document: Mapping[str, Any], secret: str) -> None:
        encoded = sim.encode({**document, "id": PLACEHOLDER_ID})
        placeholder = PLACEHOLDER_ID.encode()
        if encoded.count(placeholder) != 1:
            raise ValueError("the notification must hold the placeholder id exactly once")
        self._head, _, self._tail = encoded.partition(placeholder)
        self._mac = hmac.new(secret.encode(), self._head, hashlib.sha256)

    def stamp(self, notification_id: str) -> SignedBody:
        """The body under ``notification_id`` (letters, digits, ``-`` and ``_`` only)."""
        if not (
            notification_id.isascii()
            and notification_id.replace("-", "").replace("_", "").isalnum()
        ):
            raise ValueError(f"notification id {notification_id!r} would need JSON escaping")
        raw_id = notification_id.encode()
        mac = self._mac.copy()
        mac.update(raw_id)
        mac.update(self._tail)
        return SignedBody(self._head + raw_id + self._tail, mac.hexdigest())
