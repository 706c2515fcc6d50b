"""The signed ``state`` of hosted OAuth: unforgeable, bound to one rep, short-lived."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.oauth_state import ConnectState, InvalidState, read_state, sign_state

SECRET = b"state-secret"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
STATE = ConnectState(rep_id="rep-ann", nonce="n-1", issued_at=NOW)


def test_a_signed_state_reads_back() -> None:
    assert read_state(sign_state(STATE, SECRET), (SECRET,), NOW + timedelta(minutes=1)) == STATE


def test_a_state_signed_with_the_previous_secret_reads_during_a_rotation() -> None:
    token = sign_state(STATE, b"old")

    assert read_state(token, (SECRET, b"old"), NOW) == STATE


def test_a_state_moved_onto_another_rep_is_refused() -> None:
    forged = sign_state(ConnectState("rep-bob", "n-1", NOW), b"not-our-secret")
    version, payload, _ = forged.split(".")
    _, _, signature = sign_state(STATE, SECRET).split(".")

    with pytest.raises(InvalidState) as raised:
        read_state(f"{version}.{payload}.{signature}", (SECRET,), NOW)

    assert raised.value.reason == "invalid_state"


def test_an_old_state_has_expired() -> None:
    with pytest.raises(InvalidState) as raised:
        read_state(sign_state(STATE, SECRET), (SECRET,), NOW + timedelta(minutes=16))

    assert raised.value.reason == "expired_state"


def test_a_state_from_the_future_is_refused() -> None:
    with pytest.raises(InvalidState):
        read_state(sign_state(STATE, SECRET), (SECRET,), NOW - timedelta(minutes=5))


@given(st.text(max_size=200))
def test_any_other_text_is_refused_cleanly(token: str) -> None:
    with pytest.raises(InvalidState):
        read_state(token, (SECRET,), NOW)


@given(st.integers(min_value=0, max_value=200), st.characters())
def test_changing_any_character_of_a_state_is_detected(position: int, replacement: str) -> None:
    token = sign_state(STATE, SECRET)
    index = position % len(token)
    if token[index] == replacement:
        return
    tampered = token[:index] + replacement + token[index + 1 :]

    with pytest.raises(InvalidState):
        read_state(tampered, (SECRET,), NOW)


@pytest.mark.parametrize("issued", [10**20, -(10**20), 1e20, "soon", None])
def test_a_signed_state_with_a_time_out_of_range_is_malformed(issued: object) -> None:
    """Only the holder of the key could sign one, but it is still no reason for a 500."""
    payload = (
        base64.urlsafe_b64encode(json.dumps({"r": "rep-ann", "n": "n-1", "t": issued}).encode())
        .rstrip(b"=")
        .decode()
    )
    digest = hmac.new(SECRET, f"s1.{payload}".encode(), hashlib.sha256).digest()
    token = f"s1.{payload}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"

    with pytest.raises(InvalidState) as refused:
        read_state(token, (SECRET,), NOW)
    assert refused.value.reason == "invalid_state"
