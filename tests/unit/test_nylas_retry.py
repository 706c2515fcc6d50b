"""The gateway's pure retry decisions: Retry-After parsing, backoff, what is worth retrying."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import requests
from nylas.models.errors import (
    NylasApiError,
    NylasApiErrorResponse,
    NylasApiErrorResponseData,
    NylasSdkTimeoutError,
)
from requests.structures import CaseInsensitiveDict

from workers.nylas_client import normalise_attributes
from workers.nylas_failures import (
    RetryPolicy,
    backoff_seconds,
    is_transient,
    outcome_of,
    parse_retry_after,
    retry_after_of,
    wait_seconds,
)

NOW = 1_790_000_000.0


def api_error(status: int, headers: dict[str, str] | None = None) -> NylasApiError:
    body = NylasApiErrorResponse("req-1", NylasApiErrorResponseData(type="some_error", message="m"))
    return NylasApiError(body, status_code=status, headers=CaseInsensitiveDict(headers or {}))


def http_date(timestamp: float) -> str:
    return format_datetime(datetime.fromtimestamp(timestamp, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (http_date(NOW + 90), 90.0),
        (http_date(NOW - 90), 0.0),  # a date in the past: go now
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_is_read_only_from_a_429_case_insensitively() -> None:
    assert retry_after_of(api_error(429, {"retry-after": "4"}), now=NOW) == 4.0
    assert retry_after_of(api_error(503, {"Retry-After": "4"}), now=NOW) is None
    assert retry_after_of(api_error(429), now=NOW) is None
    assert retry_after_of(ValueError("x"), now=NOW) is None


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (9, 8.0)])
def test_backoff_doubles_up_to_its_cap(attempt: int, seconds: float) -> None:
    policy = RetryPolicy(backoff_initial_seconds=0.5, backoff_max_seconds=8.0, jitter=0.0)

    assert backoff_seconds(attempt, policy, draw=0.99) == seconds


@pytest.mark.parametrize(
    ("jitter", "draw", "seconds"), [(0.5, 0.0, 4.0), (0.5, 0.5, 3.0), (1.0, 0.75, 1.0)]
)
def test_jitter_takes_a_random_share_off_the_backoff(
    jitter: float, draw: float, seconds: float
) -> None:
    policy = RetryPolicy(backoff_initial_seconds=1.0, jitter=jitter)

    assert backoff_seconds(3, policy, draw=draw) == seconds


def test_wait_is_the_retry_after_when_there_is_one_else_backoff() -> None:
    policy = RetryPolicy(jitter=0.0)

    assert wait_seconds(api_error(429, {"Retry-After": "7"}), 3, policy, draw=0.3, now=NOW) == 7.0
    assert wait_seconds(api_error(429), 3, policy, draw=0.3, now=NOW) == 2.0
    assert wait_seconds(api_error(502), 1, policy, draw=0.3, now=NOW) == 0.5
    assert wait_seconds(None, 2, policy, draw=0.3, now=NOW) == 1.0


@pytest.mark.parametrize(
    ("error", "transient", "outcome"),
    [
        (api_error(429), True, "429"),
        (api_error(500), True, "500"),
        (api_error(503), True, "503"),
        (api_error(400), False, "400"),
        (api_error(401), False, "401"),
        (api_error(404), False, "404"),
        (NylasSdkTimeoutError(url="http://x", timeout=1), True, "timeout"),
        (requests.exceptions.ConnectionError("refused"), True, "connection_error"),
        (requests.exceptions.ReadTimeout("slow"), True, "timeout"),
        (requests.exceptions.JSONDecodeError("Expecting value", "<html>", 0), True, "invalid_body"),
        (requests.exceptions.MissingSchema("no scheme"), False, "request_error"),
        (KeyError("grant_id"), False, "malformed_response"),
    ],
)
def test_what_is_retried_and_how_it_is_counted(
    error: BaseException, transient: bool, outcome: str
) -> None:
    assert is_transient(error) is transient
    assert outcome_of(error) == outcome


@pytest.mark.parametrize(
    ("value", "attributes"),
    [
        ("['\\\\Sent']", ["\\Sent"]),  # what SDK 6.18 hands back (NYLAS.md 6.7)
        ("['\\\\HasChildren', '\\\\Junk']", ["\\HasChildren", "\\Junk"]),
        ("[]", []),
        (["\\Inbox"], ["\\Inbox"]),
        ("\\Sent", ["\\Sent"]),  # a lone flag that is not a literal
        ("__import__('os')", ["__import__('os')"]),  # never evaluated
        (None, []),
        ("", []),
    ],
)
def test_folder_attributes_become_a_list(value: object, attributes: list[str]) -> None:
    assert normalise_attributes(value) == attributes


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"backoff_initial_seconds": -1}, "negative"),
    ],
)
def test_a_policy_refuses_nonsense(arguments: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        RetryPolicy(**arguments)  # type: ignore[arg-type]
