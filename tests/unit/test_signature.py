"""X-Nylas-Signature: lower-case hex HMAC-SHA256 over the exact raw body (NYLAS.md 0.2, 1.6)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from domain.signatures import nylas_signature
from webhooks.errors import InvalidSignature
from webhooks.signature import verify, well_formed

CURRENT_SECRET = b"whsec-current-5f1c0e9a"
PREVIOUS_SECRET = b"whsec-previous-77b2d4aa"


def sign(body: bytes, secret: bytes) -> str:
    """The signature computed independently of the code under test."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


@pytest.fixture
def body(nylas_fixture: Callable[[str], bytes]) -> bytes:
    return nylas_fixture("message_created_gmail")


def test_nylas_signature_is_lowercase_hex_hmac_sha256(body: bytes) -> None:
    signature = nylas_signature(body, CURRENT_SECRET)

    assert signature == sign(body, CURRENT_SECRET)
    assert len(signature) == 64
    assert signature == signature.lower()


def test_a_correct_signature_is_accepted(body: bytes) -> None:
    verify(body, sign(body, CURRENT_SECRET), [CURRENT_SECRET])


def test_one_tampered_byte_in_the_body_is_refused(body: bytes) -> None:
    signature = sign(body, CURRENT_SECRET)
    position = body.index(b"Friday")
    tampered = body[:position] + b"f" + body[position + 1 :]
    assert len(tampered) == len(body)

    with pytest.raises(InvalidSignature) as refused:
        verify(tampered, signature, [CURRENT_SECRET])
    assert refused.value.reason == "bad_signature"


def test_a_signature_made_with_another_secret_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(body, sign(body, b"whsec-someone-else"), [CURRENT_SECRET])
    assert refused.value.reason == "bad_signature"


def test_rotation_accepts_the_previous_secret(body: bytes) -> None:
    verify(body, sign(body, PREVIOUS_SECRET), [CURRENT_SECRET, PREVIOUS_SECRET])


def test_rotation_accepts_the_current_secret(body: bytes) -> None:
    verify(body, sign(body, CURRENT_SECRET), [CURRENT_SECRET, PREVIOUS_SECRET])


def test_a_signature_under_neither_rotation_secret_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(body, sign(body, b"whsec-retired"), [CURRENT_SECRET, PREVIOUS_SECRET])
    assert refused.value.reason == "bad_signature"


def test_upper_case_hex_of_the_right_digest_is_accepted(body: bytes) -> None:
    verify(body, sign(body, CURRENT_SECRET).upper(), [CURRENT_SECRET])


@pytest.mark.parametrize("header", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_a_missing_or_blank_header_is_missing_signature(body: bytes, header: str | None) -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(body, header, [CURRENT_SECRET])
    assert refused.value.reason == "missing_signature"


@pytest.mark.parametrize(
    "header",
    ["0" * 64, "not-a-signature", "sha256=deadbeef"],
    ids=["zeros", "garbage", "prefixed"],
)
def test_a_wrong_header_is_bad_signature(body: bytes, header: str) -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(body, header, [CURRENT_SECRET])
    assert refused.value.reason == "bad_signature"


def test_a_truncated_digest_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(body, sign(body, CURRENT_SECRET)[:-1], [CURRENT_SECRET])
    assert refused.value.reason == "bad_signature"


def test_no_configured_secret_refuses_everything(body: bytes) -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(body, sign(body, CURRENT_SECRET), [])
    assert refused.value.reason == "bad_signature"


def test_a_signature_over_re_serialised_json_does_not_verify_the_raw_body(body: bytes) -> None:
    reserialised = json.dumps(json.loads(body), indent=None, separators=(", ", ": ")).encode()
    assert reserialised != body
    assert json.loads(reserialised) == json.loads(body)

    with pytest.raises(InvalidSignature) as refused:
        verify(body, sign(reserialised, CURRENT_SECRET), [CURRENT_SECRET])
    assert refused.value.reason == "bad_signature"


def test_the_raw_bytes_are_verified_even_when_the_json_is_compact() -> None:
    compact = b'{"specversion":"1.0","type":"message.created","id":"n1","data":{}}'
    spaced = b'{"specversion": "1.0", "type": "message.created", "id": "n1", "data": {}}'

    verify(compact, sign(compact, CURRENT_SECRET), [CURRENT_SECRET])
    with pytest.raises(InvalidSignature):
        verify(spaced, sign(compact, CURRENT_SECRET), [CURRENT_SECRET])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a" * 64, True),
        ("A" * 64, True),
        (f"  {'0' * 64}  ", True),
        ("0" * 63, False),
        ("0" * 65, False),
        ("g" * 64, False),
        ("sha256=" + "0" * 57, False),
        ("", False),
        (None, False),
    ],
)
def test_only_64_hex_digits_can_be_a_signature(header: str | None, expected: bool) -> None:
    assert well_formed(header) is expected
