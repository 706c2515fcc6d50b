"""An organization (a CRM customer) as the API answers it: its Nylas access, with whether
each secret is set and never the secret, and its reps' defaults."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from domain.answers.words import NextCursor, Timestamp


class ProviderApp(TypedDict):
    """A customer's own provider app, used through a Credential of the deployment's Nylas
    application."""

    client_id: str
    client_secret_set: bool
    credential_id: Annotated[
        str | None, Field(description="the Credential at Nylas, once made (null before)")
    ]


class NylasApplication(TypedDict):
    """A Nylas application of the organization's own."""

    client_id: Annotated[str, Field(description="also the application_id of its notifications")]
    region: Annotated[str, Field(description="us or eu")]
    api_uri: str
    api_key_set: bool
    webhook_secrets_set: Annotated[
        int | None, Field(description="how many secrets it accepts (null: keys cannot open them)")
    ]


class OrgDefaults(TypedDict):
    """What the organization's reps start from; null: the deployment's setting."""

    lookback_days: int | None
    folders: list[str] | None
    calendar_name: str | None
    calendar_days_after: int | None
    return_url_origins: list[str] | None
    connect_allowed_domains: list[str] | None


class OffboardingGrants(TypedDict):
    total: int
    disconnected: Annotated[int, Field(description="deleted at Nylas so far")]


class Offboarding(TypedDict):
    """An organization being removed with everything it holds: its grants disconnected at
    Nylas, then its rows deleted in batches."""

    org_id: str
    state: Annotated[str, Field(description="disconnecting, deleting or done")]
    requested_by: str
    requested_at: Timestamp
    grants: OffboardingGrants
    deleted: Annotated[dict[str, int], Field(description="rows deleted so far, by table")]
    finished_at: Timestamp | None


class OffboardingPlan(TypedDict):
    """What offboarding the organization would remove (a dry run): nothing is changed."""

    org_id: str
    dry_run: bool
    grants: Annotated[int, Field(description="grants that would be disconnected at Nylas")]
    rows: Annotated[dict[str, int], Field(description="rows that would be deleted, by table")]


class Organization(TypedDict):
    """A CRM customer of this deployment."""

    id: str
    name: str
    provider_apps: dict[str, ProviderApp]
    nylas_application: NylasApplication | None
    defaults: OrgDefaults
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    offboarding: Annotated[
        Offboarding | None, Field(description="its removal, while under way (null: none)")
    ]


class OrganizationPage(TypedDict):
    data: list[Organization]
    next_cursor: NextCursor


class OrgToken(TypedDict):
    """A bearer token of one organization: it sees and changes that organization only."""

    id: str
    org_id: str
    name: str
    created_at: Timestamp
    last_used_at: Annotated[Timestamp | None, Field(description="to the minute; null: never used")]
    revoked_at: Timestamp | None
    token: NotRequired[
        Annotated[str, Field(description="the token (cso_...): in the creation's answer only")]
    ]


class OrgTokenList(TypedDict):
    data: list[OrgToken]
