"""The pure rules of outbound webhooks: signing (checked against the standardwebhooks package),
verdicts, the retry schedule, disabling, secrets in use, and subscription documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from domain.errors import DomainError
from domain.outbound_webhooks import (
    RETRY_SCHEDULE,
    Verdict,
    matches_types,
    next_retry,
    parse_subscription,
    secret_from,
    secrets_in_use,
    should_disable,
    sign,
    signature_header,
    verdict_of,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@given(
    key=st.binary(min_size=1, max_size=64),
    message_id=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
    body=st.text(),
)
def test_our_signature_is_the_one_the_reference_library_makes(
    key: bytes, message_id: str, body: str
) -> None:
    secret = secret_from(key)
    timestamp = int(NOW.timestamp())

    ours = sign(secret, message_id, timestamp, body.encode())

    assert ours == Webhook(secret).sign(message_id, NOW, body)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = secret_from(b"o" * 24), secret_from(b"n" * 24)
    header = signature_header((new, old), "chg_1", int(NOW.timestamp()), b"{}")

    assert len(header.split(" ")) == 2
    assert header.split(" ")[1] == sign(old, "chg_1", int(NOW.timestamp()), b"{}")


@pytest.mark.parametrize(
    ("previous", "until", "expected"),
    [
        pytest.param(None, None, ("cur",), id="no rotation signs with the current secret"),
        pytest.param(
            "old", NOW + timedelta(hours=1), ("cur", "old"), id="the overlap adds the old"
        ),
        pytest.param("old", NOW, ("cur",), id="the overlap ends at its time"),
        pytest.param("old", NOW - timedelta(seconds=1), ("cur",), id="a past overlap is over"),
    ],
)
def test_secrets_in_use(
    previous: str | None, until: datetime | None, expected: tuple[str, ...]
) -> None:
    assert secrets_in_use("cur", previous, until, NOW) == expected


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (299, Verdict.DELIVERED),
        (None, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (301, Verdict.REJECTED),
        (400, Verdict.REJECTED),
        (401, Verdict.REJECTED),
        (404, Verdict.REJECTED),
        (410, Verdict.REJECTED),
        (422, Verdict.REJECTED),
    ],
)
def test_what_an_answer_means(status: int | None, verdict: Verdict) -> None:
    assert verdict_of(status) is verdict


@pytest.mark.parametrize(
    ("attempts", "retry_after", "wait"),
    [
        pytest.param(1, None, timedelta(seconds=5), id="the first retry comes after 5 s"),
        pytest.param(2, None, timedelta(minutes=5), id="then 5 min"),
        pytest.param(7, None, timedelta(hours=10), id="the last wait is 10 h"),
        pytest.param(8, None, None, id="after the eighth attempt none is left"),
        pytest.param(1, timedelta(minutes=1), timedelta(minutes=1), id="a longer retry-after wins"),
        pytest.param(3, timedelta(seconds=1), timedelta(minutes=30), id="a shorter one does not"),
        pytest.param(1, timedelta(days=3), timedelta(days=1), id="retry-after is capped at a day"),
    ],
)
def test_the_retry_schedule(
    attempts: int, retry_after: timedelta | None, wait: timedelta | None
) -> None:
    assert next_retry(attempts, retry_after) == wait
    assert len(RETRY_SCHEDULE) == 7


@pytest.mark.parametrize(
    ("failing_for", "disabled"),
    [(None, False), (timedelta(days=4, hours=23), False), (timedelta(days=5), True)],
)
def test_an_endpoint_is_disabled_after_failing_for_the_limit(
    failing_for: timedelta | None, disabled: bool
) -> None:
    since = NOW - failing_for if failing_for is not None else None
    assert should_disable(since, NOW, timedelta(days=5)) is disabled


@pytest.mark.parametrize(
    ("change_type", "event_types", "matches"),
    [
        ("email.stored", [], True),
        ("email.stored", ["email.stored"], True),
        ("email.stored", ["email.*"], True),
        ("email.stored", ["email.hidden"], False),
        ("emailer.x", ["email.*"], False),
        ("contact.added", ["email.*", "contact.added"], True),
    ],
)
def test_which_changes_a_subscription_receives(
    change_type: str, event_types: list[str], matches: bool
) -> None:
    assert matches_types(change_type, event_types) is matches


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([], id="not an object"),
        pytest.param({}, id="no url"),
        pytest.param({"url": "crm.example/hook"}, id="no scheme"),
        pytest.param({"url": "file:///etc/passwd"}, id="not http"),
        pytest.param({"url": "https://user:pw@crm.example"}, id="credentials in the url"),
        pytest.param(
            {"url": "https://crm.example", "event_types": "email.*"}, id="types not a list"
        ),
        pytest.param({"url": "https://crm.example", "event_types": ["a b"]}, id="a bad type"),
        pytest.param({"url": "https://crm.example", "description": 5}, id="a bad description"),
    ],
)
def test_a_bad_subscription_is_refused(document: object) -> None:
    with pytest.raises(DomainError) as raised:
        parse_subscription(document, creating=True)
    assert raised.value.reason == "invalid_subscription"


def test_a_typo_in_a_subscription_is_refused_by_name() -> None:
    with pytest.raises(DomainError) as raised:
        parse_subscription({"url": "https://crm.example", "event_type": ["email.*"]}, creating=True)
    assert (raised.value.reason, raised.value.fields[0].path) == ("unknown_field", "event_type")


def test_an_update_may_leave_fields_out_and_set_the_status() -> None:
    document = parse_subscription({"status": "disabled"}, creating=False)
    assert (document.url, document.event_types, document.enabled) == (None, None, False)
    with pytest.raises(DomainError):
        parse_subscription({"status": "paused"}, creating=False)
    kept = parse_subscription(
        {"url": "https://crm.example:8443/h", "event_types": ["email.*", "email.*"]}, creating=True
    )
    assert kept.event_types == ("email.*",)
