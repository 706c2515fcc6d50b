"""Widening a running transaction's 32-bit id (as ``pg_locks`` shows it) to the 64-bit
ids the feed's positions are made of (``storage.feed_positions.full_xid``)."""

from __future__ import annotations

import pytest

from storage.feed_positions import full_xid


@pytest.mark.parametrize(
    ("xid32", "next_full", "full"),
    [
        (100, 105, 105 - 5),  # the same epoch
        (5, (1 << 32) + 10, (1 << 32) + 5),
        (2**32 - 3, (1 << 32) + 10, 2**32 - 3),  # from before the 32 bits wrapped
        (2**32 - 3, (3 << 32) + 2, (2 << 32) + 2**32 - 3),
        # Took its id after the snapshot that gave the next one: a little above it.
        (110, 105, 110),
        (3, (2 << 32) - 2, (2 << 32) + 3),
    ],
)
def test_a_running_transactions_32_bit_id_is_widened_to_the_nearest_64_bit_id(
    xid32: int, next_full: int, full: int
) -> None:
    assert full_xid(xid32, next_full) == full
