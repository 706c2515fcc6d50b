"""Organizations: the CRM customers one deployment serves, each with its Nylas access and
the defaults its reps start from.

An organization reaches Nylas in one of two ways, as the vendors crmsync replaces do:

- **provider apps** under the deployment's Nylas application: the customer's own Google or
  Azure application (its client id and secret), which Nylas keeps as a *Credential* of the
  deployment's Connector for that provider ("using multiple provider applications"); hosted
  OAuth for the organization's reps names that credential;
- **its own Nylas application**: API key, client id (which is also the ``application_id``
  its notifications carry), region, and webhook secrets.

Without either, it uses the deployment's application and provider apps, as a deployment
without organizations does. Secrets are write-only: a document that leaves one out keeps
the one stored (they are never shown back, so a CRM could not send them again), and an
answer says only whether each is set. Pure functions and models; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import DomainError
from domain.folders import InvalidFolderSetting, parse_folder_setting
from domain.inputs import DisplayName, NonBlank, read_model
from domain.mailbox_binding import InvalidDomain, parse_domain
from domain.return_urls import InvalidReturnUrl, parse_origin

DEFAULT_ORG_ID = "default"
MAX_ORG_ID_LENGTH = 64
ORG_ID_SHAPE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
ORG_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_ORG_ID = re.compile(ORG_ID_PATTERN)

Region = Literal["us", "eu"]
# Where each region's API answers (the SDK's REGION_CONFIG).
API_URIS: dict[str, str] = {"us": "https://api.us.nylas.com", "eu": "https://api.eu.nylas.com"}
CredentialProvider = Literal["google", "microsoft"]
CREDENTIAL_PROVIDERS: tuple[str, ...] = get_args(CredentialProvider)
MAX_WEBHOOK_SECRETS = 5  # the current one and those still signing during a rotation
MAX_LISTED = 50  # origins or domains an organization lists
MAX_LOOKBACK_DAYS = 3_650


class InvalidOrganization(DomainError):
    """Raised when an organization the CRM vendor sent cannot be stored as one."""


def validate_org_id(org_id: str) -> str:
    """An organization id from a URL: the vendor's own identifier for its customer.

    Raises:
        InvalidOrganization: not of :data:`ORG_ID_SHAPE`.
    """
    if not _ORG_ID.fullmatch(org_id):
        raise InvalidOrganization("invalid_org_id", f"an organization id is {ORG_ID_SHAPE}")
    return org_id


ListedText = Annotated[str, Field(min_length=1, max_length=255)]
Secret = Annotated[str, Field(min_length=1, max_length=1_024, pattern=r"^\S+$")]


class ProviderAppInput(BaseModel):
    """A customer's own provider application (GCP project or Azure app)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: NonBlank = Field(max_length=255, description="the provider app's client id")
    client_secret: Secret | None = Field(
        None, description="write-only; left out, the stored one is kept"
    )


class NylasApplicationInput(BaseModel):
    """A Nylas application of the organization's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: NonBlank = Field(
        max_length=255,
        description="the application's client id: also the application_id of its notifications",
    )
    region: Region = Field("us", description="the API region: us or eu")
    api_key: Secret | None = Field(None, description="write-only; left out, the stored one is kept")
    webhook_secrets: Annotated[
        list[Secret], Field(min_length=1, max_length=MAX_WEBHOOK_SECRETS)
    ] | (None) = Field(
        None,
        description="write-only: the secrets its webhooks are signed with, several during a "
        "rotation; left out, the stored ones are kept",
    )


class OrgDefaultsInput(BaseModel):
    """What the organization's reps start from; null keeps the deployment's setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback_days: int | None = Field(
        None, ge=0, le=MAX_LOOKBACK_DAYS, description="sync-from: days before the registration"
    )
    folders: str | Annotated[list[str], Field(fail_fast=True, max_length=MAX_LISTED)] | None = (
        Field(None, description="the folders a rep syncs when its own setting is left out")
    )
    calendar_name: NonBlank | None = Field(None, max_length=255)
    calendar_days_after: int | None = Field(None, ge=0, le=365)
    return_url_origins: Annotated[list[ListedText], Field(max_length=MAX_LISTED)] | None = Field(
        None, description="origins a connection's return_url may have (https://crm.example)"
    )
    connect_allowed_domains: Annotated[list[ListedText], Field(max_length=MAX_LISTED)] | None = (
        Field(
            None,
            description="domains whose mailboxes a rep of the same domains may connect besides "
            "its own address",
        )
    )


class OrgInput(BaseModel):
    """The body of PUT /v1/orgs/{org_id}: the whole organization, every time (secrets aside)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme Corp",
                    "provider_apps": {
                        "microsoft": {"client_id": "5a7c...", "client_secret": "Vq8Q~..."}
                    },
                    "defaults": {"lookback_days": 90, "connect_allowed_domains": ["acme.example"]},
                }
            ]
        },
    )

    name: DisplayName = Field(max_length=200, description="the customer's name, for people")
    provider_apps: dict[CredentialProvider, ProviderAppInput] | None = Field(
        None, description="the customer's own provider apps, as Credentials of the deployment's"
    )
    nylas_application: NylasApplicationInput | None = Field(
        None, description="a Nylas application of the customer's own (not with provider_apps)"
    )
    defaults: OrgDefaultsInput = OrgDefaultsInput()


@dataclass(frozen=True, slots=True)
class OrgDefaults:
    """An organization's defaults for its reps; None leaves the deployment's."""

    lookback_days: int | None = None
    folders: tuple[str, ...] | None = None
    calendar_name: str | None = None
    calendar_days_after: int | None = None
    return_url_origins: tuple[str, ...] | None = None
    connect_allowed_domains: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ProviderApp:
    """A provider app as stored: its client id in the clear, its secret sealed apart."""

    client_id: str
    credential_id: str | None = None  # the Credential's id at Nylas, once it is made


@dataclass(frozen=True, slots=True)
class NylasApplication:
    client_id: str
    region: str

    @property
    def api_uri(self) -> str:
        return API_URIS[self.region]


@dataclass(frozen=True, slots=True)
class OrgSecrets:
    """What is never shown back: kept sealed (encrypted) at rest, as one document."""

    api_key: str | None = None
    webhook_secrets: tuple[str, ...] = ()
    client_secrets: dict[str, str] = field(default_factory=dict)  # by provider

    def to_document(self) -> dict[str, object]:
        return {
            "api_key": self.api_key,
            "webhook_secrets": list(self.webhook_secrets),
            "client_secrets": dict(self.client_secrets),
        }

    @classmethod
    def from_document(cls, document: dict[str, object]) -> OrgSecrets:
        api_key = document.get("api_key")
        secrets = document.get("webhook_secrets")
        client_secrets = document.get("client_secrets")
        return cls(
            api_key=api_key if isinstance(api_key, str) else None,
            webhook_secrets=tuple(s for s in secrets if isinstance(s, str))
            if isinstance(secrets, list)
            else (),
            client_secrets={str(k): v for k, v in client_secrets.items() if isinstance(v, str)}
            if isinstance(client_secrets, dict)
            else {},
        )

    def is_empty(self) -> bool:
        return self.api_key is None and not self.webhook_secrets and not self.client_secrets


@dataclass(frozen=True, slots=True)
class Organization:
    """An organization as stored, its secrets aside."""

    org_id: str
    name: str
    provider_apps: dict[str, ProviderApp]
    nylas_application: NylasApplication | None
    defaults: OrgDefaults
    version: int = 1


@dataclass(frozen=True, slots=True)
class OrgDocument:
    """An organization as the vendor sent it: what to store, and the secrets it gave."""

    name: str
    provider_apps: dict[str, ProviderApp]
    nylas_application: NylasApplication | None
    defaults: OrgDefaults
    given_secrets: OrgSecrets  # only those the document carried


def parse_org(document: object) -> OrgDocument:
    """Read an organization from the vendor: its shape by :class:`OrgInput`, then its rules.

    Raises:
        InvalidInput: not that shape.
        InvalidOrganization: both kinds of Nylas access, an origin that is not one, or a
            domain that is not a domain.
    """
    given = read_model(OrgInput, document, "invalid_org")
    if given.provider_apps and given.nylas_application is not None:
        raise InvalidOrganization(
            "invalid_org",
            "give provider_apps (the deployment's Nylas application) or nylas_application "
            "(the organization's own), not both",
        )
    apps: dict[str, ProviderApp] = {
        provider: ProviderApp(app.client_id.strip())
        for provider, app in (given.provider_apps or {}).items()
    }
    own = given.nylas_application
    return OrgDocument(
        name=given.name.strip(),
        provider_apps=apps,
        nylas_application=NylasApplication(own.client_id.strip(), own.region) if own else None,
        defaults=_defaults(given.defaults),
        given_secrets=OrgSecrets(
            api_key=own.api_key if own else None,
            webhook_secrets=tuple(own.webhook_secrets or ()) if own else (),
            client_secrets={
                provider: app.client_secret
                for provider, app in (given.provider_apps or {}).items()
                if app.client_secret is not None
            },
        ),
    )


def merged_secrets(stored: OrgSecrets, document: OrgDocument) -> OrgSecrets:
    """The secrets to keep after ``document``: each one given replaces the stored one, one
    left out is kept while its app is still named, and an app no longer named takes its
    secrets with it."""
    given = document.given_secrets
    own = document.nylas_application is not None
    return OrgSecrets(
        api_key=(given.api_key or stored.api_key) if own else None,
        webhook_secrets=(given.webhook_secrets or stored.webhook_secrets) if own else (),
        client_secrets={
            provider: secret
            for provider in document.provider_apps
            if (secret := given.client_secrets.get(provider) or stored.client_secrets.get(provider))
        },
    )


def missing_secrets(document: OrgDocument, secrets: OrgSecrets) -> list[str]:
    """The secrets an organization's access needs and does not have, by their field path."""
    missing = [
        f"provider_apps.{provider}.client_secret"
        for provider in document.provider_apps
        if provider not in secrets.client_secrets
    ]
    if document.nylas_application is not None:
        if secrets.api_key is None:
            missing.append("nylas_application.api_key")
        if not secrets.webhook_secrets:
            missing.append("nylas_application.webhook_secrets")
    return missing


def _defaults(given: OrgDefaultsInput) -> OrgDefaults:
    folders = None
    if given.folders is not None:
        try:
            folders = parse_folder_setting(given.folders).names
        except InvalidFolderSetting as error:
            raise InvalidOrganization(
                "invalid_org", f"'defaults.folders': {error.message}"
            ) from None
    origins = None
    if given.return_url_origins is not None:
        try:
            origins = tuple(sorted({parse_origin(o) for o in given.return_url_origins}))
        except InvalidReturnUrl as error:
            raise InvalidOrganization(
                "invalid_org", f"'defaults.return_url_origins': {error.message}"
            ) from None
    domains = None
    if given.connect_allowed_domains is not None:
        try:
            domains = tuple(sorted({parse_domain(d) for d in given.connect_allowed_domains}))
        except InvalidDomain as error:
            raise InvalidOrganization(
                "invalid_org", f"'defaults.connect_allowed_domains': {error.message}"
            ) from None
    return OrgDefaults(
        lookback_days=given.lookback_days,
        folders=folders,
        calendar_name=given.calendar_name.strip() if given.calendar_name else None,
        calendar_days_after=given.calendar_days_after,
        return_url_origins=origins,
        connect_allowed_domains=domains,
    )


def lookback_of(defaults: OrgDefaults, deployment: timedelta) -> timedelta:
    """How far back a rep's sync reaches: its organization's look-back, else the deployment's."""
    if defaults.lookback_days is None:
        return deployment
    return timedelta(days=defaults.lookback_days)


def listed_or(own: tuple[str, ...] | None, deployment: Collection[str]) -> frozenset[str]:
    """An organization's list (origins, domains) where it has one, else the deployment's."""
    return frozenset(deployment if own is None else own)
