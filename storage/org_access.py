"""How an organization reaches Nylas, as the ingress, the workers and hosted OAuth need it:
its own application's webhook secrets and API key, opened from their seal, and the
Credentials its provider apps are registered as.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, col, select

from domain.organizations import Organization, OrgSecrets
from storage.org_tables import OffboardingRow, OrganizationRow
from storage.organizations import OFFBOARDED, require_org, stored_secrets, to_org
from storage.sealing import SecretBox, SecretsUnavailable
from storage.tables import RepRow

logger = logging.getLogger(__name__)


def own_application_secrets(
    session: Session, box: SecretBox
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(org id, application id, webhook secrets) of each organization with a Nylas
    application of its own, for the ingress. One whose secrets no key opens is left out and
    logged: its notifications are refused until an operator fixes the keys. One being
    removed is left out too: nothing more of it comes in."""
    removing = select(OffboardingRow.org_id).where(OffboardingRow.state != OFFBOARDED)
    rows = session.exec(
        select(OrganizationRow).where(
            col(OrganizationRow.nylas_client_id).is_not(None),
            col(OrganizationRow.id).not_in(removing),
        )
    )
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for row in rows:
        assert row.nylas_client_id is not None
        try:
            secrets = stored_secrets(row, box)
        except SecretsUnavailable:
            logger.error(
                "the webhook secrets of an organization cannot be opened with "
                "CRMSYNC_SECRET_KEYS; its notifications are refused",
                extra={"org_id": row.id},
            )
            continue
        found.append((row.id, row.nylas_client_id, secrets.webhook_secrets))
    return found


def org_with_secrets(
    session: Session, org_id: str, box: SecretBox
) -> tuple[Organization, OrgSecrets]:
    """The organization and its secrets, opened.

    Raises:
        NotFound: no such organization.
        SecretsUnavailable: its secrets cannot be opened with the keys.
    """
    row = require_org(session, org_id)
    return to_org(row), stored_secrets(row, box)


def record_credential(
    session: Session, org_id: str, provider: str, client_id: str, credential_id: str
) -> str:
    """Keep the Credential made at Nylas for the organization's ``provider`` app, unless the
    app changed meanwhile or another connection recorded one first; the id to use."""
    row = require_org(session, org_id, for_update=True)
    app = row.provider_apps.get(provider)
    if app is None or app.get("client_id") != client_id:
        return credential_id  # the app changed since: this connection still uses its own
    if app.get("credential_id"):
        return str(app["credential_id"])
    row.provider_apps = {**row.provider_apps, provider: {**app, "credential_id": credential_id}}
    session.add(row)
    return credential_id


@dataclass(frozen=True, slots=True)
class OwnApplicationAccess:
    """How workers reach Nylas for a grant of an organization with its own application: its
    API key in its region. ``version`` changes whenever the organization is written, so a
    rotated key is seen as a new access."""

    org_id: str
    version: int
    api_key: str
    region: str


def own_application_of_grant(
    session: Session, grant_id: str, box: SecretBox
) -> OwnApplicationAccess | None:
    """The access to use for ``grant_id``: None when no rep holds it or its organization
    uses the deployment's Nylas application.

    Raises:
        SecretsUnavailable: the organization's API key cannot be opened with the keys.
    """
    row = session.exec(
        select(OrganizationRow)
        .join(RepRow, col(RepRow.org_id) == col(OrganizationRow.id))
        .where(RepRow.grant_id == grant_id)
    ).first()
    if row is None or row.nylas_client_id is None:
        return None
    api_key = stored_secrets(row, box).api_key
    if api_key is None:
        raise SecretsUnavailable(
            "api_key_missing", "the organization's Nylas API key is not stored"
        )
    return OwnApplicationAccess(row.id, row.version, api_key, row.nylas_region or "us")
