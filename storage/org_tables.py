"""The tables of organizations: columns and unique keys only, like ``storage.tables``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.organizations import MAX_ORG_ID_LENGTH
from storage.types import JsonDocument, UTCDateTime


class OrganizationRow(SQLModel, table=True):
    """A CRM customer: its Nylas access, its reps' defaults, and its secrets sealed apart.

    Unique on ``nylas_client_id``: the ingress routes a notification to the organization of
    its ``application_id``, so two organizations cannot claim one application.
    """

    __tablename__ = "organizations"
    __table_args__ = (UniqueConstraint("nylas_client_id", name="uq_organizations_nylas_client_id"),)

    id: str = Field(primary_key=True, max_length=MAX_ORG_ID_LENGTH)
    name: str = Field(max_length=200)
    # {provider: {"client_id", "credential_id"}}: the customer's own provider apps.
    provider_apps: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    nylas_client_id: str | None = Field(default=None, max_length=255)
    nylas_region: str | None = Field(default=None, max_length=8)
    defaults: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    # The secrets document, sealed by storage.sealing (never in the clear).
    sealed_secrets: str | None = Field(default=None, sa_column=Column(Text()))
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OrgTokenRow(SQLModel, table=True):
    """A bearer token of one organization: stored as its SHA-256 digest, never as itself.

    The token is 32 random bytes, so a digest without a salt or a slow hash is enough: no
    dictionary reaches it. Unique on the digest, which is how a request's token is found.
    """

    __tablename__ = "org_tokens"
    __table_args__ = (
        UniqueConstraint("digest", name="uq_org_tokens_digest"),
        Index("ix_org_tokens_org", "org_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(
        sa_column=Column(String(64), ForeignKey("organizations.id"), nullable=False)
    )
    name: str = Field(max_length=100)
    digest: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class OffboardingRow(SQLModel, table=True):
    """An organization's offboarding: its grants disconnected at Nylas, then every row of
    it deleted in batches, with the progress of each; kept once it is done, as the audit of
    who removed the organization, when, and how much went (it names the organization by
    its id, not by a key: the organization's own row is the last to go).
    """

    __tablename__ = "offboardings"
    __table_args__ = (
        Index("ix_offboardings_org", "org_id", "requested_at"),
        Index("ix_offboardings_state", "state", "queued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(max_length=MAX_ORG_ID_LENGTH)
    requested_by: str = Field(max_length=255)
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # disconnecting -> deleting -> done
    state: str = Field(max_length=16)
    # The grants its reps held (and its backfills read), to disconnect at Nylas.
    grants: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    grants_disconnected: int = Field(default=0)
    # Rows deleted so far, by table.
    deleted: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    queued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text()))
