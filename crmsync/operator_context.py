"""What an operator command talks to, and how it prints: the database, Redis, tables, JSON.

Operator commands run beside a live deployment with its environment: the same settings, the
same Redis namespace. They build only what they read (no broker, no actors), and print rich
tables for people and ``--json`` for scripts.

Much of what they print was written by strangers: a subscriber's answer, an email subject,
an exception message. Every such value goes through :func:`shown`, which makes it a Rich
``Text`` (never parsed as markup, so ``[/bold]`` is printed, not obeyed or fatal) without
escape sequences or control characters (so no clear-screen, colour or window title reaches
the operator's terminal).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine

from crmsync.logs import configure_logging
from crmsync.settings import Settings
from domain.text import terminal_safe
from domain.times import format_time
from storage.engine import create_database_engine
from workers.broker import redis_client

PIPED_WIDTH = 240
EMBEDDED_QUEUES_NOTE = (
    "embedded mode (no REDIS_URL): the queues and their dead letters live in the memory of the "
    "running `crmsync run` process and cannot be read from here"
)


@dataclass
class OperatorContext:
    """Settings, a database engine and, unless embedded, a Redis client. Close at the end."""

    settings: Settings
    engine: Engine
    redis: redis.Redis | None

    @classmethod
    def from_environ(cls) -> OperatorContext:
        """Read settings as every crmsync process does.

        Raises:
            SettingsError: the environment does not describe a usable configuration.
        """
        settings = Settings.from_environ(os.environ)
        configure_logging(settings.log_level)
        client = None if settings.redis_url is None else redis_client(settings.redis_url)
        return cls(settings, create_database_engine(settings.database_url), client)

    @property
    def namespace(self) -> str:
        return self.settings.redis_namespace

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
        self.engine.dispose()


def out() -> Console:
    """The console for results (standard output); no colour guessing on numbers.

    Piped or redirected, tables get a wide page rather than a terminal's 80 columns, so ids and
    errors reach ``grep`` whole.
    """
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console


def err() -> Console:
    """The console for progress and messages (standard error)."""
    return Console(stderr=True, highlight=False)


def shown(value: object) -> Text:
    """Stored or remote ``value`` as an operator sees it: its characters, literally.

    ``None`` is an empty cell; anything else is printed as ``str`` would, with escape
    sequences and control characters (but tab and newline) removed.
    """
    return Text("" if value is None else terminal_safe(str(value)))


def line(label: str, value: object) -> Text:
    """``label: value``, both through :func:`shown`."""
    return Text.assemble(shown(label), ": ", shown(value))


def print_json(document: Any) -> None:
    """``document`` as indented JSON on standard output (times in RFC 3339)."""
    sys.stdout.write(json.dumps(document, indent=2, default=_json_default) + "\n")


@contextmanager
def opened_context() -> Iterator[OperatorContext]:
    """The environment's context for one command, closed when the command is done."""
    context = OperatorContext.from_environ()
    try:
        yield context
    finally:
        context.close()


def confirmed(question: str) -> bool:
    """Ask ``question`` (made safe for the terminal) and take only ``y`` or ``yes`` as a yes;
    no one to ask (standard input closed) is a no."""
    try:
        answer = input(f"{terminal_safe(question)} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def current_operator(explicit: str | None) -> str:
    """``--operator`` if given, else the logged-in user's name."""
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except OSError:  # no user name in this environment (some containers)
        return "unknown"


def time_text(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def age_text(seconds: float | None) -> str:
    """``3d 4h``, ``12m 5s``: an age a person reads at a glance; ``-`` for none."""
    if seconds is None:
        return "-"
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
