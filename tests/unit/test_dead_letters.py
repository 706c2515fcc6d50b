"""The operators' selection of dead letters, time bounds as typed, and the fresh retry budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dramatiq
import pytest

from crmsync.operator_context import age_text
from domain.dead_letters import LetterFacts, Selection, error_summary, parse_time_bound
from workers.deadletters import DeadLetter, fresh_options, replayable

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        (" 2H ", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(weeks=1)),
        ("0m", NOW),
        ("2026-11-23T10:00:00Z", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        ("2026-11-23T12:00:00+02:00", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
    ],
)
def test_time_bounds_are_rfc3339_or_an_age(text: str, expected: datetime) -> None:
    assert parse_time_bound(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-2h", "2026-11-23T10:00:00", "soon"])
def test_anything_else_is_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_time_bound(text, NOW)


LETTER = LetterFacts(
    queue="notifications.grants",
    actor_name="handle_grants",
    message_id="m-1",
    redis_message_id="r-1",
    dead_lettered_at=NOW - timedelta(hours=1),
    error_text="Traceback ...\nRuntimeError: the CRM database said no",
    org_id="acme",
)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (Selection(), True),
        (Selection(queues=("notifications.grants", "deliveries")), True),
        (Selection(queues=("deliveries",)), False),
        (Selection(actor="handle_grants"), True),
        (Selection(actor="handle_events"), False),
        (Selection(message_id="m-1"), True),
        (Selection(message_id="r-1"), True),
        (Selection(message_id="m-2"), False),
        (Selection(org_id="acme"), True),
        (Selection(org_id="default"), False),
        (Selection(since=NOW - timedelta(hours=2)), True),
        (Selection(since=NOW - timedelta(hours=1)), True),  # bounds are inclusive
        (Selection(since=NOW - timedelta(minutes=30)), False),
        (Selection(until=NOW - timedelta(minutes=30)), True),
        (Selection(until=NOW - timedelta(hours=2)), False),
        (Selection(error="database said"), True),
        (Selection(error="DATABASE SAID"), True),  # case-insensitive
        (Selection(error="timeout"), False),
        (Selection(actor="handle_grants", error="timeout"), False),  # every filter must match
        (Selection(limit=0), True),  # the limit is applied to the list, not to each letter
    ],
)
def test_a_selection_matches_when_every_filter_given_matches(
    selection: Selection, expected: bool
) -> None:
    assert selection.matches(LETTER) is expected


def test_a_letter_without_a_recorded_error_never_matches_an_error_filter() -> None:
    letter = LetterFacts("q", "a", "m", "r", NOW, error_text=None)
    assert Selection(error="x").matches(letter) is False
    assert Selection().matches(letter) is True


def test_a_letter_of_no_known_organization_matches_no_organization() -> None:
    letter = LetterFacts("q", "a", "m", "r", NOW, error_text=None, org_id=None)
    assert Selection(org_id="default").matches(letter) is False
    assert Selection().matches(letter) is True


def test_a_selection_is_recorded_as_json_ready_values() -> None:
    selection = Selection(queues=("deliveries",), since=NOW, error="boom", limit=5)
    assert selection.as_document() == {
        "queues": ["deliveries"],
        "actor": None,
        "message_id": None,
        "org_id": None,
        "since": "2026-11-24T12:00:00Z",
        "until": None,
        "error": "boom",
        "limit": 5,
    }


@pytest.mark.parametrize(
    ("traceback", "summary"),
    [
        (None, None),
        ("", None),
        ("Traceback (most recent call last):\n  File x\nKeyError: 'y'\n\n", "KeyError: 'y'"),
    ],
)
def test_the_error_is_the_last_line_of_the_traceback(
    traceback: str | None, summary: str | None
) -> None:
    assert error_summary(traceback) == summary


def test_a_replay_keeps_the_message_and_resets_its_retry_budget() -> None:
    original = dramatiq.Message(
        queue_name="notifications.grants",
        actor_name="handle_grants",
        args=(1,),
        kwargs={"payload": {"id": "n-1"}},
        options={
            "redis_message_id": "r-old",
            "retries": 3,
            "traceback": "Traceback ...",
            "requeue_timestamp": 1,
            "max_retries": 5,
        },
        message_id="m-1",
        message_timestamp=1_700_000_000_000,
    )
    letter = DeadLetter("notifications.grants", "r-old", NOW, original)

    again = replayable(letter)

    assert (again.message_id, again.actor_name, again.queue_name) == (
        "m-1",
        "handle_grants",
        "notifications.grants",
    )
    assert (again.args, again.kwargs, again.message_timestamp) == (
        (1,),
        {"payload": {"id": "n-1"}},
        1_700_000_000_000,
    )
    assert again.options["redis_message_id"] != "r-old"
    assert {k: v for k, v in again.options.items() if k != "redis_message_id"} == {"max_retries": 5}
    assert fresh_options({"eta": 5, "retries": 1, "x": 2}) == {"x": 2}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (-3, "0s"), (59.9, "59s"), (61, "1m 1s"), (3_700, "1h 1m"), (90_000, "1d 1h")],
)
def test_ages_read_at_a_glance(seconds: float | None, text: str) -> None:
    assert age_text(seconds) == text
