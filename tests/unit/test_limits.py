"""Per-token concurrency limits: counted per key, refused beyond the limit, given back once."""

from __future__ import annotations

import pytest

from api.errors import ApiError
from api.limits import ConcurrencyLimit, RequestLimits


def test_a_key_holds_up_to_its_limit_then_is_refused_with_retry_after() -> None:
    limit = ConcurrencyLimit("long polls", 2, retry_after_seconds=30)
    leases = [limit.acquire("token-1"), limit.acquire("token-1")]

    with pytest.raises(ApiError) as refused:
        limit.acquire("token-1")

    assert refused.value.status == 429
    assert refused.value.reason == "too_many_long_polls"
    assert refused.value.headers == {"Retry-After": "30"}
    assert "2 long polls" in refused.value.message
    assert limit.open_count("token-1") == 2
    assert leases


def test_keys_are_counted_apart() -> None:
    limit = ConcurrencyLimit("streams", 1, retry_after_seconds=60)
    limit.acquire("token-1")

    limit.acquire("token-2")

    assert (limit.open_count("token-1"), limit.open_count("token-2")) == (1, 1)


def test_a_lease_released_twice_gives_its_slot_back_once() -> None:
    limit = ConcurrencyLimit("streams", 2, retry_after_seconds=60)
    first = limit.acquire("token-1")
    limit.acquire("token-1")

    first.release()
    first.release()

    assert limit.open_count("token-1") == 1
    limit.acquire("token-1")
    with pytest.raises(ApiError):
        limit.acquire("token-1")


def test_the_defaults_are_those_the_review_suggested() -> None:
    limits = RequestLimits()

    assert (limits.max_subscriptions, limits.streams.limit, limits.long_polls.limit) == (
        50,
        10,
        10,
    )
    refusal = limits.too_many_subscriptions()
    assert (refusal.status, refusal.reason) == (429, "too_many_subscriptions")
    assert refusal.headers == {"Retry-After": "3600"}
