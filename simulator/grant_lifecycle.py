"""How a grant comes and goes: the user's consent through hosted auth, its code, expiry, deletion.

Consent creates a grant or re-authenticates the one the address already has, so it writes the
grants of ``simulator.grant_store``; the rules of codes and tokens are ``simulator.hosted_auth``'s
and are applied here under the store's lock. Every step queues the ``grant.*`` notification
Nylas would send, so a test that connects, expires or deletes a grant sees what crmsync sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from simulator.grant_store import GrantStore, StoredGrant, Wire, grant_wire
from simulator.hosted_auth import (
    ACCESS_TYPES,
    PROVIDERS,
    AuthError,
    CodeBook,
    IssuedCode,
    default_scope,
    display_name,
    generated_email,
    token_response,
)
from simulator.notifications import grant_created, grant_deleted, grant_expired, grant_updated


class GrantLifecycle(GrantStore):
    """Hosted auth and the grant lifecycle on top of the store.

    ``simulator.mailbox.FakeNylas`` sets ``client_id`` (the first application's, which
    :meth:`authorize` consents to by default), the book of codes issued and the addresses that
    refuse to consent.
    """

    client_id: str
    _codes: CodeBook
    _refusals: dict[str, str]

    def authorize(
        self,
        email: str | None = None,
        provider: str = "google",
        *,
        redirect_uri: str,
        client_id: str | None = None,
        scope: Sequence[str] | None = None,
        access_type: str = "online",
        credential_id: str | None = None,
    ) -> str:
        """The user at ``email`` consents (what ``GET /v3/connect/auth`` does); the one-time code.

        The grant is the application ``client_id``'s (the first by default), one per address
        per application; ``credential_id`` (a connector credential of that application and
        provider) is recorded on the code and on the grant (``credential_id``).

        A new address gets a new grant (with its provider's presets) and queues
        ``grant.created``; an address that already has a grant re-authenticates it (same id,
        ``grant_status`` valid again) and queues ``grant.updated``, with
        ``reauthentication_flag`` true when the grant had expired. Refusals
        (:meth:`refuse_consent`) are the API's to answer; this always consents.
        """
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {PROVIDERS}, got {provider!r}")
        if access_type not in ACCESS_TYPES:
            raise ValueError(f"access_type must be one of {ACCESS_TYPES}")
        client_id = client_id or self.client_id
        if self.applications.get(client_id) is None:
            raise ValueError(f"no application has client_id {client_id!r}")
        if credential_id is not None and not self.applications.usable_credential(
            client_id, credential_id, provider
        ):
            raise ValueError(f"credential_id is not a {provider} credential of {client_id!r}")
        granted = tuple(scope) if scope else default_scope(provider)
        email = email or generated_email(provider)
        grant_id = self._consent(email, provider, granted, client_id, credential_id)
        with self._lock:
            return self._codes.issue(
                grant_id=grant_id,
                client_id=client_id,
                redirect_uri=redirect_uri,
                scope=granted,
                access_type=access_type,
                at=int(self._clock()),
                credential_id=credential_id,
            )

    def issued_code(self, code: str) -> IssuedCode | None:
        """What a code not yet redeemed stands for (its application, credential...), or None."""
        with self._lock:
            return self._codes.issued(code)

    def refuse_consent(
        self, email: str, description: str = "The user denied access to their account."
    ) -> None:
        """From now on the user at ``email`` (the ``login_hint``) refuses to consent."""
        with self._lock:
            self._refusals[email.strip().lower()] = description

    def allow_consent(self, email: str) -> None:
        """Undo :meth:`refuse_consent`."""
        with self._lock:
            self._refusals.pop(email.strip().lower(), None)

    def consent_refusal(self, email: str | None) -> str | None:
        """Why the user at ``email`` refuses to consent, or None when they consent."""
        if email is None:
            return None
        with self._lock:
            return self._refusals.get(email.strip().lower())

    def exchange_code(
        self, code: str, *, client_id: str, client_secret: str, redirect_uri: str
    ) -> Wire:
        """``POST /v3/connect/token``: the token answer for a code, which is used up.

        Raises:
            AuthError: a wrong client, or a code unknown, used, expired, issued for another
                ``redirect_uri`` or whose grant was deleted since.
        """
        self.applications.check_client(client_id, client_secret)
        with self._lock:
            issued = self._codes.redeem(
                code, client_id=client_id, redirect_uri=redirect_uri, now=int(self._clock())
            )
            grant = self._grants.get(issued.grant_id)
            if grant is None:
                raise AuthError(400, "invalid_grant", "The grant of this code was deleted.")
            return token_response(issued, grant.wire)

    def delete_grant(self, grant_id: str) -> bool:
        """``DELETE /v3/grants/{id}``: the grant and its content go; ``grant.deleted`` is
        queued. False (and nothing queued) when there was no such grant."""
        with self._lock:
            grant = self._grants.pop(grant_id, None)
            self._codes.forget_grant(grant_id)
        if grant is None:
            return False
        self._close_calendars(grant_id)
        wire = grant.wire
        at = int(self._clock())
        notification = grant_deleted(
            grant_id, provider=wire["provider"], email=wire.get("email"), at=at
        )
        self._queue_notifications(notification)
        return True

    def expire_grant(self, grant_id: str) -> Wire:
        """The grant's credentials stop working: ``invalid``, and ``grant.expired`` queued
        (and returned). Connecting the same address again brings it back."""
        at = int(self._clock())
        with self._lock:
            wire = self._grant(grant_id).wire
            refreshed = int(wire.get("updated_at") or at)
            wire["grant_status"] = "invalid"
            wire["updated_at"] = at
            provider, email = wire["provider"], wire.get("email")
        notification = grant_expired(
            grant_id, provider=provider, email=email, grant_updated_at=refreshed, at=at
        )
        self._queue_notifications(notification)
        return notification

    # Internals -----------------------------------------------------------------------------

    def _consent(
        self,
        email: str,
        provider: str,
        scope: tuple[str, ...],
        client_id: str,
        credential_id: str | None,
    ) -> str:
        """Create or re-authenticate ``client_id``'s grant of ``email``; queue what Nylas
        sends; its id. ``credential_id`` (SDK ``Grant.credential_id``) is the latest consent's."""
        at = int(self._clock())
        with self._lock:
            existing = next(
                (
                    g.wire
                    for g in self._grants.values()
                    if str(g.wire.get("email", "")).lower() == email.lower()
                    and self.applications.owns(client_id, g.wire["id"])
                ),
                None,
            )
            if existing is None:
                grant_id = str(uuid.uuid4())
                self.applications.assign(grant_id, client_id)
                wire = grant_wire(grant_id, provider, email, now=at)
                wire.update(scope=list(scope), name=display_name(email))
                self._grants[grant_id] = StoredGrant(wire)
            else:
                expired = existing["grant_status"] != "valid"
                existing.update(grant_status="valid", updated_at=at, scope=list(scope))
                existing.pop("credential_id", None)
                grant_id, provider = existing["id"], existing["provider"]
            if credential_id is not None:
                self._grants[grant_id].wire["credential_id"] = credential_id
        if existing is not None:
            notification = grant_updated(
                grant_id, provider=provider, email=email, reauthentication_flag=expired, at=at
            )
        else:
            self._open_calendars(grant_id, provider, email)
            self._add_presets(grant_id, provider, email)
            notification = grant_created(
                grant_id,
                provider=provider,
                email=email,
                scope=scope,
                name=display_name(email),
                at=at,
            )
        self._queue_notifications(notification)
        return grant_id
