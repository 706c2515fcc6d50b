"""Organizations' rules as tables: ids, documents, write-only secrets, and sealing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from crmsync.settings import DEV_SECRET_KEY, Settings, SettingsError
from domain.inputs import InvalidInput
from domain.org_scope import acts_on_grant
from domain.organizations import (
    InvalidOrganization,
    OrgDefaults,
    OrgSecrets,
    listed_or,
    lookback_of,
    merged_secrets,
    missing_secrets,
    parse_org,
    validate_org_id,
)
from domain.reps import parse_rep
from storage.sealing import SecretBox, SecretsUnavailable, new_key


@pytest.mark.parametrize(
    ("org_id", "valid"),
    [
        ("acme", True),
        ("Acme-Corp_2.eu", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("-acme", False),
        (".acme", False),
        ("acme corp", False),
        ("acme/eu", False),
        ("açme", False),
        ("acme\n", False),
    ],
)
def test_an_organization_id_is_plain_and_short(org_id: str, valid: bool) -> None:
    if valid:
        assert validate_org_id(org_id) == org_id
    else:
        with pytest.raises(InvalidOrganization):
            validate_org_id(org_id)


OWN = {"client_id": "app-1", "api_key": "key-1", "webhook_secrets": ["s1"]}
STORED = OrgSecrets(api_key="old-key", webhook_secrets=("old",), client_secrets={"google": "g"})


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # Given secrets replace the stored ones.
        ({"name": "A", "nylas_application": OWN}, OrgSecrets("key-1", ("s1",), {})),
        # Left out, the stored ones stay while the application is still named.
        (
            {"name": "A", "nylas_application": {"client_id": "app-1"}},
            OrgSecrets("old-key", ("old",), {}),
        ),
        # A provider app left without its secret keeps the stored one...
        (
            {"name": "A", "provider_apps": {"google": {"client_id": "c"}}},
            OrgSecrets(None, (), {"google": "g"}),
        ),
        # ... and one no longer named takes its secret with it.
        ({"name": "A"}, OrgSecrets()),
        (
            {"name": "A", "provider_apps": {"microsoft": {"client_id": "m", "client_secret": "x"}}},
            OrgSecrets(None, (), {"microsoft": "x"}),
        ),
    ],
    ids=["replaced", "kept", "app kept", "all dropped", "app swapped"],
)
def test_secrets_are_write_only_and_kept_when_left_out(
    document: dict[str, Any], expected: OrgSecrets
) -> None:
    assert merged_secrets(STORED, parse_org(document)) == expected


@pytest.mark.parametrize(
    ("document", "missing"),
    [
        ({"name": "A"}, []),
        ({"name": "A", "nylas_application": OWN}, []),
        (
            {"name": "A", "nylas_application": {"client_id": "a"}},
            ["nylas_application.api_key", "nylas_application.webhook_secrets"],
        ),
        (
            {"name": "A", "provider_apps": {"google": {"client_id": "c"}}},
            ["provider_apps.google.client_secret"],
        ),
    ],
)
def test_what_an_access_needs_is_named_by_its_field(
    document: dict[str, Any], missing: list[str]
) -> None:
    parsed = parse_org(document)
    assert missing_secrets(parsed, merged_secrets(OrgSecrets(), parsed)) == missing


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (
            {
                "name": "A",
                "provider_apps": {"google": {"client_id": "c"}},
                "nylas_application": OWN,
            },
            InvalidOrganization,
        ),
        ({"name": "A", "defaults": {"folders": ["Inbox", 3]}}, InvalidInput),
        (
            {"name": "A", "defaults": {"return_url_origins": ["ftp://crm.example"]}},
            InvalidOrganization,
        ),
        ({"name": "A", "defaults": {"calendar_days_after": 366}}, InvalidInput),
        ({"name": "A", "nylas_application": {"client_id": " "}}, InvalidInput),
        ({"name": "A", "provider_apps": {"imap": {"client_id": "c"}}}, InvalidInput),
    ],
    ids=[
        "both accesses",
        "a folder that is a number",
        "an ftp origin",
        "366 days after",
        "a blank client id",
        "imap has no Credentials",
    ],
)
def test_a_bad_document_is_refused(document: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_org(document)


def test_defaults_are_normalised_and_deduplicated() -> None:
    defaults = parse_org(
        {
            "name": "A",
            "defaults": {
                "folders": "Inbox; Sent",
                "return_url_origins": ["HTTPS://CRM.example:443", "https://crm.example/"],
                "connect_allowed_domains": ["Acme.example", "@acme.example"],
            },
        }
    ).defaults
    assert defaults.folders == ("Inbox", "Sent")
    assert defaults.return_url_origins == ("https://crm.example",)
    assert defaults.connect_allowed_domains == ("acme.example",)


def test_a_sealed_document_opens_with_any_key_and_reseals_with_the_first() -> None:
    old, new = new_key(), new_key()
    sealed = SecretBox([old]).seal({"api_key": "k"})

    rotated = SecretBox([new, old])
    assert rotated.open(sealed) == {"api_key": "k"}
    resealed = rotated.reseal(sealed)
    assert SecretBox([new]).open(resealed) == {"api_key": "k"}
    with pytest.raises(SecretsUnavailable) as refused:
        SecretBox([new_key()]).open(sealed)
    assert refused.value.reason == "secret_key_mismatch"
    assert "k" not in refused.value.message.split()


def test_no_key_seals_nothing() -> None:
    with pytest.raises(SecretsUnavailable) as refused:
        SecretBox().seal({"api_key": "k"})
    assert refused.value.reason == "secret_keys_not_configured"


REDIS = {
    "REDIS_URL": "redis://localhost",
    "NYLAS_API_KEY": "k",
    "NYLAS_WEBHOOK_SECRETS": "w",
    "CRMSYNC_API_TOKENS": "t",
}


def test_keys_come_from_the_environment_first_first() -> None:
    first, second = new_key(), new_key()
    settings = Settings.from_environ({**REDIS, "CRMSYNC_SECRET_KEYS": f"{first}, {second}"})
    assert [str(k) for k in settings.secret_keys] == [first, second]
    assert first not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "keys"),
    [({}, [DEV_SECRET_KEY]), (REDIS, [])],
    ids=["embedded: the development key", "deployed: none"],
)
def test_without_keys(environ: dict[str, str], keys: list[str]) -> None:
    assert [str(k) for k in Settings.from_environ(environ).secret_keys] == keys


@pytest.mark.parametrize(
    "value", ["not-a-key-but-a-secret-typo", DEV_SECRET_KEY], ids=["not a key", "the dev key"]
)
def test_a_bad_key_stops_start_up_without_showing_it(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({**REDIS, "CRMSYNC_SECRET_KEYS": f"{new_key()},{value}"})
    assert "key 2" in str(refused.value)
    assert value not in str(refused.value)


ORG_DEFAULTS = OrgDefaults(folders=("Deals",), calendar_name="Sales", calendar_days_after=7)


@pytest.mark.parametrize(
    ("settings", "folders", "calendar_name", "days_after"),
    [
        ({}, ("Deals",), "Sales", 7),
        ({"folders": None, "calendar_name": None}, ("Deals",), "Sales", 7),
        ({"folders": ""}, (), "Sales", 7),
        (
            {"folders": "Inbox", "calendar_name": "Own", "calendar_days_after": 0},
            ("Inbox",),
            "Own",
            0,
        ),
    ],
    ids=["left out", "null", "given empty", "given"],
)
def test_a_rep_takes_its_organizations_defaults_for_what_it_leaves_out(
    settings: dict[str, Any], folders: tuple[str, ...], calendar_name: str, days_after: int
) -> None:
    rep = parse_rep({"email": "a@acme.example", "settings": settings}, ORG_DEFAULTS)
    assert rep.folders.names == folders
    assert (rep.calendar_name, rep.calendar_days_after) == (calendar_name, days_after)


def test_without_defaults_a_rep_takes_the_manuals() -> None:
    rep = parse_rep({"email": "a@acme.example"})
    assert (rep.folders.names, rep.calendar_name, rep.calendar_days_after) == ((), None, 30)


@pytest.mark.parametrize(
    ("own", "deployment", "expected"),
    [(None, ("a",), {"a"}), ((), ("a",), set()), (("b",), ("a",), {"b"})],
    ids=["none: the deployment's", "an empty list: none", "its own"],
)
def test_an_organizations_list_replaces_the_deployments(
    own: tuple[str, ...] | None, deployment: tuple[str, ...], expected: set[str]
) -> None:
    assert listed_or(own, deployment) == expected


def test_the_look_back_is_the_organizations_when_it_has_one() -> None:
    deployment = timedelta(days=30)
    assert lookback_of(OrgDefaults(), deployment) == deployment
    assert lookback_of(OrgDefaults(lookback_days=0), deployment) == timedelta(0)


@pytest.mark.parametrize(
    ("via_org", "grant_org", "acts"),
    [
        (None, None, True),  # the deployment's secrets, a grant no rep holds yet
        (None, "acme", True),  # the deployment's application serves every organization
        ("acme", "acme", True),
        ("acme", None, True),  # no rep to act for: its handler finds none
        ("acme", "globex", False),  # acme's secrets cannot reach globex's rep
        ("acme", "default", False),
    ],
)
def test_a_notification_acts_only_on_grants_of_the_organization_it_came_through(
    via_org: str | None, grant_org: str | None, acts: bool
) -> None:
    assert acts_on_grant(via_org, grant_org) is acts
