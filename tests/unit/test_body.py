"""Undoing gzip (compressed_delivery, NYLAS.md 1.7) within the body size limit."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable

import pytest

from webhooks.body import check_depth, gunzip_capped
from webhooks.errors import MalformedBody, PayloadTooLarge

MIB = 1024 * 1024


def gzip_of_zeros(size: int, chunk: int = MIB) -> bytes:
    """A gzip stream of ``size`` zero bytes, built without holding them all in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(chunk)
    parts = [compressor.compress(block) for _ in range(size // chunk)]
    parts.append(compressor.compress(bytes(size % chunk)))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_a_gzip_body_round_trips(nylas_fixture: Callable[[str], bytes]) -> None:
    body = nylas_fixture("message_created_gmail")

    assert gunzip_capped(gzip.compress(body), 4 * MIB) == body


def test_an_empty_gzip_body_decompresses_to_nothing() -> None:
    assert gunzip_capped(gzip.compress(b""), 0) == b""


def test_output_exactly_at_the_limit_is_accepted() -> None:
    body = b"x" * 1000

    assert gunzip_capped(gzip.compress(body), 1000) == body


def test_output_one_byte_over_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        gunzip_capped(gzip.compress(b"x" * 1001), 1000)
    assert refused.value.reason == "payload_too_large"


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    limit = 4 * MIB
    bomb = gzip_of_zeros(50 * MIB)
    assert len(bomb) < MIB

    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            gunzip_capped(bomb, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * limit, f"allocated {peak} bytes for a {limit}-byte limit"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"specversion":"1.0","type":"message.created"}', id="plain-json"),
        pytest.param(zlib.compress(b'{"id":"n1"}'), id="zlib-not-gzip"),
        pytest.param(b"\x1f\x8b\x08\x00garbage-after-the-magic", id="gzip-magic-then-garbage"),
    ],
)
def test_a_body_that_is_not_gzip_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedBody) as refused:
        gunzip_capped(data, 4 * MIB)
    assert refused.value.reason == "bad_gzip"


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[:10], id="header-only"),
        pytest.param(lambda data: data[: len(data) // 2], id="half"),
        pytest.param(lambda data: data[:-4], id="trailer-cut"),
        pytest.param(lambda data: data[:-1], id="last-byte-missing"),
    ],
)
def test_a_truncated_gzip_stream_is_malformed(
    nylas_fixture: Callable[[str], bytes], cut: Callable[[bytes], bytes]
) -> None:
    compressed = gzip.compress(nylas_fixture("event_created"))

    with pytest.raises(MalformedBody) as refused:
        gunzip_capped(cut(compressed), 4 * MIB)
    assert refused.value.reason == "bad_gzip"


def test_a_corrupted_checksum_is_malformed(nylas_fixture: Callable[[str], bytes]) -> None:
    compressed = bytearray(gzip.compress(nylas_fixture("event_created")))
    compressed[-8] ^= 0xFF  # first byte of the CRC-32 in the gzip trailer

    with pytest.raises(MalformedBody) as refused:
        gunzip_capped(bytes(compressed), 4 * MIB)
    assert refused.value.reason == "bad_gzip"


def test_every_member_of_a_multi_member_gzip_body_is_read() -> None:
    assert gunzip_capped(gzip.compress(b'{"a":') + gzip.compress(b"1}"), 100) == b'{"a":1}'


def test_junk_after_the_gzip_stream_is_malformed() -> None:
    with pytest.raises(MalformedBody) as refused:
        gunzip_capped(gzip.compress(b"{}") + b"junk", 100)

    assert refused.value.reason == "bad_gzip"


def test_the_limit_counts_every_member_together() -> None:
    with pytest.raises(PayloadTooLarge):
        gunzip_capped(gzip.compress(b"x" * 60) + gzip.compress(b"y" * 60), 100)


def nested(depth: int, leaf: object = "x") -> object:
    """``depth`` levels of containers, alternating objects and arrays, around ``leaf``."""
    value = leaf
    for level in range(depth):
        value = {"k": value, "s": "text"} if level % 2 else [value, 1, None]
    return value


@pytest.mark.parametrize("depth", [0, 1, 2, 63, 64])
def test_bodies_nested_up_to_the_limit_pass(depth: int) -> None:
    check_depth(nested(depth))


@pytest.mark.parametrize("depth", [65, 66, 5_000])
def test_bodies_nested_past_the_limit_are_malformed(depth: int) -> None:
    with pytest.raises(MalformedBody, match="nests more than 64 levels"):
        check_depth(nested(depth))


def test_a_deep_branch_beside_shallow_ones_is_found() -> None:
    document = {"data": [{"a": 1}, {"b": [2, 3]}, nested(70)], "type": "message.created"}
    with pytest.raises(MalformedBody, match="nests more than 64 levels"):
        check_depth(document)


def test_a_body_of_many_members_is_refused_at_the_first_one_past_the_cap() -> None:
    member = gzip.compress(b"", 9)

    with pytest.raises(MalformedBody) as refused:
        gunzip_capped(member * 200_000, 4 * MIB)

    assert refused.value.reason == "too_many_gzip_members"


def test_as_many_members_as_allowed_are_read() -> None:
    body = b"".join(gzip.compress(part) for part in (b'{"a":', b"1", b",", b'"b":2}'))

    assert gunzip_capped(body, 100, max_members=4) == b'{"a":1,"b":2}'


def test_a_member_that_ends_inside_an_input_chunk_hands_the_rest_to_the_next() -> None:
    first = gzip.compress(b"x" * 300_000)  # several input chunks, of which the last is partial
    second = gzip.compress(b"y" * 10)

    assert gunzip_capped(first + second, MIB) == b"x" * 300_000 + b"y" * 10
