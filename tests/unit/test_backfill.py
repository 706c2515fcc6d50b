"""Backfill windows and address groups (A2, E11)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.backfill import (
    MAX_ANY_EMAIL,
    BackfillKind,
    Progress,
    address_groups,
    window_at,
    window_count,
    window_size,
)

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_mailbox_is_read_a_day_at_a_time_newest_first() -> None:
    since = UNTIL - timedelta(days=30)
    size = window_size(BackfillKind.MAILBOX, since, UNTIL)

    assert window_count(since, UNTIL, size) == 30
    assert window_at(0, since, UNTIL, size).end == UNTIL
    assert window_at(29, since, UNTIL, size).start == since


def test_a_partial_last_day_is_cut_at_sync_from() -> None:
    since = UNTIL - timedelta(days=2, hours=6)

    assert window_count(since, UNTIL, DAY) == 3
    assert window_at(2, since, UNTIL, DAY).start == since


def test_a_contact_backfill_is_one_window() -> None:
    since = UNTIL - timedelta(days=30)
    size = window_size(BackfillKind.CONTACT, since, UNTIL)

    assert window_count(since, UNTIL, size) == 1
    assert window_at(0, since, UNTIL, size) == window_at(0, since, UNTIL, size)
    assert window_at(0, since, UNTIL, size).start == since


@given(
    st.integers(min_value=1, max_value=90 * 24 * 3600),
    st.integers(min_value=3600, max_value=5 * 24 * 3600),
)
def test_windows_tile_the_period_without_gap_or_overlap(span_s: int, size_s: int) -> None:
    since = UNTIL - timedelta(seconds=span_s)
    size = timedelta(seconds=size_s)
    windows = [window_at(i, since, UNTIL, size) for i in range(window_count(since, UNTIL, size))]

    assert windows[0].end == UNTIL
    assert windows[-1].start == since
    for newer, older in itertools.pairwise(windows):
        assert older.end == newer.start


def test_the_nylas_bounds_are_strict_so_a_boundary_message_is_included() -> None:
    window = window_at(0, UNTIL - DAY, UNTIL, DAY)

    assert window.received_after == int((UNTIL - DAY).timestamp()) - 1
    assert window.received_before == int(UNTIL.timestamp())


def test_addresses_are_grouped_by_what_one_request_accepts() -> None:
    addresses = [f"Person{i}@Example.com " for i in range(60)] + ["person0@example.com"]

    groups = address_groups(addresses)

    assert [len(g) for g in groups] == [MAX_ANY_EMAIL, MAX_ANY_EMAIL, 10]
    assert groups[0][0] == "person0@example.com"
    assert sum(len(g) for g in groups) == 60


def test_progress_counts_windows() -> None:
    progress = Progress(windows_total=30, windows_done=12, pages_done=15, scanned=900, stored=40)

    assert (progress.windows_left, progress.percent) == (18, 40.0)


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=3 * 24 * 3600),
)
def test_every_whole_second_is_read_by_exactly_one_window(micros: int, offset_s: int) -> None:
    """A message dated on a window boundary must be read once, not by both neighbours."""
    until = UNTIL + timedelta(microseconds=micros)
    since = until - timedelta(days=3)
    windows = [window_at(i, since, until, DAY) for i in range(window_count(since, until, DAY))]
    date = int(since.timestamp()) + 1 + offset_s
    if date >= until.timestamp():
        return

    readers = [w for w in windows if w.received_after < date < w.received_before]

    assert len(readers) == 1
