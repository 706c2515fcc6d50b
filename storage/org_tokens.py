"""Organizations' bearer tokens: issued once, stored as digests, revocable, last use noted."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from domain import answers
from domain.times import format_time
from storage.errors import NotFound, StorageConflict
from storage.org_tables import OrgTokenRow
from storage.organizations import offboarding_of

# What every organization token starts with, so a leaked one is recognised (by a secret
# scanner, by crmsync itself) and never compared with the deployment's own tokens.
TOKEN_PREFIX = "cso_"  # noqa: S105  (a prefix, not a secret)
TOKEN_BYTES = 32
# Last use is written at most this often per token: a busy client costs a write a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Whose a presented token is: the token's id and its organization's."""

    token_id: str
    org_id: str


def digest_of(token: str | bytes) -> str:
    """The SHA-256 digest a token is stored and found by."""
    return hashlib.sha256(token if isinstance(token, bytes) else token.encode()).hexdigest()


def issue_token(session: Session, org_id: str, name: str, now: datetime) -> tuple[OrgTokenRow, str]:
    """A new token of the organization: its row, and the token itself (shown only once).

    Raises:
        StorageConflict: the organization is being removed.
    """
    if offboarding_of(session, org_id) is not None:
        raise StorageConflict(
            "org_offboarding", "the organization is being removed: it gets no new tokens"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = OrgTokenRow(
        id=f"tok_{secrets.token_hex(8)}",
        org_id=org_id,
        name=name,
        digest=digest_of(token),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, token


def list_tokens(session: Session, org_id: str) -> list[OrgTokenRow]:
    query = select(OrgTokenRow).where(OrgTokenRow.org_id == org_id)
    return list(session.exec(query.order_by(col(OrgTokenRow.created_at), col(OrgTokenRow.id))))


def revoke_token(session: Session, org_id: str, token_id: str, now: datetime) -> OrgTokenRow:
    """Revoke the token; it stops working at once. Revoking twice changes nothing.

    Raises:
        NotFound: the organization has no such token.
    """
    row = session.get(OrgTokenRow, token_id, with_for_update=True)
    if row is None or row.org_id != org_id:
        raise NotFound("unknown_token", f"organization {org_id!r} has no token {token_id!r}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
    return row


def holder_of(session: Session, token: bytes, now: datetime) -> TokenHolder | None:
    """Whose ``token`` is, when it is a live organization token; notes its use."""
    row = session.exec(select(OrgTokenRow).where(OrgTokenRow.digest == digest_of(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    if offboarding_of(session, row.org_id) is not None:
        return None  # its tokens went when the removal began; none made since works
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)
    return TokenHolder(row.id, row.org_id)


def token_json(row: OrgTokenRow, token: str | None = None) -> answers.OrgToken:
    shown: answers.OrgToken = {
        "id": row.id,
        "org_id": row.org_id,
        "name": row.name,
        "created_at": format_time(row.created_at),
        "last_used_at": format_time(row.last_used_at) if row.last_used_at else None,
        "revoked_at": format_time(row.revoked_at) if row.revoked_at else None,
    }
    if token is not None:
        shown["token"] = token
    return shown


def token_counts(session: Session) -> dict[str, tuple[int, int]]:
    """Each organization's (live, revoked) tokens, in one grouped query."""
    statement = select(
        OrgTokenRow.org_id, func.count(), func.count(col(OrgTokenRow.revoked_at))
    ).group_by(col(OrgTokenRow.org_id))
    return {
        org_id: (int(total) - int(revoked), int(revoked))
        for org_id, total, revoked in session.exec(statement)
    }
