"""A rep as the CRM registers it: mailbox, grant and settings (rule E1).

The CRM sends the whole rep on every write (``PUT``), so :func:`parse_rep` reads a complete
document and fills what is left out with the manuals' defaults: email and calendar sync on,
the inbox and sent folders, no calendar name (the first named "Calendar"), 30 days after
today for the calendar. Validation lives here, not in the API, so a rule such as "days after
is between 0 and 365" is one function with one table of tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.accounts import DEFAULT_SILENCE_AFTER, explain, is_silent
from domain.addresses import InvalidAddress, require_address
from domain.email_rules import EmailSyncSettings
from domain.errors import DomainError
from domain.folders import FolderSelection, InvalidFolderSetting, parse_folder_setting
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from domain.times import format_time, parse_rfc3339

DEFAULT_CALENDAR_DAYS_AFTER = 30
MAX_CALENDAR_DAYS_AFTER = 365
MAX_ID_LENGTH = 255
PROVIDERS = frozenset({"google", "microsoft", "imap", "icloud", "yahoo", "ews"})


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
    """A stored rep: the CRM's document plus what crmsync derived (its sync-from)."""

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
    ) -> dict[str, Any]:
        """The rep as the API shows it and its changes carry it.

        Given ``now``, the account status also says whether the mailbox has gone silent;
        a change records the rep as it was, so it carries no such judgement of the moment.
        """
        explanation = explain(self.account_status)
        account: dict[str, Any] = {
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


def parse_rep(document: object) -> RepDocument:
    """Read a rep document from the CRM.

    ``{"email": "ann@acme.com", "grant_id": "...", "provider": "google",
    "settings": {"email_sync": true, "folders": "Inbox;Sent", "calendar_sync": true,
    "calendar_name": null, "calendar_days_after": 30, "sync_from": "2026-10-01T00:00:00Z"}}``

    Raises:
        InvalidRep: a field is missing or not valid; the message names it.
    """
    if not isinstance(document, Mapping):
        raise InvalidRep("invalid_rep", "a rep must be a JSON object")
    raw_email = document.get("email")
    if not isinstance(raw_email, str):
        raise InvalidRep("invalid_rep", "'email' (the rep's mailbox address) is required")
    try:
        email = require_address(raw_email)
    except InvalidAddress as error:
        raise InvalidRep("invalid_rep", f"'email': {error.message}") from error
    settings = document.get("settings", {})
    if not isinstance(settings, Mapping):
        raise InvalidRep("invalid_rep", "'settings' must be an object")
    provider = _optional_text(document, "provider")
    if provider is not None and provider not in PROVIDERS:
        raise InvalidRep("invalid_rep", f"'provider' must be one of {', '.join(sorted(PROVIDERS))}")
    return RepDocument(
        email=email,
        grant_id=_grant_id(document.get("grant_id")),
        provider=provider,
        email_sync_enabled=_flag(settings, "email_sync", default=True),
        folders=_folders(settings.get("folders")),
        calendar_sync_enabled=_flag(settings, "calendar_sync", default=True),
        calendar_name=_optional_text(settings, "calendar_name"),
        calendar_days_after=_days_after(settings.get("calendar_days_after")),
        sync_from=_optional_time(settings.get("sync_from")),
    )


def _folders(value: object) -> FolderSelection:
    if value is None:
        return FolderSelection()
    if not isinstance(value, str) and not (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        raise InvalidRep("invalid_rep", "'folders' must be a ';'-separated string or a list")
    try:
        return parse_folder_setting(value)
    except InvalidFolderSetting as error:
        raise InvalidRep("invalid_rep", error.message) from error


def _flag(settings: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = settings.get(key, default)
    if not isinstance(value, bool):
        raise InvalidRep("invalid_rep", f"'{key}' must be true or false")
    return value


def _days_after(value: object) -> int:
    if value is None:
        return DEFAULT_CALENDAR_DAYS_AFTER
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_CALENDAR_DAYS_AFTER
    ):
        raise InvalidRep(
            "invalid_rep",
            f"'calendar_days_after' must be a whole number from 0 to {MAX_CALENDAR_DAYS_AFTER}",
        )
    return value


def _grant_id(value: object) -> str | None:
    if value is None:
        return None
    grant_id = value.strip() if isinstance(value, str) else value
    if not is_grant_id(grant_id):
        raise InvalidRep("invalid_rep", f"'grant_id' must be a Nylas grant id: {GRANT_ID_SHAPE}")
    assert isinstance(grant_id, str)
    return grant_id


def _optional_text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise InvalidRep("invalid_rep", f"'{key}' must be a non-empty string (or null)")
    return value.strip()


def _optional_time(value: object) -> datetime | None:
    if value is None:
        return None
    parsed = parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is not None:
        return parsed
    raise InvalidRep(
        "invalid_rep", "'sync_from' must be an RFC 3339 time with a zone, e.g. 2026-10-01T00:00:00Z"
    )
