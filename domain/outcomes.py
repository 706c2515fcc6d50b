"""What each recorded outcome word means to a person: the rule that decided, in a sentence,
and what would change it.

Every stored notification records what its handler did in a word (``stored``,
``no_contact``, ``folder_not_synced``...). Support staff asked "why is this email not in the
CRM?" should not have to know the handlers to read that word, so :data:`EXPLANATIONS` holds,
for every word a handler records, the rule that decided (``E2 folder``, ``E2 window``...), a
sentence saying what happened, and what would change the answer. A test collects the words
the handlers can return and fails on one without an entry here. A word this version does not
know (recorded by a newer one, say) gets a generic explanation, never an error.

The words themselves and the shape of an explanation are ``domain.outcome_words``'s; the
explanations are written in ``domain.email_outcomes`` (messages and emails) and
``domain.other_outcomes`` (folders, accounts, calendar). This module puts them together and
looks a word up.
"""

from __future__ import annotations

from domain.email_outcomes import EMAIL_EXPLANATIONS
from domain.other_outcomes import OTHER_EXPLANATIONS
from domain.outcome_words import Bearing, Explanation

_ENTRIES: tuple[Explanation, ...] = (*EMAIL_EXPLANATIONS, *OTHER_EXPLANATIONS)

EXPLANATIONS: dict[str, Explanation] = {entry.outcome: entry for entry in _ENTRIES}
if len(EXPLANATIONS) != len(_ENTRIES):  # pragma: no cover - a duplicate word in the table
    raise AssertionError("an outcome word is explained twice")


def explain_outcome(word: str) -> Explanation:
    """The explanation of ``word``; a generic one for a word this version does not know."""
    known = EXPLANATIONS.get(word)
    if known is not None:
        return known
    return Explanation(
        word,
        "unknown",
        f"crmsync recorded the outcome {word!r}, which this version does not explain.",
        "Ask the crmsync operators; the notification's type and error say more.",
        Bearing.OTHER,
    )
