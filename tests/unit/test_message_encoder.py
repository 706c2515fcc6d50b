"""Dramatiq messages encoded by orjson: the same format as Dramatiq's own encoder, so web and
workers of either kind read each other's messages."""

from __future__ import annotations

import dramatiq
import pytest
from dramatiq.encoder import JSONEncoder

from workers.broker import OrjsonEncoder

MESSAGE = dramatiq.Message(
    queue_name="notifications.messages",
    actor_name="handle_messages",
    args=(),
    kwargs={"payload": {"data": {"object": {"body": "<p>Grüße</p>" * 100, "n": 1.5}}}},
    options={"redis_message_id": "m-1"},
).asdict()
MESSAGE["args"] = []  # as JSON reads a tuple back


def test_each_encoder_reads_what_the_other_writes() -> None:
    ours, theirs = OrjsonEncoder(), JSONEncoder()
    assert ours.decode(theirs.encode(MESSAGE)) == MESSAGE
    assert theirs.decode(ours.encode(MESSAGE)) == MESSAGE


def test_a_message_that_is_not_json_is_a_decode_error() -> None:
    with pytest.raises(dramatiq.DecodeError):
        OrjsonEncoder().decode(b"{not json")
