"""The API's :class:`~api.accounts.MailboxConnector`, over the Nylas client of the workers.

The API package may not import the Nylas client (DESIGN's layering), so the composition root
adapts one to the other here: the calls are the gateway's, the errors become the API's
:class:`~api.accounts.ConnectFailed` with a reason the CRM can show.

Each connection goes through its organization's application (``domain.connect_access``):
the deployment's (``NYLAS_API_KEY``, ``NYLAS_CLIENT_ID``), or an organization's own, whose
gateway is built from its key and region and kept while the key is the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from api.accounts import ConnectFailed
from domain.connect_access import ConnectAccess, OwnApplication
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from storage.accounts import Connection
from workers.nylas_client import NylasGateway
from workers.nylas_failures import NylasError, NylasRejected

# Own applications' gateways kept at once: one per organization connecting now and then.
MAX_GATEWAYS = 1_000


class NylasConnector:
    """Connects mailboxes through the deployment's Nylas application or an organization's."""

    def __init__(
        self,
        gateway: NylasGateway | None,
        client_id: str | None,
        *,
        region_uris: Mapping[str, str],
        build: Callable[[str, str], NylasGateway] = NylasGateway,
    ) -> None:
        self._gateway = gateway
        self._client_id = client_id
        self._region_uris = dict(region_uris)
        self._build = build
        self._lock = threading.Lock()
        self._own: dict[tuple[str, str], NylasGateway] = {}

    def make_credential(self, access: ConnectAccess) -> str:
        """Register the organization's provider app as a Credential; its id."""
        credential = access.credential
        assert credential is not None
        gateway, _ = self._application(access.application)
        try:
            made = gateway.create_credential(
                provider=credential.provider,
                name=f"crmsync {access.org_id} {credential.provider} {credential.client_id}",
                client_id=credential.client_id,
                client_secret=credential.client_secret,
            )
        except NylasRejected as error:
            raise ConnectFailed("credential_rejected", str(error), retryable=False) from error
        except NylasError as error:
            raise ConnectFailed("nylas_unavailable", str(error), retryable=True) from error
        if not is_grant_id(made):
            # Credential ids go into Nylas URLs: one of another shape is never used.
            raise ConnectFailed(
                "invalid_credential",
                f"Nylas answered with a credential id that is not {GRANT_ID_SHAPE}",
                retryable=False,
            )
        return made

    def auth_url(
        self, *, access: ConnectAccess, redirect_uri: str, state: str, login_hint: str | None
    ) -> str:
        gateway, client_id = self._application(access.application)
        return gateway.auth_url(
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=state,
            provider=access.provider,
            login_hint=login_hint,
            credential_id=access.credential_id,
        )

    def exchange_code(
        self, *, application: OwnApplication | None, redirect_uri: str, code: str
    ) -> Connection:
        gateway, client_id = self._application(application)
        try:
            token = gateway.exchange_code(client_id=client_id, redirect_uri=redirect_uri, code=code)
        except NylasRejected as error:
            raise ConnectFailed("code_rejected", str(error), retryable=False) from error
        except NylasError as error:
            raise ConnectFailed("nylas_unavailable", str(error), retryable=True) from error
        if not is_grant_id(token.grant_id):
            # Grant ids go into Nylas API paths: one of another shape is never stored.
            raise ConnectFailed(
                "invalid_grant",
                f"Nylas answered with a grant id that is not {GRANT_ID_SHAPE}",
                retryable=False,
            )
        return Connection(grant_id=token.grant_id, provider=token.provider, email=token.email)

    def destroy_grant(self, grant_id: str, application: OwnApplication | None) -> bool:
        gateway, _ = self._application(application)
        try:
            return gateway.destroy_grant(grant_id)
        except NylasError as error:
            raise ConnectFailed("nylas_unavailable", str(error), retryable=True) from error

    def _application(self, own: OwnApplication | None) -> tuple[NylasGateway, str]:
        """The gateway and client id of ``own``, else of the deployment's application.

        Raises:
            ConnectFailed: the deployment's is needed and it is not configured.
        """
        if own is None:
            if self._gateway is None or self._client_id is None:
                raise ConnectFailed(
                    "nylas_not_configured",
                    "connecting mailboxes needs NYLAS_API_KEY and NYLAS_CLIENT_ID",
                    retryable=False,
                )
            return self._gateway, self._client_id
        key = (own.api_key, own.region)
        with self._lock:
            gateway = self._own.get(key)
            if gateway is None:
                if len(self._own) >= MAX_GATEWAYS:
                    self._own.clear()
                gateway = self._build(own.api_key, self._region_uris[own.region])
                self._own[key] = gateway
        return gateway, own.client_id
