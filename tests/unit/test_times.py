"""Times in crmsync's JSON: RFC 3339, written in UTC with a Z, read from any zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.times import format_time, parse_rfc3339

PARIS_SUMMER = timezone(timedelta(hours=2))
NEW_YORK_WINTER = timezone(timedelta(hours=-5))
INDIA = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(
            datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
            "2026-11-23T10:00:00Z",
            id="a utc time is written with a Z",
        ),
        pytest.param(
            datetime(2026, 10, 1, 2, 0, tzinfo=PARIS_SUMMER),
            "2026-10-01T00:00:00Z",
            id="a time with a positive offset is written in utc",
        ),
        pytest.param(
            datetime(2026, 11, 23, 22, 30, tzinfo=NEW_YORK_WINTER),
            "2026-11-24T03:30:00Z",
            id="a negative offset can move the date to the next day",
        ),
        pytest.param(
            datetime(2026, 11, 23, 10, 0, tzinfo=INDIA),
            "2026-11-23T04:30:00Z",
            id="a half-hour offset is written in utc",
        ),
        pytest.param(
            datetime(2026, 11, 23, 10, 0, 0, 250000, tzinfo=UTC),
            "2026-11-23T10:00:00.250000Z",
            id="a fraction of a second is kept",
        ),
    ],
)
def test_a_time_is_written_in_utc_with_a_z(value: datetime, text: str) -> None:
    assert format_time(value) == text


def test_a_naive_time_is_refused_rather_than_read_in_the_machines_zone() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 11, 23, 10, 0))


UTC_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("2026-11-23T10:00:00Z", UTC_10, id="a time with Z is utc"),
        pytest.param("2026-11-23T10:00:00z", UTC_10, id="a time with a lower-case z is utc"),
        pytest.param("2026-11-23T10:00:00+00:00", UTC_10, id="a zero offset is utc"),
        pytest.param(
            "2026-11-23T12:00:00+02:00", UTC_10, id="a positive offset is converted to utc"
        ),
        pytest.param(
            "2026-11-23T05:00:00-05:00", UTC_10, id="a negative offset is converted to utc"
        ),
        pytest.param(
            "2026-11-23T15:30:00+05:30", UTC_10, id="a half-hour offset is converted to utc"
        ),
        pytest.param(
            "2026-11-24T01:00:00+15:00", UTC_10, id="an offset can move the date back a day"
        ),
        pytest.param(
            "2026-11-23 10:00:00Z", UTC_10, id="a space may separate the date and the time"
        ),
        pytest.param(
            "2026-11-23T10:00:00.250Z",
            UTC_10 + timedelta(milliseconds=250),
            id="a fraction of a second is kept",
        ),
    ],
)
def test_an_rfc3339_time_is_read_in_utc(text: str, value: datetime) -> None:
    parsed = parse_rfc3339(text)

    assert parsed == value
    assert parsed is not None
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-11-23T10:00:00", id="a time without a zone is refused"),
        pytest.param("2026-11-23", id="a date alone is refused"),
        pytest.param("", id="an empty text is refused"),
        pytest.param("Z", id="a zone alone is refused"),
        pytest.param("yesterday", id="words are refused"),
        pytest.param("2026-13-01T00:00:00Z", id="a thirteenth month is refused"),
        pytest.param("2026-11-23T25:00:00Z", id="a twenty-fifth hour is refused"),
        pytest.param("2026-02-30T00:00:00Z", id="the thirtieth of february is refused"),
        pytest.param("2026-11-23T10:00:00+24:00", id="an offset of a whole day is refused"),
        pytest.param("1764000000", id="unix seconds as text are refused"),
    ],
)
def test_text_that_is_not_a_zoned_rfc3339_time_is_refused(text: str) -> None:
    assert parse_rfc3339(text) is None


# Properties --------------------------------------------------------------------------------

offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_times = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30), timezones=offsets
)


@given(aware_times)
def test_a_written_time_reads_back_as_the_same_instant_in_utc(value: datetime) -> None:
    text = format_time(value)
    parsed = parse_rfc3339(text)

    assert text.endswith("Z")
    assert parsed == value
    assert parsed is not None
    assert parsed.tzinfo is UTC
    assert format_time(parsed) == text


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30)))
def test_a_naive_time_never_reads_or_writes(value: datetime) -> None:
    assert parse_rfc3339(value.isoformat()) is None
    with pytest.raises(ValueError, match="naive"):
        format_time(value)


def test_a_time_before_year_one_in_utc_is_not_a_time() -> None:
    """Found by schemathesis: 0001-01-01T00:00:00+00:01 is one minute before year 1 in UTC."""
    assert parse_rfc3339("0001-01-01T00:00:00+00:01") is None
