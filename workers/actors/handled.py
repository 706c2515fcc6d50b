"""What a notification handler reports back: the notification's state and its outcome, or
the message it read, to be saved together with other threads' messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.messages import MailMessage
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


@dataclass(frozen=True, slots=True)
class MessageToSave:
    """A message a notification brought (or that was fetched for it), not saved yet: the
    workers save the messages of concurrent notifications in one transaction
    (``workers.actors.finishing``), where the rep and its folders are read and E2 decides."""

    grant_id: str
    message: MailMessage
    observed_at: datetime
    # Set once the grant's folders were fetched for this message: it is not asked for again.
    folders_refreshed: bool = False


Handler = Callable[[WorkerContext, Notification], Handled | MessageToSave]


def acknowledge_only(context: WorkerContext, notification: Notification) -> Handled:
    """The handler for kinds of work with no behaviour yet: the notification is kept, no more."""
    return Handled(NotificationState.RECEIVED, "not_handled")
