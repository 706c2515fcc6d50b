"""How a Redis outage is logged (workers.redis_outages): a warning when it starts and when it
ends, Dramatiq's connection lines at most once per interval, critical only when it is long."""

from __future__ import annotations

import logging

import pytest

from workers.redis_outages import DramatiqConnectionLines, RedisOutage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def consumer_line() -> logging.LogRecord:
    return logging.LogRecord(
        "dramatiq.worker.ConsumerThread(notifications.messages)",
        logging.CRITICAL,
        __file__,
        1,
        "Consumer encountered a connection error: %s",
        ("Error 111 connecting to 127.0.0.1:6379. Connection refused.",),
        None,
    )


def levels(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records]


def test_a_short_outage_is_two_warnings(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = RedisOutage(critical_after=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="workers.redis_outages"):
        for _ in range(10):
            outage.failed("connection refused")
            clock.now += 0.5
        outage.succeeded()
        outage.succeeded()

    assert levels(caplog) == [
        ("WARNING", "Redis unreachable"),
        ("WARNING", "Redis reachable again after 5.0 s"),
    ]
    assert outage.lasted() is None


def test_a_long_outage_is_critical_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = RedisOutage(critical_after=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="workers.redis_outages"):
        for _ in range(30):
            outage.failed("connection refused")
            clock.now += 5
        outage.succeeded()

    assert [level for level, _ in levels(caplog)] == ["WARNING", "CRITICAL", "WARNING"]
    assert "after 150.0 s" in caplog.records[-1].getMessage()


def test_dramatiqs_connection_lines_pass_once_per_interval_as_warnings() -> None:
    clock = Clock()
    outage = RedisOutage(critical_after=60, clock=clock)
    lines = DramatiqConnectionLines(outage, repeat_every=30, clock=clock)

    passed = []
    for _ in range(40):  # four consumers, ten seconds
        for _ in range(4):
            record = consumer_line()
            if lines.filter(record):
                passed.append(record.levelname)
        clock.now += 1

    assert passed == ["WARNING", "WARNING"]  # at 0 s and 30 s
    assert outage.lasted() == pytest.approx(40)


def test_dramatiqs_connection_lines_are_critical_once_the_outage_is_long() -> None:
    clock = Clock()
    outage = RedisOutage(critical_after=60, clock=clock)
    lines = DramatiqConnectionLines(outage, repeat_every=30, clock=clock)

    passed = []
    for _ in range(100):
        record = consumer_line()
        if lines.filter(record):
            passed.append(record.levelname)
        clock.now += 1

    assert passed == ["WARNING", "WARNING", "CRITICAL", "CRITICAL"]


def test_other_lines_pass_untouched() -> None:
    lines = DramatiqConnectionLines(RedisOutage(clock=Clock()), clock=Clock())
    ours = logging.LogRecord("crmsync", logging.CRITICAL, __file__, 1, "disk full", (), None)
    unexpected = logging.LogRecord(
        "dramatiq.worker.ConsumerThread(x)",
        logging.CRITICAL,
        __file__,
        1,
        "Consumer encountered an unexpected error.",
        (),
        None,
    )

    assert lines.filter(ours)
    assert lines.filter(unexpected)
    assert (ours.levelname, unexpected.levelname) == ("CRITICAL", "CRITICAL")


def test_consumers_restarting_during_an_outage_say_nothing_more() -> None:
    clock = Clock()
    outage = RedisOutage(clock=clock)
    lines = DramatiqConnectionLines(outage, clock=clock)

    def restart() -> logging.LogRecord:
        return logging.LogRecord(
            "dramatiq.worker.ConsumerThread(sends)",
            logging.INFO,
            __file__,
            1,
            "Restarting consumer in %0.2f seconds.",
            (3.0,),
            None,
        )

    assert lines.filter(restart())  # after an unexpected error, not an outage: kept
    lines.filter(consumer_line())
    assert not lines.filter(restart())
    outage.succeeded()
    assert lines.filter(restart())
