"""The API's :class:`~api.accounts.MailboxConnector`, over the Nylas client of the workers.

The API package may not import the Nylas client (DESIGN's layering), so the composition root
adapts one to the other here: the calls are the gateway's, the errors become the API's
:class:`~api.accounts.ConnectFailed` with a reason the CRM can show.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.accounts import ConnectFailed
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from storage.accounts import Connection
from workers.nylas_client import NylasGateway
from workers.nylas_failures import NylasError, NylasRejected


@dataclass(frozen=True)
class NylasConnector:
    """Connects mailboxes through the Nylas application ``client_id``."""

    gateway: NylasGateway
    client_id: str

    def auth_url(
        self, *, redirect_uri: str, state: str, provider: str | None, login_hint: str | None
    ) -> str:
        return self.gateway.auth_url(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            state=state,
            provider=provider,
            login_hint=login_hint,
        )

    def exchange_code(self, *, redirect_uri: str, code: str) -> Connection:
        try:
            token = self.gateway.exchange_code(
                client_id=self.client_id, redirect_uri=redirect_uri, code=code
            )
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

    def destroy_grant(self, grant_id: str) -> bool:
        try:
            return self.gateway.destroy_grant(grant_id)
        except NylasError as error:
            raise ConnectFailed("nylas_unavailable", str(error), retryable=True) from error
