"""Outcome words explained (domain.outcomes): every word a handler can record has its rule,
sentence and what would change it; the decision for a message (domain.message_verdicts);
and the ranking of reps by outcomes not stored (domain.rep_outcomes)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.calendar_sync import Effect
from domain.email_rules import SkipReason
from domain.message_verdicts import (
    InvalidMessageId,
    MailboxBackfill,
    RepFacts,
    SeenNotification,
    StoredEmail,
    decide_verdict,
    validate_message_id,
)
from domain.not_found import Missing
from domain.org_scope import OTHER_ORGANIZATION
from domain.outcome_words import Bearing, is_outcome_word, outcome_word
from domain.outcomes import EXPLANATIONS, explain_outcome
from domain.rep_outcomes import worst_reps
from domain.sending import DeliveryEvent

ROOT = Path(__file__).resolve().parents[2]
# Where handlers decide outcome words: the actors, and the grant outcomes of storage.accounts.
SOURCES = [
    *sorted((ROOT / "workers" / "actors").glob("*.py")),
    ROOT / "workers" / "email_pages.py",
    ROOT / "workers" / "parked_messages.py",
    ROOT / "storage" / "accounts.py",
]

# Outcomes handlers pass on without writing them as a literal: each names where its words
# come from. A new one fails the test until it is declared here and its words explained.
DYNAMIC_SOURCES: dict[tuple[str, str], frozenset[str]] = {
    ("events.py", "result.effect.value"): frozenset(e.value for e in Effect),
    ("email_pages.py", "decision.skip_reason.value"): frozenset(r.value for r in SkipReason),
    # storage.accounts' GrantEventResult outcomes: literals collected from accounts.py.
    ("grants.py", "result.outcome"): frozenset(),
    ("accounts.py", "outcome"): frozenset(),
    # The outcomes of save_messages / save_page / _update / _outcome_of: their literals are
    # collected from messages.py itself.
    ("finishing.py", "outcome"): frozenset(),
    ("messages.py", "outcome"): frozenset(),
    ("messages.py", "outcomes"): frozenset(),
    ("messages.py", "saved"): frozenset(),
    ("messages.py", "save_page(session, context, rep, entries)"): frozenset(),
    ("email_pages.py", "outcomes"): frozenset(),
    ("email_pages.py", "save_pages(session, context, [(rep, entries)])[0]"): frozenset(),
    ("email_pages.py", "_update(session, row, entry, now)"): frozenset(),
    ("messages.py", "_outcome_of(next(outcomes), grant_id, message)"): frozenset(),
    # A grant deleted at Nylas (domain.not_found): the notification ends grant_gone.
    ("notifications.py", "Missing.GRANT.value"): frozenset({Missing.GRANT.value}),
    # A notification of one organization about another's grant (domain.org_scope).
    ("notifications.py", "OTHER_ORGANIZATION"): frozenset({OTHER_ORGANIZATION}),
    # The same outcome, recorded with the notification in the transaction that marks the rep.
    (
        "notifications.py",
        "NotificationOutcome(notification, received, handled.state, handled.outcome)",
    ): frozenset(),
    # Not an outcome: the message's folders are fetched first, then it is decided again.
    ("messages.py", "FoldersToRefresh(rep, item.grant_id)"): frozenset(),
    # Not an outcome: a calendar id (a function annotated ``-> str``).
    ("calendar_push.py", "choose_calendar(calendars, rep.calendar_name).id"): frozenset(),
}
# Outcomes built by formatting: each prefix with the values it is formatted with.
FORMATTED_FAMILIES = {"delivery_": frozenset(e.value for e in DeliveryEvent)}
# Words that become outcomes in the coming versions of the handlers.
ANNOUNCED = {"grant_gone", "folder_pending"}


class _Collected:
    def __init__(self) -> None:
        self.words: set[str] = set()
        self.prefixes: set[str] = set()
        self.dynamic: set[tuple[str, str]] = set()

    def take(self, expr: ast.expr, module: str) -> None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self.words.add(expr.value)
        elif isinstance(expr, ast.JoinedStr):
            first = expr.values[0]
            prefix = first.value if isinstance(first, ast.Constant) else ""
            self.prefixes.add(prefix if isinstance(prefix, str) else "")
        elif isinstance(expr, ast.IfExp):
            self.take(expr.body, module)
            self.take(expr.orelse, module)
        elif isinstance(expr, ast.BinOp) and isinstance(expr.left, ast.List):
            for element in expr.left.elts:
                self.take(element, module)
        elif isinstance(expr, ast.ListComp):
            self.take(expr.elt, module)
        else:
            self.dynamic.add((module, ast.unparse(expr)))


def collect_outcomes() -> _Collected:
    """What the handlers record as outcomes, read from their source: the arguments of
    ``Handled.processed``/``Handled``/``GrantEventResult``, assignments to ``outcome`` and
    ``outcomes[...]``, and what functions annotated ``-> str``/``-> list[str]`` return."""
    collected = _Collected()
    for path in SOURCES:
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef):
                continue
            returns = ast.unparse(function.returns) if function.returns else ""
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    called = ast.unparse(node.func)
                    if called == "Handled.processed" and node.args:
                        collected.take(node.args[0], path.name)
                    if called in ("Handled", "GrantEventResult") and len(node.args) > 1:
                        collected.take(node.args[1], path.name)
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if (
                            isinstance(target, ast.Subscript)
                            and ast.unparse(target.value) == "outcomes"
                        ) or (isinstance(target, ast.Name) and target.id == "outcome"):
                            collected.take(node.value, path.name)
                elif (
                    isinstance(node, ast.Return)
                    and node.value is not None
                    and returns in ("str", "list[str]")
                ):
                    collected.take(node.value, path.name)
    return collected


def test_every_outcome_a_handler_can_record_is_explained() -> None:
    collected = collect_outcomes()
    # The collector finds what it should: a broken one would pass vacuously.
    assert {"stored", "gone", "unknown_grant", "folder_cached", "status_changed"} <= collected.words
    undeclared = collected.dynamic - DYNAMIC_SOURCES.keys()
    assert not undeclared, f"declare where these outcomes come from: {sorted(undeclared)}"
    assert collected.prefixes <= FORMATTED_FAMILIES.keys()
    words = set(collected.words)
    for source in collected.dynamic:
        words |= DYNAMIC_SOURCES[source]
    for prefix in collected.prefixes:
        words |= {prefix + value for value in FORMATTED_FAMILIES[prefix]}
    words |= ANNOUNCED
    unexplained = sorted(w for w in words if w not in EXPLANATIONS)
    assert unexplained == []


@pytest.mark.parametrize("word", sorted(EXPLANATIONS))
def test_each_explanation_is_complete(word: str) -> None:
    explanation = EXPLANATIONS[word]
    assert explanation.outcome == word
    assert is_outcome_word(word)
    assert explanation.rule
    assert explanation.rule != "unknown"
    assert explanation.sentence.endswith(".")
    assert explanation.would_change.endswith(".")


@pytest.mark.parametrize(
    ("word", "rule", "bearing"),
    [
        ("folder_not_synced", "E2 folder", Bearing.NOT_IN_CRM),
        ("before_sync_from", "E2 window", Bearing.NOT_IN_CRM),
        ("undated", "E2 window", Bearing.NOT_IN_CRM),
        ("no_contact", "E2 contact", Bearing.NOT_IN_CRM),
        ("email_sync_off", "E2 sync off", Bearing.NOT_IN_CRM),
        ("hidden", "E7 hidden", Bearing.IN_CRM),
        ("stored", "E2 stored", Bearing.IN_CRM),
        ("grant_gone", "A1 grant gone", Bearing.NOT_IN_CRM),
        (SkipReason.FOLDER_PENDING.value, "N2 folder pending", Bearing.UNDECIDED),
        ("failed", "retry", Bearing.UNDECIDED),
        ("echo", "C4 echo", Bearing.OTHER),
    ],
)
def test_the_rule_and_bearing_of_words_support_asks_about(
    word: str, rule: str, bearing: Bearing
) -> None:
    assert (explain_outcome(word).rule, explain_outcome(word).bearing) == (rule, bearing)


def test_an_unknown_word_gets_a_generic_explanation() -> None:
    explanation = explain_outcome("moved_to_mars")
    assert explanation.rule == "unknown"
    assert "'moved_to_mars'" in explanation.sentence
    assert explanation.bearing is Bearing.OTHER


def test_a_notification_without_an_outcome_is_described_by_its_state() -> None:
    assert outcome_word("failed", None) == "failed"
    assert outcome_word("processed", "stored") == "stored"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no_contact", True),
        ("delivery_send_success", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("No_contact", False),
        ("_x", False),
        ("1x", False),
        ("no contact", False),
        ("nö", False),
        ("x;drop", False),
    ],
)
def test_outcome_word_shape(text: str, expected: bool) -> None:
    assert is_outcome_word(text) is expected


@pytest.mark.parametrize(
    "text",
    ["", " m1", "m1 ", "m\x00", "m\x1b[2J", "m\u202e1", "m" * 1025],
    ids=["empty", "leading space", "trailing space", "NUL", "escape", "bidi", "too long"],
)
def test_a_message_id_that_cannot_be_one_is_refused(text: str) -> None:
    with pytest.raises(InvalidMessageId) as refused:
        validate_message_id(text)
    assert refused.value.reason == "invalid_message_id"


def test_a_message_id_is_kept_as_given() -> None:
    microsoft = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AWmH8=" + "x" * 900
    assert validate_message_id(microsoft) == microsoft


T0 = datetime(2026, 11, 1, tzinfo=UTC)
REP = RepFacts(has_mailbox=True, email_sync_enabled=True, sync_from=T0, backfill=None)


def seen(
    notification_id: str,
    outcome: str | None,
    minute: int,
    *,
    trigger: str = "message.created",
    state: str = "processed",
    handled_minute: int | None = None,
) -> SeenNotification:
    received = T0 + timedelta(minutes=minute)
    handled = T0 + timedelta(minutes=handled_minute) if handled_minute is not None else received
    return SeenNotification(notification_id, trigger, state, outcome, received, handled)


@pytest.mark.parametrize(
    ("stored", "notifications", "outcome", "decided_by"),
    [
        pytest.param(
            StoredEmail(False, False), [seen("n1", "stored", 1)], "stored", None, id="stored"
        ),
        pytest.param(
            StoredEmail(True, False), [seen("n1", "stored", 1)], "hidden", None, id="hidden"
        ),
        pytest.param(
            StoredEmail(False, True), [], "mailbox_deleted", None, id="deleted from the mailbox"
        ),
        pytest.param(
            None,
            [seen("n1", "no_contact", 1), seen("n2", "folder_not_synced", 2)],
            "folder_not_synced",
            "n2",
            id="the latest decides",
        ),
        pytest.param(
            None,
            [seen("n1", "no_contact", 1, handled_minute=9), seen("n2", "folder_not_synced", 2)],
            "no_contact",
            "n1",
            id="a reprocess decides again",
        ),
        pytest.param(
            None,
            [seen("n1", "no_contact", 1), seen("n2", "not_stored", 5, trigger="message.deleted")],
            "no_contact",
            "n1",
            id="a deletion does not decide",
        ),
        pytest.param(
            None,
            [seen("n2", "not_stored", 5, trigger="message.deleted")],
            "not_stored",
            "n2",
            id="only a deletion",
        ),
        pytest.param(
            None,
            [seen("n1", None, 1, state="failed")],
            "failed",
            "n1",
            id="a failed attempt",
        ),
        pytest.param(None, [], "never_seen", None, id="never seen"),
    ],
)
def test_the_decision_for_a_message(
    stored: StoredEmail | None,
    notifications: list[SeenNotification],
    outcome: str,
    decided_by: str | None,
) -> None:
    verdict = decide_verdict(stored, notifications, REP)
    assert (verdict.explanation.outcome, verdict.decided_by) == (outcome, decided_by)


def test_a_message_never_seen_says_what_may_have_covered_it() -> None:
    backfill = MailboxBackfill("done", T0, T0 + timedelta(days=30))
    rep = RepFacts(has_mailbox=False, email_sync_enabled=False, sync_from=T0, backfill=backfill)
    notes = decide_verdict(None, [], rep).notes
    assert notes[0] == "The rep has no mailbox connected: no notification can reach it."
    assert "Email sync is off" in notes[1]
    assert "2026-11-01T00:00:00Z" in notes[2]
    assert "latest mailbox backfill (done)" in notes[3]
    assert "2026-12-01T00:00:00Z" in notes[3]
    assert "RETENTION" in notes[4]
    assert "No mailbox backfill" in decide_verdict(None, [], REP).notes[1]


def test_reps_whose_mail_is_all_kept_out_rank_first() -> None:
    counts = {
        ("acme", "healthy"): {"stored": 10, "no_contact": 80, "updated": 10},
        ("acme", "wrong-folders"): {"folder_not_synced": 40},
        ("acme", "old-sync-from"): {"before_sync_from": 30, "stored": 1},
        ("acme", "quiet"): {"stored": 1},
        ("acme", "calendar-only-noise"): {"echo": 5},
    }
    ranked = worst_reps(counts, 3)
    assert [r.rep_id for r in ranked] == ["wrong-folders", "old-sync-from", "healthy"]
    assert ranked[0].to_json() == {
        "org_id": "acme",
        "rep_id": "wrong-folders",
        "total": 40,
        "not_stored": 40,
        "not_stored_share": 1.0,
        "outcomes": {"folder_not_synced": 40},
    }
    assert ranked[2].not_stored == 80
    assert [r.rep_id for r in worst_reps(counts, 10)][3:] == ["calendar-only-noise", "quiet"]


def test_reps_of_two_organizations_with_one_id_are_two_reps() -> None:
    counts = {("a", "ann"): {"stored": 2}, ("b", "ann"): {"folder_not_synced": 1}}
    ranked = worst_reps(counts, 10)
    assert [(r.org_id, r.rep_id, r.total) for r in ranked] == [("b", "ann", 1), ("a", "ann", 2)]
