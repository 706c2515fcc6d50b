"""Which reps' mail is not reaching the CRM: outcome counts per rep, the worst first.

``crmsync status`` counts, per rep, the outcomes of its message notifications of the last
day. A rep whose mail all ends ``folder_not_synced`` or ``before_sync_from`` has settings
that keep its mail out, and must stand out from reps whose mail is mostly stored or matches
no contact, so reps are ranked by the share of their notifications that ended with the
email not in the CRM (:class:`domain.outcome_words.Bearing`), then by how many there were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.outcome_words import Bearing
from domain.outcomes import explain_outcome

DEFAULT_WORST_REPS = 10


RepKey = tuple[str, str]
"""A rep across organizations: (organization id, rep id)."""


@dataclass(frozen=True, slots=True)
class RepOutcomes:
    """One rep's outcome counts, and how many of them left the email out of the CRM."""

    org_id: str
    rep_id: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def not_stored(self) -> int:
        return sum(
            count
            for word, count in self.counts.items()
            if explain_outcome(word).bearing in (Bearing.NOT_IN_CRM, Bearing.UNDECIDED)
        )

    @property
    def not_stored_share(self) -> float:
        return self.not_stored / self.total if self.total else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "org_id": self.org_id,
            "rep_id": self.rep_id,
            "total": self.total,
            "not_stored": self.not_stored,
            "not_stored_share": round(self.not_stored_share, 4),
            "outcomes": dict(sorted(self.counts.items())),
        }


def worst_reps(counts: Mapping[RepKey, Mapping[str, int]], limit: int) -> list[RepOutcomes]:
    """The ``limit`` reps with the largest share of notifications not stored (more
    notifications first on a tie, then by organization and rep id, so the order is stable)."""
    reps = [RepOutcomes(org_id, rep_id, dict(words)) for (org_id, rep_id), words in counts.items()]
    reps.sort(key=lambda r: (-r.not_stored_share, -r.total, r.org_id, r.rep_id))
    return reps[:limit]
