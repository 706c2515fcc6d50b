"""Text that comes from outside crmsync: what it may not hold, and what may not reach a terminal.

Two edges need the same knowledge of control characters. The CRM API refuses them where
they have no business: a NUL anywhere (PostgreSQL's text cannot hold one, so it would fail
as a 500 deep in the driver instead of a 400 at the door), and in identifiers any C0 or C1
control or bidirectional override (an id that reverses itself on screen spoofs what an
operator reads). The operator tools print stored and remote text (subscriber answers, email
subjects, exception messages) to a terminal, where an escape sequence clears the screen,
recolours it or retitles the window: there every control but tab and newline is removed,
escape sequences whole.

What Nylas sends is not refused for a NUL (a stranger's subject may hold one, and the
notification would be lost): the ingress and the message parser replace it by U+FFFD.
"""

from __future__ import annotations

import re
from typing import Any

# A CSI (ESC [ or 0x9B, parameters, final), an OSC (ESC ] or 0x9D ... BEL or ST), a
# DCS/SOS/PM/APC string (ESC P|X|^|_ ... ST), or ESC and one character: removed whole,
# parameters included, so nothing of "\x1b[1;31m" is left behind as "[1;31m".
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# The bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_BIDI = "\u202a-\u202e\u2066-\u2069"
# A terminal may show tabs and newlines (tracebacks have them); every other C0 or C1 goes.
_NOT_FOR_TERMINALS = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
_NOT_IN_IDS = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_BIDI_CONTROL = re.compile(f"[{_BIDI}]")


def terminal_safe(text: str) -> str:
    """``text`` with escape sequences and control characters removed (tab and newline kept),
    bidirectional overrides included, so a terminal shows it as the characters it holds."""
    return _NOT_FOR_TERMINALS.sub("", _ESCAPE_SEQUENCE.sub("", text))


def contains_nul(text: str) -> bool:
    """True when ``text`` holds a NUL, which no stored text may (PostgreSQL refuses it)."""
    return "\x00" in text


# What a NUL from Nylas becomes: text from a stranger (a subject, a name) may hold one, and
# refusing it would lose the notification, so it is kept, readable and storable.
NUL_STAND_IN = "\ufffd"


def without_nul(text: str) -> str:
    """``text`` with each NUL replaced by U+FFFD (the replacement character)."""
    return text.replace("\x00", NUL_STAND_IN)


def document_without_nul(document: Any) -> Any:
    """A JSON document with every NUL in its strings and keys replaced by U+FFFD.

    Recursive: call it on documents whose depth is already bounded (the ingress checks it).
    """
    if isinstance(document, str):
        return without_nul(document)
    if isinstance(document, dict):
        return {without_nul(str(k)): document_without_nul(v) for k, v in document.items()}
    if isinstance(document, list):
        return [document_without_nul(item) for item in document]
    return document


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an identifier, or None when it can.

    Identifiers are the CRM's own (rep, contact, subscription ids) and appear in URLs, logs
    and operator tables: no NUL, no other control character, no bidirectional override.
    """
    if contains_nul(value):
        return "contains a NUL character"
    found = _NOT_IN_IDS.search(value)
    if found is None:
        return None
    if _BIDI_CONTROL.match(found.group()):
        return f"contains the bidirectional control U+{ord(found.group()):04X}"
    return f"contains the control character U+{ord(found.group()):04X}"


def whole_number(text: str, max_digits: int) -> int | None:
    """``text`` as a whole number when it is 1 to ``max_digits`` ASCII digits, else None.

    ``str.isdigit`` is true for ``²`` and other Unicode digits that ``int`` refuses, and
    ``int`` refuses more than 4,300 digits: both were 500s. Only ``0``-``9`` are digits here,
    and few enough of them that the value is small.
    """
    if not 0 < len(text) <= max_digits or not (text.isascii() and text.isdecimal()):
        return None
    return int(text)


def nul_location(document: object) -> str | None:
    """Where a JSON ``document`` holds a NUL in a string or a key (``contacts[3].name``),
    or None when it holds none; a key is named by its first characters.

    Iterative: a deeply nested document costs no recursion. A path is written only for the
    NUL found: each element's path written as it is reached would cost, under a long key, that
    key's length for each element (a 62 KB body, 450 MB).
    """
    # What leads to each string or container reached: (its parent's step, key or index).
    steps: list[tuple[int, str | int]] = [(-1, "")]
    pending: list[tuple[int, object]] = [(0, document)]
    while pending:
        step, value = pending.pop()
        if isinstance(value, str):
            if contains_nul(value):
                return _path_of(steps, step) or "the body"
        elif isinstance(value, dict):
            for key, item in value.items():
                steps.append((step, str(key)))
                if contains_nul(str(key)):
                    return f"the key {_path_of(steps, len(steps) - 1)!r}"
                if isinstance(item, str | dict | list):
                    pending.append((len(steps) - 1, item))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str | dict | list):
                    steps.append((step, index))
                    pending.append((len(steps) - 1, item))
    return None


def _path_of(steps: list[tuple[int, str | int]], step: int) -> str:
    parts: list[str | int] = []
    while step > 0:
        step, part = steps[step]
        parts.append(part)
    path = ""
    for part in reversed(parts):
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{clipped(part)}" if path else clipped(part)
    return path


# How much of a value from outside a message quotes: enough to say which, never all of it.
QUOTED_CHARACTERS = 64


def clipped(text: str, limit: int = QUOTED_CHARACTERS) -> str:
    """``text``, or its first ``limit`` characters and an ellipsis: what a refusal quotes of a
    value the client sent, which may be megabytes."""
    return text if len(text) <= limit else f"{text[:limit]}\u2026"
