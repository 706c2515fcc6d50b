"""JSON log lines carry the ids passed with ``extra=`` and nothing of the terminal."""

from __future__ import annotations

import logging

import orjson

from crmsync.logs import JsonFormatter


def test_a_record_becomes_one_json_object_with_its_ids() -> None:
    record = logging.makeLogRecord(
        {
            "name": "webhooks",
            "levelname": "INFO",
            "msg": "notification %s",
            "args": ("queued",),
            "notification_id": "n-1",
            "grant_id": "g-1",
            "color_message": "notification \x1b[36mqueued\x1b[0m",
        }
    )

    entry = orjson.loads(JsonFormatter().format(record))

    assert entry["message"] == "notification queued"
    assert entry["level"] == "info"
    assert entry["logger"] == "webhooks"
    assert (entry["notification_id"], entry["grant_id"]) == ("n-1", "g-1")
    assert "color_message" not in entry
