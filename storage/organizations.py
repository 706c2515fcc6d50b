"""Organizations as stored: their Nylas access and defaults, their secrets sealed apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from domain import answers
from domain.organizations import (
    API_URIS,
    DEFAULT_ORG_ID,
    NylasApplication,
    Organization,
    OrgDefaults,
    OrgDocument,
    OrgSecrets,
    ProviderApp,
    merged_secrets,
    missing_secrets,
)
from domain.times import format_time
from storage.errors import NotFound, StorageConflict
from storage.org_tables import OffboardingRow, OrganizationRow
from storage.sealing import SecretBox

OFFBOARDED = "done"  # the state of an offboarding that is over (storage.offboarding.DONE)


class MissingSecrets(Exception):
    """Raised when an organization's Nylas access lacks a secret it needs (by field path)."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


@dataclass(frozen=True, slots=True)
class PutOrgResult:
    organization: Organization
    secrets: OrgSecrets
    created: bool
    changed: bool


def add_default_org(session: Session, now: datetime) -> None:
    """Store the default organization as the first migration made it (for a database
    emptied by hand: the migration itself keeps its own copy, as history)."""
    session.add(
        OrganizationRow(
            id=DEFAULT_ORG_ID,
            name="Default organization",
            provider_apps={},
            defaults={},
            created_at=now,
            updated_at=now,
        )
    )


def get_org(session: Session, org_id: str) -> OrganizationRow | None:
    return session.get(OrganizationRow, org_id)


def org_defaults(session: Session, org_id: str) -> OrgDefaults:
    """The defaults of the organization's reps (none for one not stored)."""
    row = session.get(OrganizationRow, org_id)
    return to_org(row).defaults if row is not None else OrgDefaults()


def require_org(session: Session, org_id: str, *, for_update: bool = False) -> OrganizationRow:
    """The stored organization ``org_id``.

    Raises:
        NotFound: no such organization.
    """
    row = session.get(OrganizationRow, org_id, with_for_update=for_update)
    if row is None:
        raise NotFound("unknown_org", f"no organization {org_id!r}")
    return row


def list_orgs(session: Session, *, after: str | None, limit: int) -> list[OrganizationRow]:
    """Organizations in id order, from just after ``after``."""
    query = select(OrganizationRow)
    if after is not None:
        query = query.where(OrganizationRow.id > after)
    return list(session.exec(query.order_by(col(OrganizationRow.id)).limit(limit)))


def put_org(
    session: Session, org_id: str, document: OrgDocument, box: SecretBox, now: datetime
) -> PutOrgResult:
    """Create or replace an organization; the secrets it leaves out are kept (write-only).

    Raises:
        MissingSecrets: its Nylas access needs a secret neither given nor stored.
        StorageConflict: another organization has the same Nylas application, or it is
            being removed.
        SecretsUnavailable: secrets to seal or open and no key for them.
    """
    row = session.get(OrganizationRow, org_id, with_for_update=True)
    # Also once its row is gone while it settles: a new organization of the same id would
    # lose its rows to the last pass.
    if offboarding_of(session, org_id) is not None:
        raise StorageConflict(
            "org_offboarding", "the organization is being removed; it cannot be changed"
        )
    stored = stored_secrets(row, box) if row is not None else OrgSecrets()
    secrets = merged_secrets(stored, document)
    missing = missing_secrets(document, secrets)
    if missing:
        raise MissingSecrets(missing)
    client_id = document.nylas_application.client_id if document.nylas_application else None
    if client_id is not None:
        holder = session.exec(
            select(OrganizationRow.id).where(
                OrganizationRow.nylas_client_id == client_id, OrganizationRow.id != org_id
            )
        ).first()
        if holder is not None:
            raise StorageConflict(
                "application_in_use",
                "another organization has this Nylas application; each has its own",
            )
    previous_apps = row.provider_apps if row is not None else {}
    values: dict[str, Any] = {
        "name": document.name,
        "provider_apps": {
            provider: _app_document(app, previous_apps.get(provider), stored, secrets, provider)
            for provider, app in document.provider_apps.items()
        },
        "nylas_client_id": client_id,
        "nylas_region": document.nylas_application.region if document.nylas_application else None,
        "defaults": _defaults_document(document.defaults),
    }
    # Every write seals anew, so the secrets move to the first key as organizations change.
    secrets_changed = secrets != stored
    created = row is None
    if row is None:
        row = OrganizationRow(id=org_id, created_at=now, updated_at=now, **values)
    elif not secrets_changed and all(getattr(row, k) == v for k, v in values.items()):
        return PutOrgResult(to_org(row), stored, created=False, changed=False)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
        row.updated_at = now
    row.sealed_secrets = None if secrets.is_empty() else box.seal(secrets.to_document())
    session.add(row)
    session.flush()
    return PutOrgResult(to_org(row), secrets, created=created, changed=True)


def stored_secrets(row: OrganizationRow, box: SecretBox) -> OrgSecrets:
    """The organization's secrets, opened (SecretsUnavailable when no key opens them)."""
    if row.sealed_secrets is None:
        return OrgSecrets()
    return OrgSecrets.from_document(box.open(row.sealed_secrets))


def to_org(row: OrganizationRow) -> Organization:
    defaults = row.defaults
    return Organization(
        org_id=row.id,
        name=row.name,
        provider_apps={
            provider: ProviderApp(app["client_id"], app.get("credential_id"))
            for provider, app in row.provider_apps.items()
        },
        nylas_application=(
            NylasApplication(row.nylas_client_id, row.nylas_region or "us")
            if row.nylas_client_id is not None
            else None
        ),
        defaults=OrgDefaults(
            lookback_days=defaults.get("lookback_days"),
            folders=_tuple(defaults.get("folders")),
            calendar_name=defaults.get("calendar_name"),
            calendar_days_after=defaults.get("calendar_days_after"),
            return_url_origins=_tuple(defaults.get("return_url_origins")),
            connect_allowed_domains=_tuple(defaults.get("connect_allowed_domains")),
        ),
        version=row.version,
    )


def org_in_service(session: Session, org_id: str) -> bool:
    """Whether the organization exists and is not being removed."""
    return get_org(session, org_id) is not None and offboarding_of(session, org_id) is None


def offboarding_of(session: Session, org_id: str) -> OffboardingRow | None:
    """The organization's offboarding under way, if one is (``storage.offboarding``)."""
    return session.exec(
        select(OffboardingRow).where(
            OffboardingRow.org_id == org_id, OffboardingRow.state != OFFBOARDED
        )
    ).first()


def offboarding_json(row: OffboardingRow) -> answers.Offboarding:
    return {
        "org_id": row.org_id,
        "state": row.state,
        "requested_by": row.requested_by,
        "requested_at": format_time(row.requested_at),
        "grants": {"total": len(row.grants), "disconnected": row.grants_disconnected},
        "deleted": {str(table): int(count) for table, count in row.deleted.items()},
        "finished_at": format_time(row.finished_at) if row.finished_at else None,
    }


def org_json(
    row: OrganizationRow, secrets: OrgSecrets | None, offboarding: OffboardingRow | None = None
) -> answers.Organization:
    """The organization as the API shows it: which secrets are set, never what they are,
    and its removal while under way.

    ``secrets`` None: they could not be opened (the keys changed); each shows as unknown.
    """
    org = to_org(row)
    sealed = row.sealed_secrets is not None
    apps: dict[str, answers.ProviderApp] = {
        provider: {
            "client_id": app.client_id,
            "client_secret_set": (provider in secrets.client_secrets) if secrets else sealed,
            "credential_id": app.credential_id,
        }
        for provider, app in org.provider_apps.items()
    }
    own = org.nylas_application
    application: answers.NylasApplication | None = None
    if own is not None:
        application = {
            "client_id": own.client_id,
            "region": own.region,
            "api_uri": API_URIS[own.region],
            "api_key_set": (secrets.api_key is not None) if secrets else sealed,
            "webhook_secrets_set": len(secrets.webhook_secrets) if secrets else None,
        }
    defaults = org.defaults
    return {
        "id": org.org_id,
        "name": org.name,
        "provider_apps": apps,
        "nylas_application": application,
        "defaults": {
            "lookback_days": defaults.lookback_days,
            "folders": list(defaults.folders) if defaults.folders is not None else None,
            "calendar_name": defaults.calendar_name,
            "calendar_days_after": defaults.calendar_days_after,
            "return_url_origins": _list(defaults.return_url_origins),
            "connect_allowed_domains": _list(defaults.connect_allowed_domains),
        },
        "version": row.version,
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
        "offboarding": offboarding_json(offboarding) if offboarding is not None else None,
    }


def _app_document(
    app: ProviderApp,
    previous: dict[str, Any] | None,
    stored: OrgSecrets,
    secrets: OrgSecrets,
    provider: str,
) -> dict[str, Any]:
    """A provider app as stored: its Credential at Nylas is kept while the app is the same
    (client id and secret), and forgotten when either changes, to be made anew."""
    same = (
        previous is not None
        and previous.get("client_id") == app.client_id
        and stored.client_secrets.get(provider) == secrets.client_secrets.get(provider)
    )
    credential_id = previous.get("credential_id") if same and previous is not None else None
    return {"client_id": app.client_id, "credential_id": credential_id}


def _defaults_document(defaults: OrgDefaults) -> dict[str, Any]:
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in (
            ("lookback_days", defaults.lookback_days),
            ("folders", defaults.folders),
            ("calendar_name", defaults.calendar_name),
            ("calendar_days_after", defaults.calendar_days_after),
            ("return_url_origins", defaults.return_url_origins),
            ("connect_allowed_domains", defaults.connect_allowed_domains),
        )
        if value is not None
    }


def _tuple(value: object) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if isinstance(value, list) else None


def _list(value: tuple[str, ...] | None) -> list[str] | None:
    return list(value) if value is not None else None
