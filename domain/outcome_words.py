"""The vocabulary of outcome words: what a word looks like, the words crmsync's own code
names, and what an explanation of a word holds.

Every stored notification records what its handler did in a word. The explanations of the
words (``domain.outcomes``) and those who read words (the decision for a message, the
ranking of reps, the API's filter by outcome) all need these, and none of those readers
needs the table of explanations itself, so the vocabulary stands apart from it.

:class:`Bearing` classifies each word by what it says about the message's email: in the CRM,
not in the CRM, not decided yet, or nothing at all (a calendar or account notification).
``crmsync status`` ranks reps by the share of their message notifications that ended with
the email not in the CRM.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import answers

# A stored notification without an outcome is described by its state instead: its attempt
# failed (``failed``), or it was stored before its handler finished (``pending``).
FAILED = "failed"
PENDING = "pending"
# The decision for a message of which crmsync has no record, and for an email stored but
# hidden in the CRM (E7): not outcomes of a handler, but answers all the same.
NEVER_SEEN = "never_seen"
HIDDEN = "hidden"
STORED = "stored"
MAILBOX_DELETED = "mailbox_deleted"

# Words are short snake_case (raw_notifications.outcome holds 64 characters).
MAX_WORD_LENGTH = 64


class Bearing(StrEnum):
    """What an outcome says about whether the message's email is in the CRM."""

    IN_CRM = "in_crm"
    NOT_IN_CRM = "not_in_crm"
    UNDECIDED = "undecided"  # parked, failed and retried, or not handled yet
    OTHER = "other"  # not about an email (calendar, account, folder cache)


@dataclass(frozen=True, slots=True)
class Explanation:
    """An outcome word for people: the rule that decided, what happened, what would change it."""

    outcome: str
    rule: str
    sentence: str
    would_change: str
    bearing: Bearing

    def to_json(self) -> answers.Explanation:
        return {
            "outcome": self.outcome,
            "rule": self.rule,
            "sentence": self.sentence,
            "would_change": self.would_change,
        }


def outcome_word(state: str, outcome: str | None) -> str:
    """The word describing a stored notification: its outcome, else its state (``failed``,
    ``pending``), since a failed attempt records no outcome."""
    return outcome if outcome else state


def is_outcome_word(text: str) -> bool:
    """Whether ``text`` has the shape of an outcome word: lower-case ASCII letters, digits and
    ``_``, starting with a letter, at most :data:`MAX_WORD_LENGTH` characters."""
    return (
        0 < len(text) <= MAX_WORD_LENGTH
        and text.isascii()
        and text[0].isalpha()
        and all(c.islower() or c.isdigit() or c == "_" for c in text)
    )
