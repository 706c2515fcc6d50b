"""What a notification handler reports back: the notification's state and its outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.notifications import Notification
from storage.tables import NotificationState
from workers.context import WorkerContext


@dataclass(frozen=True, slots=True)
class Handled:
    """The stored notification's new state, and what was done in a word (``stored``,
    ``no_contact``, ``gone``...), recorded so an operator can see why an email is or is not
    in the CRM."""

    state: NotificationState
    outcome: str

    @classmethod
    def processed(cls, outcome: str) -> Handled:
        return cls(NotificationState.PROCESSED, outcome)


Handler = Callable[[WorkerContext, Notification], Handled]


def acknowledge_only(context: WorkerContext, notification: Notification) -> Handled:
    """The handler for kinds of work with no behaviour yet: the notification is kept, no more."""
    return Handled(NotificationState.RECEIVED, "not_handled")
