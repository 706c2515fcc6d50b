"""JSON log lines carry the ids passed with ``extra=`` and nothing of the terminal."""

from __future__ import annotations

import logging
import warnings

import orjson
import pytest

from crmsync.logs import JsonFormatter, configure_logging


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


def test_the_servers_tracebacks_become_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.handlers[:] = [logging.StreamHandler()]  # as uvicorn's own config leaves it
    uvicorn_error.propagate = False
    try:
        configure_logging("INFO")
        try:
            raise ValueError("line one\nline two")
        except ValueError:
            uvicorn_error.exception("Exception in ASGI application")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = orjson.loads(lines[0])
    assert (entry["logger"], entry["level"]) == ("uvicorn.error", "error")
    assert "line one\nline two" in entry["exception"]


def test_a_python_warning_becomes_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    # The Nylas SDK warns (RuntimeWarning) of fields missing from listed objects: printed as
    # it is, a warning is lines of text among the JSON.
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        logging.captureWarnings(False)  # as a fresh process starts
        try:
            configure_logging("INFO")
            warnings.warn("Field 'read_only' is missing", RuntimeWarning, stacklevel=1)
        finally:
            logging.captureWarnings(False)
            root.handlers[:], level = saved
            root.setLevel(level)

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = orjson.loads(lines[0])
    assert (entry["logger"], entry["level"]) == ("py.warnings", "warning")
    assert "RuntimeWarning: Field 'read_only' is missing" in entry["message"]
