"""The Nylas ingress under hostile and broken input: never a 500, nothing queued by mistake.

Hypothesis throws random bytes, truncated JSON, wrong types in every field of a valid
envelope, bad, missing and repeated signature headers and false gzip headers at the real app
over a real Redis server of this module's own. Two properties hold for every request:

- the answer is one Nylas understands (200, 400, 401 or 413), never a 500;
- something is queued only when the body was validly signed and well-formed, and then
  exactly what the answer says was queued.

"Well-formed" has an oracle independent of the endpoint: the body decodes as JSON, nests no
deeper than the ingress allows, and ``domain.notifications.parse_document`` accepts it.
Huge and deeply nested bodies are fixed examples below the properties.
"""

from __future__ import annotations

import copy
import gzip
import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.errors import MalformedNotification
from domain.notifications import parse_document
from simulator import notifications as sim
from tests.support.harness import queue_lengths, settings_for
from tests.support.private_redis import PrivateRedis
from tests.support.services import WEBHOOK_SECRET
from webhooks.body import MAX_JSON_DEPTH
from workers.queues import all_queue_names

pytestmark = pytest.mark.faults

URL = "/webhooks/nylas"
LIMIT = 64 * 1024
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNDERSTOOD = {200, 400, 401, 413}


NAMESPACE = "fuzz"


@dataclass
class Ingress:
    """The app on a real Redis of this module's own, and what each request left in it."""

    client: TestClient
    redis: redis.Redis

    def post(self, body: bytes, headers: list[tuple[str, str]]) -> tuple[int, Any, int]:
        """Post ``body``; the status, the JSON answer, and how many messages it queued.

        The Redis is emptied afterwards, so every example starts from an empty one: "nothing
        queued" is then "no key at all", checked without scanning anybody else's keys.
        """
        response = self.client.post(URL, content=body, headers=headers)
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        queued = sum(queue_lengths(self.redis, NAMESPACE).values())
        keys = {k.decode() if isinstance(k, bytes) else k for k in self.redis.keys("*")}
        if keys:
            self.redis.flushdb()
        marked = {key for key in keys if key.startswith(f"{NAMESPACE}:dedupe:")}
        queues = {f"{NAMESPACE}:{q}" for q in all_queue_names()}
        # Only dedupe keys and queues are written, and an id marked as seen without its
        # message queued would be lost when Nylas sends it again.
        assert keys - marked <= queues | {f"{q}.msgs" for q in queues}, keys
        assert len(marked) == queued, (len(marked), queued)
        return response.status_code, answer, queued


@pytest.fixture(scope="module")
def fuzz_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A Redis server for this module only (nothing else writes to it)."""
    server = PrivateRedis(tmp_path_factory.mktemp("fuzz-redis"), fsync="no")
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


def _ingress(
    sqlite_url: str,
    server: PrivateRedis,
    make_runtime: Callable[[Settings], Runtime],
    limit: int,
) -> Iterator[Ingress]:
    settings = settings_for(sqlite_url, NAMESPACE, redis_url=server.url, max_body_bytes=limit)
    runtime = make_runtime(settings)
    runtime.broker.client.flushdb()
    with TestClient(build_app(runtime=runtime), raise_server_exceptions=False) as client:
        yield Ingress(client, runtime.broker.client)


@pytest.fixture
def ingress(
    sqlite_url: str, fuzz_redis: PrivateRedis, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[Ingress]:
    """The ingress with a 64 KiB body limit; its requests never reach the database."""
    yield from _ingress(sqlite_url, fuzz_redis, make_runtime, LIMIT)


@pytest.fixture
def roomy_ingress(
    sqlite_url: str, fuzz_redis: PrivateRedis, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[Ingress]:
    """The ingress with the default 4 MiB limit, for deep bodies that are not small."""
    yield from _ingress(sqlite_url, fuzz_redis, make_runtime, Settings().max_body_bytes)


def signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return sim.sign(body, secret)


def well_formed(body: bytes) -> bool:
    """The oracle: JSON, not too deep, and a notification body ``parse_document`` accepts."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return False
    if _depth(document) > MAX_JSON_DEPTH:
        return False
    try:
        parse_document(document)
    except MalformedNotification:
        return False
    return True


def _depth(value: object) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in item)
    return deepest


def check(ingress: Ingress, body: bytes, headers: list[tuple[str, str]], *, valid: bool) -> int:
    """Post and check both properties; ``valid`` says whether the signature is right."""
    status, answer, queued = ingress.post(body, headers)
    assert status in UNDERSTOOD, (status, answer)
    if status == 200:
        assert valid, "accepted a body that was not validly signed"
        assert well_formed(body), "accepted a body that is not a notification"
        assert queued == answer["queued"], (queued, answer)
    else:
        assert queued == 0, (status, answer)
    return status


# Strategies ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

# Every field a v3 envelope's routing, dedupe or handling reads, as a path into the document.
ENVELOPE_PATHS = [
    ("id",),
    ("type",),
    ("time",),
    ("specversion",),
    ("source",),
    ("data",),
    ("data", "application_id"),
    ("data", "object"),
    ("data", "object", "id"),
    ("data", "object", "grant_id"),
    ("data", "object", "object"),
    ("data", "object", "from"),
    ("data", "object", "to"),
    ("data", "object", "folders"),
    ("data", "object", "date"),
    ("data", "object", "body"),
]
DELETE = object()


def _replace(document: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parent: Any = changed
    for key in path[:-1]:
        if not isinstance(parent, dict) or not isinstance(parent.get(key), dict):
            return changed  # an earlier replacement left no object to descend into
        parent = parent[key]
    if value is DELETE:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return changed


def _base_documents() -> list[dict[str, Any]]:
    return [
        sim.message_created("grant-fuzz"),
        sim.message_created("grant-fuzz", truncated=True),
        sim.event_deleted("grant-fuzz", "event-1", "calendar-1"),
        sim.grant_expired("grant-fuzz"),
    ]


mutated_envelopes = st.builds(
    lambda base, edits: _apply(base, edits),
    st.sampled_from(_base_documents()),
    st.lists(
        st.tuples(st.sampled_from(ENVELOPE_PATHS), json_values | st.just(DELETE)),
        min_size=1,
        max_size=3,
    ),
)


def _apply(base: dict[str, Any], edits: list[tuple[tuple[str, ...], object]]) -> dict[str, Any]:
    document = base
    for path, value in edits:
        document = _replace(document, path, value)
    return document


# The properties ----------------------------------------------------------------------------


@FUZZ
@given(
    body=st.binary(max_size=2048),
    signed=st.booleans(),
    gzip_header=st.sampled_from([None, "gzip", "GZIP", " gzip "]),
)
def test_random_bytes_are_never_queued(
    ingress: Ingress, body: bytes, signed: bool, gzip_header: str | None
) -> None:
    headers = [("Content-Type", "application/json")]
    if signed:
        headers.append(("X-Nylas-Signature", signature(body)))
    if gzip_header is not None:
        headers.append(("Content-Encoding", gzip_header))
    status = check(ingress, body, headers, valid=signed)
    assert status in (400, 401)


@FUZZ
@given(document=mutated_envelopes, v2=st.booleans())
def test_wrong_types_in_any_field_are_a_400_or_handled_never_a_500(
    ingress: Ingress, document: dict[str, Any], v2: bool
) -> None:
    if v2:
        # The same object as a v2 delta, whose fields sit under ``object_data``.
        document = {"deltas": [{"type": document.get("type"), "object_data": document}]}
    body = json.dumps(document).encode()
    status = check(ingress, body, [("X-Nylas-Signature", signature(body))], valid=True)
    assert (status == 200) == well_formed(body)


@FUZZ
@given(document=st.sampled_from(_base_documents()), cut=st.floats(0.0, 0.999))
def test_truncated_json_is_a_400(ingress: Ingress, document: dict[str, Any], cut: float) -> None:
    whole = json.dumps(document).encode()
    body = whole[: int(len(whole) * cut)]
    status = check(ingress, body, [("X-Nylas-Signature", signature(body))], valid=True)
    assert status == 400


@FUZZ
@given(document=json_values)
def test_any_signed_json_is_queued_only_when_it_is_a_notification(
    ingress: Ingress, document: object
) -> None:
    body = json.dumps(document).encode()
    status = check(ingress, body, [("X-Nylas-Signature", signature(body))], valid=True)
    assert (status == 200) == well_formed(body)


SIGNATURE_NAMES = ["X-Nylas-Signature", "x-nylas-signature", "X-NYLAS-SIGNATURE"]


@FUZZ
@given(
    document=st.sampled_from(_base_documents()),
    values=st.lists(
        st.sampled_from(["right", "RIGHT", " right ", "other-secret", "zeros", "empty", "junk"]),
        max_size=3,
    ),
    names=st.lists(st.sampled_from(SIGNATURE_NAMES), min_size=3, max_size=3),
)
def test_missing_bad_and_repeated_signatures_queue_nothing_unless_one_is_right(
    ingress: Ingress, document: dict[str, Any], values: list[str], names: list[str]
) -> None:
    body = json.dumps(document).encode()
    right = signature(body)
    rendered = {
        "right": right,
        "RIGHT": right.upper(),
        " right ": f" {right} ",
        "other-secret": signature(body, "another-secret"),
        "zeros": "0" * 64,
        "empty": "",
        "junk": "sha256=" + right,
    }
    headers = [(name, rendered[value]) for name, value in zip(names, values, strict=False)]
    # Which of several headers the app reads is its business; being right is the sender's.
    valid = any(value in ("right", "RIGHT", " right ") for value in values)

    status = check(ingress, body, headers, valid=valid)

    assert status in (200, 401)
    if values and values[0] in ("right", "RIGHT", " right "):
        assert status == 200  # a lone or first right signature is accepted
    if not valid:
        assert status == 401


# Fixed examples: huge, deep, and gzip that is not gzip ---------------------------------------


def _signed_post(ingress: Ingress, body: bytes, **headers: str) -> tuple[int, Any, int]:
    return ingress.post(body, [("X-Nylas-Signature", signature(body)), *headers.items()])


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"[" * 100_000,  # deep and truncated
    ],
    ids=["100k-nested-arrays", "50k-nested-objects", "100k-unclosed-arrays"],
)
def test_deeply_nested_bodies_are_a_400(roomy_ingress: Ingress, body: bytes) -> None:
    status, answer, queued = _signed_post(roomy_ingress, body)

    assert (status, queued) == (400, 0), answer


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 990, 1_015])
@pytest.mark.parametrize("v2", [False, True], ids=["v3", "v2"])
def test_deep_nesting_inside_a_valid_envelope_is_a_400(
    ingress: Ingress, depth: int, v2: bool
) -> None:
    # Python's json module (which encodes queued messages) fails from about 1,000 levels:
    # before the depth limit these bodies were answered 500.
    document = sim.message_created("grant-fuzz")
    document["data"]["object"]["subject"] = "NEST"
    if v2:
        document = {"deltas": [{"type": "message.created", "object_data": document}]}
    nest = "[" * depth + "]" * depth
    body = json.dumps(document).replace('"NEST"', nest).encode()

    status, answer, queued = _signed_post(ingress, body)

    assert (status, queued) == (400, 0), answer
    assert answer["error"]["reason"] == "too_deeply_nested"


def test_an_envelope_just_inside_the_depth_limit_is_queued(ingress: Ingress) -> None:
    document = sim.message_created("grant-fuzz")
    nested: Any = []
    for _ in range(MAX_JSON_DEPTH - 4):  # envelope, data, object and the list itself
        nested = [nested]
    document["data"]["object"]["subject"] = nested
    body = json.dumps(document).encode()

    status, answer, queued = _signed_post(ingress, body)

    assert (status, queued) == (200, 1), answer


def test_a_huge_body_is_a_413_and_a_large_one_under_the_limit_is_queued(
    ingress: Ingress,
) -> None:
    huge = json.dumps(sim.message_created("grant-fuzz", body="x" * (LIMIT + 1))).encode()
    large = json.dumps(sim.message_created("grant-fuzz", body="x" * (LIMIT - 2048))).encode()

    assert _signed_post(ingress, huge)[::2] == (413, 0)
    assert _signed_post(ingress, large)[::2] == (200, 1)


@pytest.mark.parametrize("encoding", ["gzip", "GZip", "x-gzip"])
def test_a_gzip_header_on_a_plain_body_is_refused_or_read_as_plain(
    ingress: Ingress, encoding: str
) -> None:
    body = json.dumps(sim.message_created("grant-fuzz")).encode()

    status, answer, queued = _signed_post(ingress, body, **{"Content-Encoding": encoding})

    # "gzip" in any case is decoded and fails as gzip; an encoding the ingress does not know
    # leaves the body as sent, which is valid and signed.
    expected = (200, 1) if encoding == "x-gzip" else (400, 0)
    assert (status, queued) == expected, answer


def test_a_gzip_body_whose_inflated_size_is_over_the_limit_is_a_413(ingress: Ingress) -> None:
    inflated = json.dumps(sim.message_created("grant-fuzz", body="y" * (4 * LIMIT))).encode()
    body = gzip.compress(inflated)
    assert len(body) < LIMIT

    status, answer, queued = _signed_post(ingress, body, **{"Content-Encoding": "gzip"})

    assert (status, queued) == (413, 0), answer
