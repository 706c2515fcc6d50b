"""Hosted auth and the grant lifecycle: connecting a mailbox, looking a grant up, deleting it.

Hosted auth: :meth:`NylasGateway.auth_url` builds the URL the user's browser opens (no request),
:meth:`NylasGateway.exchange_code` turns the code Nylas redirected back with into a
:class:`GrantToken`; a code refused (unknown, used, expired, another redirect URI) raises
:class:`NylasCodeRejected`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from workers.nylas_client.core import GatewayCore
from workers.nylas_client.wire import Wire, _path_id
from workers.nylas_failures import NylasNotFound


@dataclass(frozen=True, slots=True)
class GrantToken:
    """What a hosted-auth code exchange tells crmsync: the grant connected, and for whom."""

    grant_id: str
    email: str | None
    provider: str | None
    scope: tuple[str, ...]


class AccountsFacet(GatewayCore):
    """The gateway's hosted auth and grant calls."""

    def find_grant(self, grant_id: str) -> Wire | None:
        """The grant, or None when Nylas does not know it."""

        def call() -> Wire:
            wire: Wire = self._client.grants.find(_path_id(grant_id)).data.to_dict()
            return wire

        try:
            return self._retry("find_grant", grant_id, partial(self._attempt, "find_grant", call))
        except NylasNotFound:
            return None  # the grant's own path: a 404 can only mean the grant

    def auth_url(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        state: str,
        provider: str | None = None,
        login_hint: str | None = None,
        credential_id: str | None = None,
    ) -> str:
        """The hosted-auth URL to send the user's browser to (``GET /v3/connect/auth``).

        Built locally by the SDK, no request made; Nylas redirects back to ``redirect_uri``
        with ``code`` and ``state``. Without ``provider``, Nylas lets the user choose. With
        ``credential_id``, the user signs in through that Credential's provider app (a
        customer's own Google or Azure application) instead of the connector's.
        """
        # A fresh dict each time: the SDK writes response_type and access_type into it.
        config: dict[str, Any] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if provider is not None:
            config["provider"] = provider
        if login_hint is not None:
            config["login_hint"] = login_hint
        if credential_id is not None:
            config["credential_id"] = credential_id
        url: str = self._client.auth.url_for_oauth2(config)
        return url

    def create_credential(
        self, *, provider: str, name: str, client_id: str, client_secret: str
    ) -> str:
        """Register a customer's own provider app as a Credential of the application's
        connector for ``provider`` (``POST /v3/connectors/{provider}/creds``); its id.

        A create is not idempotent (a second makes a second Credential), so it is sent again
        only when the first attempt surely never reached Nylas.

        Raises:
            NylasRejected: Nylas refused it (no connector for the provider, a bad app).
            NylasWriteUncertain: an attempt may have made one whose answer was lost.
        """

        def call() -> str:
            request: Any = {
                "name": name,
                "credential_type": "connector",
                "credential_data": {"client_id": client_id, "client_secret": client_secret},
            }
            made = self._client.connectors.credentials.create(provider, request)
            return str(made.data.id)

        return self._write_once("create_credential", "-", call, grant_scoped=False)

    def exchange_code(self, *, client_id: str, redirect_uri: str, code: str) -> GrantToken:
        """The grant a hosted-auth ``code`` stands for (``POST /v3/connect/token``).

        The SDK sends the API key as the client secret. A code works once, so the exchange is
        repeated only when the first attempt surely never reached Nylas (as a send is: see
        ``workers.nylas_client.sending``).

        Raises:
            NylasCodeRejected: the code is unknown, used, expired, or for another redirect URI.
            NylasWriteUncertain: the code may have been used up by an attempt whose answer was
                lost; only the user going through hosted auth again settles it.
        """

        def call() -> GrantToken:
            request = {"client_id": client_id, "redirect_uri": redirect_uri, "code": code}
            answer = self._client.auth.exchange_code_for_token(request)
            scope = answer.scope or ""
            return GrantToken(
                grant_id=str(answer.grant_id),
                email=answer.email,
                provider=answer.provider,
                scope=tuple(scope.split()) if isinstance(scope, str) else tuple(scope),
            )

        return self._write_once("exchange_code", "-", call, grant_scoped=False)

    def destroy_grant(self, grant_id: str) -> bool:
        """Delete the grant at Nylas (Nylas then sends ``grant.deleted``); False when it was
        already gone (404). Retried like a read: deleting twice leaves the same state."""

        def call() -> bool:
            self._client.grants.destroy(_path_id(grant_id))
            return True

        try:
            return self._retry(
                "destroy_grant", grant_id, partial(self._attempt, "destroy_grant", call)
            )
        except NylasNotFound:
            return False
