"""The bench's candidate decoders give today's answers: the same notifications, the same
refusals with the same reasons (``crmsync/bench/decoders.py``, issue 16 item 4).

Each body is decoded by the ingress's own ``decode_notifications`` and by each candidate;
a figure comparing their speed means something only while these hold.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmsync.bench.decoders import (
    Decoder,
    decode_pydantic_union,
    decode_pydantic_values,
    msgspec_decoder,
)
from domain.errors import MalformedNotification
from domain.notifications import MAX_V2_DELTAS
from simulator import notifications as sim
from tests.unit.conftest import FIXTURES
from webhooks.body import MAX_JSON_DEPTH
from webhooks.errors import MalformedBody
from webhooks.routes import decode_notifications

GRANT = "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
ACCOUNT = "aaz875kwuvxik6ku7pwkqp3ah"

CANDIDATES: dict[str, Decoder] = {
    "pydantic-union": decode_pydantic_union,
    "pydantic-values": decode_pydantic_values,
}
_msgspec = msgspec_decoder()
if _msgspec is not None:
    CANDIDATES["msgspec"] = _msgspec


def outcome(decode: Decoder, body: bytes) -> Any:
    """What a decoder makes of ``body``: its notifications, or its refusal's reason."""
    try:
        return decode(body)
    except MalformedNotification as refusal:
        return ("refused", refusal.reason, refusal.message)
    except MalformedBody as refusal:
        # The JSON parser's own words differ from library to library; the reason may not.
        return ("refused", refusal.reason)


def same_as_today(body: bytes) -> None:
    expected = outcome(decode_notifications, body)
    for name, decode in CANDIDATES.items():
        assert outcome(decode, body) == expected, name


def encoded(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def envelope(**changes: Any) -> dict[str, Any]:
    document = sim.message_created(GRANT)
    document.update(changes)
    return document


def with_object(**changes: Any) -> dict[str, Any]:
    document = sim.message_created(GRANT)
    document["data"]["object"].update(changes)
    return document


def with_data(**changes: Any) -> dict[str, Any]:
    document = sim.message_created(GRANT)
    document["data"].update(changes)
    return document


def delta(**changes: Any) -> dict[str, Any]:
    result = sim.v2_message_delta(ACCOUNT, "93mgpjynqqu5fohl2dvv6ray7", date=1602623196)
    result.update(changes)
    return result


def delta_data(**changes: Any) -> dict[str, Any]:
    result = delta()
    result["object_data"].update(changes)
    return result


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_inside(depth: int, *, v2: bool = False, **changes: Any) -> bytes:
    document = envelope(**changes)
    document["data"]["object"]["subject"] = "NEST"
    if v2:
        document = {"deltas": [{"type": "message.created", "object_data": document}]}
    return encoded(document).replace(b'"NEST"', nested(depth).encode())


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_nylas_fixture_decodes_as_today(path: Any) -> None:
    same_as_today(path.read_bytes())


ACCEPTED = {
    "message.created": sim.message_created(GRANT),
    "truncated": sim.message_created(GRANT, truncated=True),
    "event.deleted": sim.event_deleted(GRANT, "event-1", "calendar-1"),
    "grant.expired": sim.grant_expired(GRANT),
    "v2 batch": sim.v2_body(delta(), delta(date=1602623197)),
    "v2 of the most deltas": {"deltas": [delta()] * MAX_V2_DELTAS},
    "deltas beside specversion is v3": envelope(deltas=[1]),
    "time as RFC 3339": envelope(time="2024-08-16T15:26:25Z"),
    "time in milliseconds": envelope(time=1737500935555),
    "time as a whole float": envelope(time=1737500935.0),
    "no time": {k: v for k, v in envelope().items() if k != "time"},
    "null object": with_data(object=None),
    "no object": {**envelope(), "data": {"application_id": "app"}},
    "grant in data": with_data(object={"id": "m-1"}, grant_id=GRANT),
    "object's grant wins over a bad one in data": with_data(grant_id="bad/grant"),
    "blank grant is none": with_object(grant_id=""),
    "grant not text is none": with_object(grant_id=42),
    "message_id names the object": with_object(id=None, message_id="m-7"),
    "a long id is hashed": envelope(id="i" * 256),
    "an id with a control is hashed": envelope(id='id\n{"level":"critical"}'),
    "v2 namespace instead of account": {"deltas": [delta_data(account_id=None)]},
    "v2 without a date": {"deltas": [{k: v for k, v in delta().items() if k != "date"}]},
    "unknown keys everywhere": envelope(extra={"a": [1, {"b": None}]}, data_x=1.5),
}


@pytest.mark.parametrize("document", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_bodies_make_the_same_notifications(document: object) -> None:
    body = encoded(document)
    assert isinstance(outcome(decode_notifications, body), list)
    same_as_today(body)


REFUSED: dict[str, bytes] = {
    "not json": b"{not json",
    "empty": b"",
    "NaN is not JSON": b'{"id":NaN}',
    "a list": b"[1, 2]",
    "a string": b'"text"',
    "null": b"null",
    "no type": b'{"id": "x", "data": {}}',
    "no id": b'{"type": "message.created", "data": {}}',
    "no data": b'{"id": "x", "type": "message.created"}',
    "empty deltas": b'{"deltas": []}',
    "deltas an object": b'{"deltas": {"0": 1}}',
    "deltas null": b'{"deltas": null}',
    "a delta not an object": b'{"deltas": ["message.created"]}',
    "lone surrogate": b'{"id": "\\ud800", "type": "a.b", "data": {}}',
    "trailing bytes": encoded(envelope()) + b"x",
    **{
        name: encoded(document)
        for name, document in {
            "blank id": envelope(id="   "),
            "id a number": envelope(id=12345),
            "id null": envelope(id=None),
            "type a list": envelope(type=["message.created"]),
            "data null": envelope(data=None),
            "data a list": envelope(data=[]),
            "object a list": with_data(object=[]),
            "object a string": with_data(object="message"),
            "bad grant": with_object(grant_id="../webhooks/wh_0001?"),
            "grant with a NUL": with_object(grant_id="grant\x00"),
            "bad grant in data, none in object": with_data(object={}, grant_id="g" * 65),
            "time true": envelope(time=True),
            "time a fraction": envelope(time=1723821985.25),
            "time naive": envelope(time="2024-08-16T15:26:25"),
            "time a list": envelope(time=[1]),
            "bad grant before bad time": with_object(grant_id="grånt") | {"time": True},
            "no id before no type": envelope(id=None, type=None),
            "data before time": envelope(data=[], time=True),
            "too many deltas": {"deltas": [delta()] * (MAX_V2_DELTAS + 1)},
            "too many deltas before a bad one": {"deltas": [3] * (MAX_V2_DELTAS + 1)},
            "first delta's fault first": {"deltas": [delta(date=True), "second"]},
            "second delta not an object": {"deltas": [delta(), 3]},
            "delta without type": {"deltas": [{"object_data": {}}]},
            "delta without data": {"deltas": [{"type": "message.created"}]},
            "delta data a list": {"deltas": [delta(object_data=[])]},
            "delta's bad account": {"deltas": [delta_data(account_id="a/b")]},
            "delta's bad namespace": {"deltas": [delta_data(account_id="", namespace_id="a b")]},
        }.items()
    },
    **{f"{depth} deep in v3": deep_inside(depth) for depth in (MAX_JSON_DEPTH + 1, 500, 990)},
    **{f"{depth} deep in v2": deep_inside(depth, v2=True) for depth in (MAX_JSON_DEPTH + 1, 500)},
    "too deep and no id": deep_inside(100, id=None),
    "too deep and a bad grant": deep_inside(300, time=True),
}


@pytest.mark.parametrize("body", REFUSED.values(), ids=REFUSED.keys())
def test_refused_bodies_are_refused_for_the_same_reason(body: bytes) -> None:
    assert isinstance(outcome(decode_notifications, body), tuple)
    same_as_today(body)


def test_a_body_just_inside_the_depth_limit_is_accepted_alike() -> None:
    document = envelope()
    value: Any = []
    for _ in range(MAX_JSON_DEPTH - 4):
        value = [value]
    document["data"]["object"]["subject"] = value
    same_as_today(encoded(document))


@pytest.mark.parametrize(
    "document",
    [
        with_object(subject="Offer\x00 inside", metadata={"k\x00": "v\x00"}),
        envelope(id="id\x00nul"),
        with_object(grant_id="grant\x00"),
        {"deltas": [delta_data(attributes={"thread_id": "t\x00"})]},
    ],
    ids=["in the object", "in the id", "in the grant id", "in a v2 delta"],
)
def test_nuls_are_replaced_before_anything_is_read_alike(document: object) -> None:
    body = encoded(document)
    assert b"\\u0000" in body
    same_as_today(body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
PATHS = [
    ("id",),
    ("type",),
    ("time",),
    ("specversion",),
    ("deltas",),
    ("data",),
    ("data", "grant_id"),
    ("data", "object"),
    ("data", "object", "id"),
    ("data", "object", "message_id"),
    ("data", "object", "grant_id"),
]
V2_PATHS = [
    ("deltas",),
    ("deltas", 0),
    ("deltas", 0, "type"),
    ("deltas", 0, "date"),
    ("deltas", 0, "object_data"),
    ("deltas", 0, "object_data", "account_id"),
    ("deltas", 0, "object_data", "namespace_id"),
    ("deltas", 0, "object_data", "id"),
    ("deltas", 1),
]
DELETE = object()


def edited(document: Any, path: tuple[Any, ...], value: object) -> Any:
    """``document`` with the value at ``path`` replaced or deleted, where it can be."""
    changed = copy.deepcopy(document)
    parent: Any = changed
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return changed
    key: Any = path[-1]
    if isinstance(parent, dict) != isinstance(key, str):
        return changed  # JSON objects have text keys; lists are indexed by numbers
    try:
        if value is DELETE:
            del parent[key]
        else:
            parent[key] = value
    except (KeyError, IndexError, TypeError):
        pass
    return changed


def apply(base: Any, edits: list[tuple[tuple[Any, ...], object]]) -> Any:
    for path, value in edits:
        base = edited(base, path, value)
    return base


BASES = [
    sim.message_created(GRANT),
    sim.event_deleted(GRANT, "event-1", "calendar-1"),
    {**sim.message_created(GRANT), "data": {"grant_id": GRANT, "object": {"id": "m"}}},
]
V2_BASES = [sim.v2_body(delta(), delta(date=1602623197))]
edits = st.lists(st.tuples(st.sampled_from(PATHS), json_values | st.just(DELETE)), max_size=3)
v2_edits = st.lists(st.tuples(st.sampled_from(V2_PATHS), json_values | st.just(DELETE)), max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    document=st.builds(apply, st.sampled_from(BASES), edits)
    | st.builds(apply, st.sampled_from(V2_BASES), v2_edits)
)
def test_envelopes_with_any_field_changed_decode_as_today(document: Any) -> None:
    same_as_today(orjson.dumps(document))


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_any_json_value_decodes_as_today(value: object) -> None:
    same_as_today(orjson.dumps(value))


def test_without_msgspec_there_is_no_msgspec_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_module(name: str) -> Callable[..., Any]:
        raise ImportError(name)

    monkeypatch.setattr("crmsync.bench.decoders.importlib.import_module", no_module)

    assert msgspec_decoder() is None


DIFFERENCES = {
    # orjson makes integers past 64 bits floats; pydantic and msgspec keep them exact.
    "an integer past 64 bits": (
        encoded(with_object(size=2**70 + 1)),
        ["pydantic-union", "pydantic-values", "msgspec"],
    ),
    # orjson refuses a number too large for a float; pydantic reads it as infinity.
    "1e400": (
        encoded(envelope()).replace(b'"data":{', b'"data":{"n":1e400,'),
        ["pydantic-union", "pydantic-values"],
    ),
    # Past orjson's own limit of 1,024 levels it says malformed_json; the others, too deep.
    "nested 2,000 deep": (nested(2_000).encode(), ["pydantic-union", "pydantic-values", "msgspec"]),
    # validate_json lets NaN through wherever a value is Any; orjson refuses it.
    "NaN in the object": (
        encoded(envelope()).replace(b'"data":{', b'"data":{"n":NaN,'),
        ["pydantic-union"],
    ),
}


@pytest.mark.parametrize(("body", "differing"), DIFFERENCES.values(), ids=DIFFERENCES.keys())
def test_the_differences_the_decoders_module_names_are_the_only_ones(
    body: bytes, differing: list[str]
) -> None:
    expected = outcome(decode_notifications, body)
    for name, decode in CANDIDATES.items():
        assert (outcome(decode, body) != expected) == (name in differing), name
