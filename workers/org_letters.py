"""An offboarded organization's dead letters, deleted from Redis with its rows.

Dead letters are copies of the messages that failed: a notification's payload (a rep's
email addresses and subjects), a row's id. Offboarding deletes every row of an organization;
its letters in Redis are data of it too, and a removed customer's mail must not stay behind
in the dead letters until an operator purges them. So the offboarding deletes them as well,
once as its rows are about to go (while a letter's backfill, delivery or email row still
says whose it is), and once more on its last pass, for letters that failed late.

Whose a letter is comes from ``workers.letter_orgs``; a notification's letter is also the
organization's when it names one of the grants the organization held (its reps hold none
once they were disconnected).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import redis
from sqlalchemy import Engine

from domain.dead_letters import Selection
from workers.deadletters import DeadLetterStore, read_dead_letters
from workers.letter_orgs import grant_of, letter_orgs
from workers.queues import all_queue_names


@dataclass(frozen=True, slots=True)
class OrgLetters:
    """The dead letters of the Redis namespace the workers use."""

    client: redis.Redis
    namespace: str

    def purge(self, engine: Engine, org_id: str, grants: Collection[str]) -> int:
        """Delete every dead letter of ``org_id`` (or naming one of ``grants``); how many."""
        letters = read_dead_letters(
            self.client, self.namespace, all_queue_names(), Selection(), letter_orgs(engine)
        )
        held = set(grants)
        theirs = [
            letter
            for letter in letters
            if letter.org_id == org_id or grant_of(letter.message) in held
        ]
        store = DeadLetterStore(self.client, self.namespace)
        return sum(1 for letter in theirs if store.purge(letter))
