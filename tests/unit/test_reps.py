"""A rep as the CRM registers it (rule E1), and its account status vocabulary (rule A1)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.accounts import (
    EXPLANATIONS,
    AccountStatus,
    StatusExplanation,
    explain,
    status_for_new_grant,
)
from domain.email_rules import EmailSyncSettings
from domain.errors import DomainError
from domain.folders import FolderSelection
from domain.grants import GRANT_ID_SHAPE
from domain.inputs import InvalidInput
from domain.organizations import DEFAULT_ORG_ID
from domain.reps import (
    DEFAULT_CALENDAR_DAYS_AFTER,
    MAX_CALENDAR_DAYS_AFTER,
    PROVIDERS,
    InvalidRep,
    Rep,
    RepDocument,
    parse_rep,
    validate_rep_id,
)

GRANT = "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
EMAIL = "ann@sellerco.example"
GRANT_ID_MESSAGE = f"'grant_id' must be a Nylas grant id: {GRANT_ID_SHAPE}"


def rep_document(**settings: Any) -> dict[str, Any]:
    return {"email": EMAIL, "settings": settings}


def test_a_rep_with_only_an_email_gets_the_manuals_defaults() -> None:
    assert parse_rep({"email": "Ann Lee <Ann@SellerCo.example>"}) == RepDocument(
        email=EMAIL,
        grant_id=None,
        provider=None,
        email_sync_enabled=True,
        folders=FolderSelection(),
        calendar_sync_enabled=True,
        calendar_name=None,
        calendar_days_after=DEFAULT_CALENDAR_DAYS_AFTER,
        sync_from=None,
    )
    assert DEFAULT_CALENDAR_DAYS_AFTER == 30


def test_a_full_rep_document_is_read() -> None:
    document = {
        "email": EMAIL,
        "grant_id": f" {GRANT} ",
        "provider": "google",
        "settings": {
            "email_sync": False,
            "folders": "Inbox\\CoolStuff;NotAsCoolStuff",
            "calendar_sync": False,
            "calendar_name": " Work ",
            "calendar_days_after": 14,
            "sync_from": "2026-10-01T00:00:00Z",
        },
    }

    assert parse_rep(document) == RepDocument(
        email=EMAIL,
        grant_id=GRANT,
        provider="google",
        email_sync_enabled=False,
        folders=FolderSelection(("CoolStuff", "NotAsCoolStuff")),
        calendar_sync_enabled=False,
        calendar_name="Work",
        calendar_days_after=14,
        sync_from=datetime(2026, 10, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("settings", "field", "expected"),
    [
        pytest.param(
            {"folders": None}, "folders", FolderSelection(), id="null folders are the default"
        ),
        pytest.param(
            {"folders": ""}, "folders", FolderSelection(), id="empty folders are the default"
        ),
        pytest.param(
            {"folders": "CoolStuff;NotAsCoolStuff"},
            "folders",
            FolderSelection(("CoolStuff", "NotAsCoolStuff")),
            id="folders are read from a semicolon list",
        ),
        pytest.param(
            {"folders": ["CoolStuff", "Inbox/Awesome"]},
            "folders",
            FolderSelection(("CoolStuff", "Awesome")),
            id="folders are read from a list",
        ),
        pytest.param(
            {"folders": []}, "folders", FolderSelection(), id="an empty folder list is the default"
        ),
        pytest.param(
            {"calendar_days_after": None}, "calendar_days_after", 30, id="null days after is thirty"
        ),
        pytest.param(
            {"calendar_days_after": 0}, "calendar_days_after", 0, id="zero days after is accepted"
        ),
        pytest.param(
            {"calendar_days_after": 365},
            "calendar_days_after",
            365,
            id="365 days after is accepted",
        ),
        pytest.param(
            {"calendar_name": None}, "calendar_name", None, id="a null calendar name is none"
        ),
        pytest.param(
            {"email_sync": True}, "email_sync_enabled", True, id="email sync true is accepted"
        ),
        pytest.param(
            {"calendar_sync": False},
            "calendar_sync_enabled",
            False,
            id="calendar sync false is accepted",
        ),
        pytest.param(
            {"sync_from": None},
            "sync_from",
            None,
            id="a null sync-from counts from the authorisation",
        ),
        pytest.param(
            {"sync_from": "2026-10-01T00:00:00Z"},
            "sync_from",
            datetime(2026, 10, 1, tzinfo=UTC),
            id="sync-from with Z is read in utc",
        ),
        pytest.param(
            {"sync_from": "2026-10-01T00:00:00z"},
            "sync_from",
            datetime(2026, 10, 1, tzinfo=UTC),
            id="sync-from with a lower-case z is read in utc",
        ),
        pytest.param(
            {"sync_from": "2026-10-01T02:00:00+02:00"},
            "sync_from",
            datetime(2026, 10, 1, tzinfo=UTC),
            id="sync-from with an offset is converted to utc",
        ),
        pytest.param(
            {"sync_from": "2026-09-30T19:00:00-05:00"},
            "sync_from",
            datetime(2026, 10, 1, tzinfo=UTC),
            id="sync-from with a negative offset is converted to utc",
        ),
        pytest.param(
            {"sync_from": "2026-10-01T00:00:00.250Z"},
            "sync_from",
            datetime(2026, 10, 1, 0, 0, 0, 250000, tzinfo=UTC),
            id="sync-from keeps its fraction of a second",
        ),
    ],
)
def test_a_setting_is_read(settings: dict[str, Any], field: str, expected: Any) -> None:
    assert getattr(parse_rep(rep_document(**settings)), field) == expected


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_known_provider_is_accepted(provider: str) -> None:
    assert parse_rep({"email": EMAIL, "provider": provider}).provider == provider


def test_the_known_providers_are_those_nylas_connects() -> None:
    assert frozenset({"google", "microsoft", "imap", "icloud", "yahoo", "ews"}) == PROVIDERS


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            [EMAIL], "the body: must be a JSON object", id="a rep that is not an object is refused"
        ),
        pytest.param(None, "the body: must be a JSON object", id="a null rep is refused"),
        pytest.param(
            {},
            "'email': is required",
            id="a rep without an email is refused",
        ),
        pytest.param(
            {"email": None},
            "'email': must be a valid string",
            id="a null email is refused",
        ),
        pytest.param(
            {"email": 5},
            "'email': must be a valid string",
            id="an email that is not text is refused",
        ),
        pytest.param(
            {"email": "ann.sellerco.example"},
            "'email': 'ann.sellerco.example' is not an email address",
            id="an email without an at sign is refused",
        ),
        pytest.param(
            {"email": "ann@x.example, bob@x.example"},
            "'email': 'ann@x.example, bob@x.example' is not an email address",
            id="two emails are refused",
        ),
        pytest.param(
            {"email": EMAIL, "settings": "CoolStuff"},
            "'settings': must be a JSON object",
            id="settings that are not an object are refused",
        ),
        pytest.param(
            {"email": EMAIL, "settings": ["email_sync"]},
            "'settings': must be a JSON object",
            id="settings as a list are refused",
        ),
        pytest.param(
            {"email": EMAIL, "provider": "gmail"},
            "'provider': must be 'google', 'microsoft', 'imap', 'icloud', 'yahoo' or 'ews'",
            id="an unknown provider is refused with the known ones",
        ),
        pytest.param(
            {"email": EMAIL, "provider": "Google"},
            "'provider': must be 'google', 'microsoft', 'imap', 'icloud', 'yahoo' or 'ews'",
            id="a provider in capitals is refused",
        ),
        pytest.param(
            {"email": EMAIL, "provider": ""},
            "'provider': must be 'google', 'microsoft', 'imap', 'icloud', 'yahoo' or 'ews'",
            id="an empty provider is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": ""},
            GRANT_ID_MESSAGE,
            id="an empty grant id is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "   "},
            GRANT_ID_MESSAGE,
            id="a blank grant id is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": 7},
            "'grant_id': must be a valid string",
            id="a numeric grant id is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "g" * 65},
            GRANT_ID_MESSAGE,
            id="a grant id over 64 characters is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "../webhooks/wh_0001?"},
            GRANT_ID_MESSAGE,
            id="a grant id climbing to another Nylas path is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "grant/messages"},
            GRANT_ID_MESSAGE,
            id="a grant id with a slash is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "grant?limit=1"},
            GRANT_ID_MESSAGE,
            id="a grant id with a query is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "grant#x"},
            GRANT_ID_MESSAGE,
            id="a grant id with a fragment is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "gr%2Fant"},
            GRANT_ID_MESSAGE,
            id="a percent-encoded grant id is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "grant\x00"},
            GRANT_ID_MESSAGE,
            id="a grant id with a NUL is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": "grånt"},
            GRANT_ID_MESSAGE,
            id="a grant id beyond ASCII is refused",
        ),
        pytest.param(
            {"email": EMAIL, "grant_id": ".."},
            GRANT_ID_MESSAGE,
            id="a grant id of dots is refused",
        ),
        pytest.param(
            rep_document(email_sync="yes"),
            "'settings.email_sync': must be true or false",
            id="email sync as text is refused",
        ),
        pytest.param(
            rep_document(email_sync=1),
            "'settings.email_sync': must be true or false",
            id="email sync as a number is refused",
        ),
        pytest.param(
            rep_document(email_sync=None),
            "'settings.email_sync': must be true or false",
            id="a null email sync is refused",
        ),
        pytest.param(
            rep_document(calendar_sync=0),
            "'settings.calendar_sync': must be true or false",
            id="calendar sync as a number is refused",
        ),
        pytest.param(
            rep_document(folders=5),
            "'settings.folders': must be a valid string or must be a valid list",
            id="folders as a number are refused",
        ),
        pytest.param(
            rep_document(folders=["CoolStuff", 5]),
            "'settings.folders': must be a valid string",
            id="a folder list with a number is refused",
        ),
        pytest.param(
            rep_document(folders={"CoolStuff": True}),
            "'settings.folders': must be a valid string or must be a valid list",
            id="folders as an object are refused",
        ),
        pytest.param(
            rep_document(folders="x" * 256),
            f"folder name {'x' * 40!r}... is longer than 255 characters",
            id="an over-long folder name is refused",
        ),
        pytest.param(
            rep_document(calendar_name=""),
            "'calendar_name' must be a non-empty string (or null)",
            id="an empty calendar name is refused",
        ),
        pytest.param(
            rep_document(calendar_name=["Work"]),
            "'settings.calendar_name': must be a valid string",
            id="a calendar name as a list is refused",
        ),
        pytest.param(
            rep_document(calendar_days_after=-1),
            "'settings.calendar_days_after': must be greater than or equal to 0",
            id="negative days after are refused",
        ),
        pytest.param(
            rep_document(calendar_days_after=MAX_CALENDAR_DAYS_AFTER + 1),
            "'settings.calendar_days_after': must be less than or equal to 365",
            id="366 days after are refused",
        ),
        pytest.param(
            rep_document(calendar_days_after=30.0),
            "'settings.calendar_days_after': must be a valid integer",
            id="fractional days after are refused",
        ),
        pytest.param(
            rep_document(calendar_days_after="30"),
            "'settings.calendar_days_after': must be a valid integer",
            id="days after as text are refused",
        ),
        pytest.param(
            rep_document(calendar_days_after=True),
            "'settings.calendar_days_after': must be a valid integer",
            id="days after as a boolean are refused",
        ),
        pytest.param(
            rep_document(sync_from="2026-10-01T00:00:00"),
            "'sync_from' must be an RFC 3339 time with a zone, e.g. 2026-10-01T00:00:00Z",
            id="a sync-from without a zone is refused",
        ),
        pytest.param(
            rep_document(sync_from="2026-10-01"),
            "'sync_from' must be an RFC 3339 time with a zone, e.g. 2026-10-01T00:00:00Z",
            id="a sync-from date without a time is refused",
        ),
        pytest.param(
            rep_document(sync_from="last month"),
            "'sync_from' must be an RFC 3339 time with a zone, e.g. 2026-10-01T00:00:00Z",
            id="a sync-from in words is refused",
        ),
        pytest.param(
            rep_document(sync_from=""),
            "'sync_from' must be an RFC 3339 time with a zone, e.g. 2026-10-01T00:00:00Z",
            id="an empty sync-from is refused",
        ),
        pytest.param(
            rep_document(sync_from=1759276800),
            "'settings.sync_from': must be a valid string",
            id="a sync-from as unix seconds is refused",
        ),
    ],
)
def test_an_invalid_rep_is_refused_naming_the_field(document: Any, message: str) -> None:
    # Its shape (InvalidInput, from the model) or one of E1's rules (InvalidRep).
    with pytest.raises(DomainError) as raised:
        parse_rep(document)

    assert raised.value.reason == "invalid_rep"
    assert raised.value.message == message


# The stored rep ----------------------------------------------------------------------------

REP = Rep(
    org_id=DEFAULT_ORG_ID,
    rep_id="rep-ann",
    email=EMAIL,
    grant_id=GRANT,
    provider="microsoft",
    email_sync_enabled=True,
    folders=FolderSelection(("CoolStuff", "Sent Items")),
    calendar_sync_enabled=False,
    calendar_name="Work",
    calendar_days_after=14,
    sync_from=datetime(2026, 10, 1, tzinfo=UTC),
    account_status="valid",
)


def test_a_rep_is_shown_with_its_settings_and_explained_status() -> None:
    assert REP.to_json() == {
        "id": "rep-ann",
        "email": EMAIL,
        "grant_id": GRANT,
        "provider": "microsoft",
        "settings": {
            "email_sync": True,
            "folders": ["CoolStuff", "Sent Items"],
            "calendar_sync": False,
            "calendar_name": "Work",
            "calendar_days_after": 14,
            "sync_from": "2026-10-01T00:00:00Z",
        },
        "account_status": {
            "status": "valid",
            "meaning": "The mailbox is connected and its credentials are valid.",
            "next_action": "Nothing.",
            "since": None,
            "connected_at": None,
            "last_activity_at": None,
        },
    }


def test_a_rep_shown_at_a_moment_says_whether_its_mailbox_went_silent() -> None:
    heard = datetime(2026, 11, 1, tzinfo=UTC)
    rep = dataclasses.replace(REP, connected_at=heard, last_activity_at=heard)

    assert rep.to_json(heard + timedelta(hours=23))["account_status"]["silent"] is False
    assert rep.to_json(heard + timedelta(hours=25))["account_status"]["silent"] is True
    assert "silent" not in rep.to_json()["account_status"]


def test_a_rep_with_default_folders_shows_an_empty_folder_list() -> None:
    rep = dataclasses.replace(REP, folders=FolderSelection(), grant_id=None)

    settings = rep.to_json()["settings"]

    assert settings["folders"] == []
    assert rep.to_json()["grant_id"] is None


def test_a_rep_with_a_status_outside_the_vocabulary_shows_no_explanation() -> None:
    rep = dataclasses.replace(REP, account_status="mystery")

    shown = rep.to_json()["account_status"]

    assert (shown["status"], shown["meaning"], shown["next_action"]) == ("mystery", None, None)


def test_a_reps_email_settings_are_what_the_email_rules_read() -> None:
    assert REP.email_settings() == EmailSyncSettings(
        True, FolderSelection(("CoolStuff", "Sent Items")), datetime(2026, 10, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    "rep_id",
    [
        pytest.param("rep-ann", id="a simple id is kept"),
        pytest.param("Ann Lee", id="an inner space is kept"),
        pytest.param("représentant-7", id="a unicode id is kept"),
        pytest.param("r" * 255, id="an id of 255 characters is kept"),
    ],
)
def test_a_rep_id_is_kept_as_given(rep_id: str) -> None:
    assert validate_rep_id(rep_id) == rep_id


@pytest.mark.parametrize(
    "rep_id",
    [
        pytest.param("", id="an empty id is refused"),
        pytest.param(" rep-ann", id="a leading space is refused"),
        pytest.param("rep-ann ", id="a trailing space is refused"),
        pytest.param("\trep-ann", id="a leading tab is refused"),
        pytest.param("r" * 256, id="an id of 256 characters is refused"),
    ],
)
def test_a_bad_rep_id_is_refused(rep_id: str) -> None:
    with pytest.raises(InvalidRep) as raised:
        validate_rep_id(rep_id)

    assert raised.value.reason == "invalid_rep_id"


# Account status vocabulary (A1) ------------------------------------------------------------

# The manuals' list, in their order: valid, invalid, downloading, running, partial,
# invalid-credentials, exception, sync-error, stopped, initializing.
MANUAL_STATUSES = [
    "valid",
    "invalid",
    "downloading",
    "running",
    "partial",
    "invalid-credentials",
    "exception",
    "sync-error",
    "stopped",
    "initializing",
]


def test_the_status_vocabulary_is_the_manuals() -> None:
    assert {status.value for status in AccountStatus} == set(MANUAL_STATUSES)
    assert set(EXPLANATIONS) == set(AccountStatus)


@pytest.mark.parametrize("status", MANUAL_STATUSES)
def test_every_status_has_a_meaning_and_a_next_action(status: str) -> None:
    explanation = explain(status)

    assert isinstance(explanation, StatusExplanation)
    assert explanation.meaning.strip()
    assert explanation.next_action.strip()
    assert explanation == EXPLANATIONS[AccountStatus(status)]


@pytest.mark.parametrize(
    ("status", "next_action"),
    [
        pytest.param(
            "invalid",
            "The rep reconnects the mailbox (authenticate again from the CRM).",
            id="an invalid account is reconnected by the rep",
        ),
        pytest.param(
            "invalid-credentials",
            "The rep reconnects the mailbox (authenticate again from the CRM).",
            id="invalid credentials are renewed by reconnecting",
        ),
        pytest.param(
            "stopped",
            "Connect the rep's mailbox from the CRM to start syncing.",
            id="a stopped account is connected from the crm",
        ),
    ],
)
def test_statuses_that_need_the_rep_say_so(status: str, next_action: str) -> None:
    explanation = explain(status)

    assert explanation is not None
    assert explanation.next_action == next_action


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("mystery", id="an unknown status has no explanation"),
        pytest.param("", id="an empty status has no explanation"),
        pytest.param("VALID", id="a status in capitals is not in the vocabulary"),
        pytest.param("sync_error", id="a status spelt with an underscore is not in the vocabulary"),
    ],
)
def test_a_status_outside_the_vocabulary_has_no_explanation(status: str) -> None:
    assert explain(status) is None


@pytest.mark.parametrize(
    ("grant_id", "status"),
    [
        pytest.param(GRANT, AccountStatus.VALID, id="a rep given a grant is valid"),
        pytest.param(None, AccountStatus.STOPPED, id="a rep without a grant is stopped"),
        pytest.param("", AccountStatus.STOPPED, id="a rep whose grant is cleared is stopped"),
    ],
)
def test_the_status_of_a_rep_whose_grant_was_just_set(
    grant_id: str | None, status: AccountStatus
) -> None:
    assert status_for_new_grant(grant_id) is status


@pytest.mark.parametrize(
    ("document", "fields"),
    [
        pytest.param(
            {"email": EMAIL, "settings": {"calendar_synk": False}},
            ["settings.calendar_synk"],
            id="a typo in a setting is named, not ignored",
        ),
        pytest.param(
            {"email": EMAIL, "grant": "g", "settings": {"folder": "x"}},
            ["grant", "settings.folder"],
            id="every unknown key is named",
        ),
    ],
)
def test_an_unknown_field_is_refused_by_name(document: Any, fields: list[str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_rep(document)

    assert raised.value.reason == "unknown_field"
    assert [f.path for f in raised.value.fields] == fields
    assert fields[0] in raised.value.message


def test_a_wrong_shape_names_every_field_that_is_wrong() -> None:
    document = {"email": 5, "settings": {"email_sync": "yes", "calendar_days_after": -1}}

    with pytest.raises(InvalidInput) as raised:
        parse_rep(document)

    assert raised.value.reason == "invalid_rep"
    assert [f.path for f in raised.value.fields] == [
        "email",
        "settings.email_sync",
        "settings.calendar_days_after",
    ]
    assert raised.value.message == "'email': must be a valid string"
