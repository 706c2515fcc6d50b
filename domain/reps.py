"""A rep as the CRM registers it: mailbox, grant and settings (rule E1).

The CRM sends the whole rep on every write (``PUT``), so :func:`parse_rep` reads a complete
document and fills what is left out with the manuals' defaults: email and calendar sync on,
the inbox and sent folders, no calendar name (the first named "Calendar"), 30 days after
today for the calendar. Its shape is a model (:class:`RepInput`, ``domain.inputs``), which
also writes the OpenAPI schema; its rules are functions here, so a rule such as "days after
is between 0 and 365" is said once, with one table of tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from domain import answers
from domain.accounts import DEFAULT_SILENCE_AFTER, explain, is_silent
from domain.addresses import InvalidAddress, require_address
from domain.email_rules import EmailSyncSettings
from domain.errors import DomainError
from domain.folders import FolderSelection, InvalidFolderSetting, parse_folder_setting
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from domain.inputs import read_model
from domain.organizations import OrgDefaults
from domain.times import format_time, parse_rfc3339

DEFAULT_CALENDAR_DAYS_AFTER = 30
MAX_CALENDAR_DAYS_AFTER = 365
MAX_ID_LENGTH = 255
Provider = Literal["google", "microsoft", "imap", "icloud", "yahoo", "ews"]
PROVIDERS: frozenset[str] = frozenset(get_args(Provider))
# RFC 5321's limit on a forward path: no address is longer.
MAX_ADDRESS_LENGTH = 320
NO_DEFAULTS = OrgDefaults()


class InvalidRep(DomainError):
    """Raised when a rep sent by the CRM cannot be stored as one."""


@dataclass(frozen=True, slots=True)
class RepDocument:
    """A rep as the CRM describes it; ``sync_from`` None means "from the authorisation"."""

    email: str
    grant_id: str | None
    provider: str | None
    email_sync_enabled: bool
    folders: FolderSelection
    calendar_sync_enabled: bool
    calendar_name: str | None
    calendar_days_after: int
    sync_from: datetime | None


@dataclass(frozen=True, slots=True)
class Rep:
    """A stored rep: the CRM's document plus what crmsync derived (its sync-from). Its id
    is its organization's: ``org_id`` and ``rep_id`` together name it."""

    org_id: str
    rep_id: str
    email: str
    grant_id: str | None
    provider: str | None
    email_sync_enabled: bool
    folders: FolderSelection
    calendar_sync_enabled: bool
    calendar_name: str | None
    calendar_days_after: int
    sync_from: datetime
    account_status: str
    connected_at: datetime | None = None
    status_changed_at: datetime | None = None
    last_activity_at: datetime | None = None

    def email_settings(self) -> EmailSyncSettings:
        return EmailSyncSettings(self.email_sync_enabled, self.folders, self.sync_from)

    def is_silent(self, now: datetime, silence_after: timedelta = DEFAULT_SILENCE_AFTER) -> bool:
        """Whether its healthy mailbox has not been heard from for ``silence_after``."""
        return is_silent(
            self.account_status, self.last_activity_at, self.connected_at, now, silence_after
        )

    def to_json(
        self, now: datetime | None = None, silence_after: timedelta = DEFAULT_SILENCE_AFTER
    ) -> answers.Rep:
        """The rep as the API shows it and its changes carry it.

        Given ``now``, the account status also says whether the mailbox has gone silent;
        a change records the rep as it was, so it carries no such judgement of the moment.
        """
        explanation = explain(self.account_status)
        account: answers.AccountStatus = {
            "status": self.account_status,
            "meaning": explanation.meaning if explanation else None,
            "next_action": explanation.next_action if explanation else None,
            "since": _time_or_none(self.status_changed_at),
            "connected_at": _time_or_none(self.connected_at),
            "last_activity_at": _time_or_none(self.last_activity_at),
        }
        if now is not None:
            account["silent"] = self.is_silent(now, silence_after)
        return {
            "id": self.rep_id,
            "email": self.email,
            "grant_id": self.grant_id,
            "provider": self.provider,
            "settings": {
                "email_sync": self.email_sync_enabled,
                "folders": list(self.folders.names),
                "calendar_sync": self.calendar_sync_enabled,
                "calendar_name": self.calendar_name,
                "calendar_days_after": self.calendar_days_after,
                "sync_from": format_time(self.sync_from),
            },
            "account_status": account,
        }


def _time_or_none(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def validate_rep_id(rep_id: str) -> str:
    """A rep id from a URL: the CRM's own identifier, kept as given.

    Raises:
        InvalidRep: empty, too long, or with surrounding whitespace.
    """
    if not rep_id or rep_id != rep_id.strip() or len(rep_id) > MAX_ID_LENGTH:
        raise InvalidRep("invalid_rep_id", "a rep id is 1 to 255 characters, no outer spaces")
    return rep_id


class RepSettingsInput(BaseModel):
    """A rep's settings (E1) as the CRM sends them; what is left out takes the manuals'
    defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email_sync: bool = Field(True, description="store the rep's emails (E2)")
    # fail_fast: a list of wrong names is refused at the first, the rest not read (32,000
    # numbers in a 64 KiB body were 32,000 error records: 50 MB, 0.4 s on the event loop).
    folders: str | Annotated[list[str], Field(fail_fast=True)] | None = Field(
        None,
        description="the final names of the folders to sync, ';'-separated "
        '("CoolStuff;Awesome") or a list; empty or null: the inbox and sent folders',
    )
    calendar_sync: bool = Field(True, description="write action items to the calendar (C1)")
    calendar_name: str | None = Field(
        None,
        max_length=MAX_ID_LENGTH,
        description="the calendar to write to; null: the first named Calendar, else the primary",
    )
    calendar_days_after: int | None = Field(
        None,
        ge=0,
        le=MAX_CALENDAR_DAYS_AFTER,
        description="how many days after today action items are written (null: 30)",
    )
    sync_from: str | None = Field(
        None,
        description="RFC 3339 with a zone; mail dated before it is never stored (null: the "
        "authorisation time minus CRMSYNC_SYNC_LOOKBACK_DAYS)",
        json_schema_extra={"format": "date-time"},
    )


class RepInput(BaseModel):
    """The body of PUT /v1/reps/{rep_id}: the whole rep, every time."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "email": "ann@acme.example",
                    "grant_id": "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                    "provider": "google",
                    "settings": {"folders": "Inbox;Sent;Proposals", "calendar_days_after": 14},
                }
            ]
        },
    )

    email: str = Field(description="the rep's mailbox address", max_length=MAX_ADDRESS_LENGTH)
    grant_id: str | None = Field(
        None, description="the Nylas grant of the rep's mailbox, once connected"
    )
    provider: Provider | None = Field(None, description="the mailbox's provider, if known")
    settings: RepSettingsInput = RepSettingsInput()  # frozen: one default is safe to share


def parse_rep(document: object, defaults: OrgDefaults = NO_DEFAULTS) -> RepDocument:
    """Read a rep document from the CRM: its shape by :class:`RepInput`, then E1's rules;
    a setting left out takes its organization's default, else the manuals'.

    ``{"email": "ann@acme.com", "grant_id": "...", "provider": "google",
    "settings": {"email_sync": true, "folders": "Inbox;Sent", "calendar_sync": true,
    "calendar_name": null, "calendar_days_after": 30, "sync_from": "2026-10-01T00:00:00Z"}}``

    Raises:
        InvalidInput: not that shape (``unknown_field`` for a key it does not have).
        InvalidRep: a field breaks a rule; the message names it.
    """
    given = read_model(RepInput, document, "invalid_rep")
    try:
        email = require_address(given.email)
    except InvalidAddress as error:
        raise InvalidRep("invalid_rep", f"'email': {error.message}") from error
    settings = given.settings
    return RepDocument(
        email=email,
        grant_id=_grant_id(given.grant_id),
        provider=given.provider,
        email_sync_enabled=settings.email_sync,
        folders=(
            _folders(settings.folders)
            if settings.folders is not None or defaults.folders is None
            else FolderSelection(defaults.folders)
        ),
        calendar_sync_enabled=settings.calendar_sync,
        calendar_name=_optional_name(settings.calendar_name, "calendar_name")
        or defaults.calendar_name,
        calendar_days_after=next(
            days
            for days in (
                settings.calendar_days_after,
                defaults.calendar_days_after,
                DEFAULT_CALENDAR_DAYS_AFTER,
            )
            if days is not None
        ),
        sync_from=_optional_time(settings.sync_from),
    )


def _folders(value: str | list[str] | None) -> FolderSelection:
    if value is None:
        return FolderSelection()
    try:
        return parse_folder_setting(value)
    except InvalidFolderSetting as error:
        raise InvalidRep("invalid_rep", error.message) from error


def _grant_id(value: object) -> str | None:
    if value is None:
        return None
    grant_id = value.strip() if isinstance(value, str) else value
    if not is_grant_id(grant_id):
        raise InvalidRep("invalid_rep", f"'grant_id' must be a Nylas grant id: {GRANT_ID_SHAPE}")
    assert isinstance(grant_id, str)
    return grant_id


def _optional_name(value: str | None, key: str) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise InvalidRep("invalid_rep", f"'{key}' must be a non-empty string (or null)")
    return value.strip()


def _optional_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_rfc3339(value)
    if parsed is not None:
        return parsed
    raise InvalidRep(
        "invalid_rep", "'sync_from' must be an RFC 3339 time with a zone, e.g. 2026-10-01T00:00:00Z"
    )
