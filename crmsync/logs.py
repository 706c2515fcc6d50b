"""JSON logs, one object per line, carrying the ids a log line is about.

Fields passed with ``extra=`` (notification_id, grant_id, message_id, change_id, reason, ...)
become keys of the object, so operators can grep or query by id.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from workers.redis_outages import REDIS_OUTAGE, DramatiqConnectionLines

# Record attributes that are not the caller's ``extra=``; uvicorn's ``color_message`` is the
# message again with terminal colour codes.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


# Servers that install handlers of their own before crmsync's code runs (uvicorn's
# LOGGING_CONFIG gives these plain-text handlers that do not propagate).
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(level: str = "INFO") -> None:
    """Send every log record, and every Python warning, to standard error as JSON.

    The server's own loggers are routed to the same handler, so that a traceback of uvicorn's
    ("Exception in ASGI application") is one JSON line like every other, not multi-line text
    that a log shipper would split and an attacker's text could forge lines in.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    # A Redis blip is a warning when it starts and when it ends, not dozens of criticals.
    handler.addFilter(DramatiqConnectionLines(REDIS_OUTAGE))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A Python warning (the Nylas SDK warns of fields missing from a listed object) is
    # otherwise printed to standard error as lines of text: it becomes a record too.
    logging.captureWarnings(True)
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers[:] = []
        server_logger.propagate = True
