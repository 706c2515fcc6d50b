"""Several Nylas applications in one fake: their keys, which grants each owns, their webhook
secrets, and the connector credentials (provider auth apps) registered under each.

What the real API does, and where that comes from:

* An application is a client ID and an API key; "Nylas does not provide a client secret"
  (developer.nylas.com/docs/v3/auth/nylas-app-credentials/): the SDK's
  ``auth.exchange_code_for_token`` sends the API key as ``client_secret``
  (nylas-python ``nylas/resources/auth.py``). The client ID is the application's ID ("Your
  Nylas application's client ID (or application ID)", ``GET /v3/connect/auth``,
  developer.nylas.com/docs/reference/api/authentication-apis/get_oauth2_flow/), so the
  notifications of an added application's grants carry its client id as
  ``data.application_id``; the first application's keep the fake's historical
  ``simulator.notifications.APPLICATION_ID``.
* Every grant belongs to one application, and "Nylas creates only one grant per email address
  in each application" (developer.nylas.com/docs/v3/auth/hosted-oauth-apikey/). A key sees its
  own application's grants only; the fake answers another application's grant exactly as a
  grant that does not exist, so that a key cannot even learn which ids are taken.

The rules of a connector credential (what a create body must hold, what an answer shows of
one, how a refusal reads) are ``simulator.credentials``; this module stores the credentials each
application registers, under the same lock as the applications they belong to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.credentials import (
    DEFAULT_LIST_LIMIT,
    ORDERS,
    SORT_FIELDS,
    Credential,
    CredentialError,
    check_provider,
    credential_fields,
    shown,
)
from simulator.hosted_auth import AuthError

Wire = dict[str, Any]

# Where the API's gate leaves the client id of the application whose key a request carries.
APPLICATION_SCOPE_KEY = "simulator.nylas_application"


def caller_of(scope: Mapping[str, Any]) -> str | None:
    """The client id of the application that authenticated the request (ASGI ``scope``)."""
    client_id = scope.get(APPLICATION_SCOPE_KEY)
    return client_id if isinstance(client_id, str) else None


def notification_grant(notification: Mapping[str, Any]) -> str | None:
    """The grant a notification is about: ``data.grant_id`` (sends, bounces), else the
    object's ``grant_id`` (messages, events, folders, grant lifecycle)."""
    data = notification.get("data")
    if not isinstance(data, dict):
        return None
    obj = data.get("object")
    grant_id = data.get("grant_id") or (obj.get("grant_id") if isinstance(obj, dict) else None)
    return grant_id if isinstance(grant_id, str) else None


def _utf8(text: str) -> bytes:
    """Bytes to compare in constant time; a lone surrogate (possible in JSON) is kept."""
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Application:
    """One Nylas application: its client id, API key and (if set) its own webhook secret."""

    client_id: str
    api_key: str = field(repr=False)
    webhook_secret: str | None = field(default=None, repr=False)


class Applications:
    """The applications of one fake Nylas, thread-safe (its own lock, never held while
    calling out). The first one is the fake's default: grants added without naming an
    application are its."""

    def __init__(
        self, client_id: str, api_key: str, *, clock: Callable[[], float], salt: bytes | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._salt = salt or secrets.token_bytes(32)
        self._apps: dict[str, Application] = {}
        self._owners: dict[str, str] = {}  # grant id -> client id, kept after a deletion
        self._credentials: dict[str, Credential] = {}
        self._first = self.add(client_id, api_key)

    # Applications ----------------------------------------------------------------------------

    def add(
        self, client_id: str, api_key: str, *, webhook_secret: str | None = None
    ) -> Application:
        """Register an application. Client ids and API keys are each unique (a key is how a
        request says which application it is).

        Raises:
            ValueError: an empty value, or a client id or key already registered.
        """
        for value, what in ((client_id, "client_id"), (api_key, "api_key")):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{what} must be a non-empty string")
        if webhook_secret is not None and (
            not isinstance(webhook_secret, str) or not webhook_secret
        ):
            raise ValueError("webhook_secret must be a non-empty string or None")
        application = Application(client_id, api_key, webhook_secret)
        with self._lock:
            if client_id in self._apps:
                raise ValueError(f"an application with client_id {client_id!r} exists")
            if any(
                hmac.compare_digest(_utf8(a.api_key), _utf8(api_key)) for a in self._apps.values()
            ):
                raise ValueError("another application already has this api_key")
            self._apps[client_id] = application
        return application

    @property
    def first(self) -> Application:
        """The application the fake was made with."""
        return self._first

    def get(self, client_id: object) -> Application | None:
        """The application with this client id, or None."""
        if not isinstance(client_id, str):
            return None
        with self._lock:
            return self._apps.get(client_id)

    def all(self) -> list[Application]:
        """Every application, the first one first."""
        with self._lock:
            return list(self._apps.values())

    def authenticate(self, authorization: str | bytes) -> Application | None:
        """The application whose ``Bearer <api key>`` this ``Authorization`` header is, or
        None. Every key is compared, in constant time, whichever matches."""
        presented = (
            authorization
            if isinstance(authorization, bytes)
            else authorization.encode("latin-1", "replace")
        )
        found: Application | None = None
        for application in self.all():
            if hmac.compare_digest(presented, b"Bearer " + _utf8(application.api_key)):
                found = application
        return found

    def check_client(self, client_id: str, client_secret: str) -> Application:
        """The application a token request names, if its ``client_secret`` is its API key.

        Raises:
            AuthError: 401 ``invalid_client``, for an unknown client id or a wrong secret.
        """
        application = self.get(client_id)
        expected = (application or self._first).api_key
        if not hmac.compare_digest(_utf8(client_secret), _utf8(expected)):
            if application is None:
                raise AuthError(401, "invalid_client", f"unknown client_id {shown(client_id)}.")
            raise AuthError(401, "invalid_client", "client_secret is not this application's.")
        if application is None:
            raise AuthError(401, "invalid_client", f"unknown client_id {shown(client_id)}.")
        return application

    # Grants ----------------------------------------------------------------------------------

    def assign(self, grant_id: str, client_id: str | None = None) -> str:
        """Make ``grant_id`` the grant of ``client_id`` (the first application by default).

        Raises:
            ValueError: no application has that client id.
        """
        owner = client_id if client_id is not None else self._first.client_id
        with self._lock:
            if owner not in self._apps:
                raise ValueError(f"no application has client_id {owner!r}")
            self._owners[grant_id] = owner
        return owner

    def owner(self, grant_id: str) -> str | None:
        """The client id of the application the grant belongs (or belonged) to."""
        with self._lock:
            return self._owners.get(grant_id)

    def owns(self, client_id: str | None, grant_id: str) -> bool:
        """Whether ``grant_id`` is a grant of the application ``client_id``."""
        return client_id is not None and self.owner(grant_id) == client_id

    def webhook_secret_of_grant(self, grant_id: str | None) -> str | None:
        """The secret the grant's notifications are signed with, when its application has
        its own; None means the deployment's default secret."""
        if grant_id is None:
            return None
        with self._lock:
            owner = self._owners.get(grant_id)
            application = self._apps.get(owner) if owner is not None else None
        return None if application is None else application.webhook_secret

    def stamped(self, notification: Wire) -> Wire:
        """``notification`` with ``data.application_id`` its grant's application's, for a
        grant of an added application (the first application's are left as they are)."""
        owner = self.owner(notification_grant(notification) or "")
        data = notification.get("data")
        if owner is None or owner == self._first.client_id or not isinstance(data, dict):
            return notification
        return {**notification, "data": {**data, "application_id": owner}}

    # Connector credentials -------------------------------------------------------------------

    def create_credential(self, client_id: str, provider: str, body: Mapping[str, Any]) -> Wire:
        """``POST /v3/connectors/{provider}/creds``: the new credential (or the existing one
        with the same parameters).

        Raises:
            CredentialError: 400 for a bad provider or body, or a name taken by a credential
                with other parameters.
        """
        check_provider(provider)
        name, credential_type, data = credential_fields(body)
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=True).encode()
        hashed = hmac.new(self._salt, canonical, hashlib.sha256).hexdigest()
        with self._lock:
            self._require(client_id)
            for existing in self._credentials.values():
                if (existing.application, existing.provider, existing.name) != (
                    client_id,
                    provider,
                    name,
                ):
                    continue
                if existing.credential_type == credential_type and hmac.compare_digest(
                    existing.hashed_data, hashed
                ):
                    return existing.wire()
                raise CredentialError(400, f"a credential named {shown(name)} already exists")
            now = int(self._clock())
            credential = Credential(
                str(uuid.uuid4()),
                client_id,
                provider,
                name,
                credential_type,
                data,
                hashed,
                now,
                now,
            )
            self._credentials[credential.id] = credential
            return credential.wire()

    def credentials(
        self,
        client_id: str,
        provider: str,
        *,
        limit: int = DEFAULT_LIST_LIMIT,
        offset: int = 0,
        sort_by: str | None = None,
        order_by: str | None = None,
    ) -> list[Wire]:
        """``GET /v3/connectors/{provider}/creds``: the application's credentials of that
        connector, oldest first unless ``sort_by``/``order_by`` say otherwise."""
        check_provider(provider)
        if sort_by is not None and sort_by not in SORT_FIELDS:
            raise CredentialError(400, f"sort_by must be one of {SORT_FIELDS}")
        if order_by is not None and order_by not in ORDERS:
            raise CredentialError(400, f"order_by must be one of {ORDERS}")
        with self._lock:
            self._require(client_id)
            found = [
                c.wire()
                for c in self._credentials.values()
                if c.application == client_id and c.provider == provider
            ]
        if sort_by is not None:
            found.sort(key=lambda c: c[sort_by])
        if order_by == "desc":
            found.reverse()
        return found[offset : offset + limit]

    def credential(self, client_id: str | None, provider: str, credential_id: str) -> Wire:
        """``GET /v3/connectors/{provider}/creds/{id}``.

        Raises:
            CredentialError: 400 for a bad provider; 404 when this application's connector has
                no such credential (another application's is not found either).
        """
        check_provider(provider)
        with self._lock:
            return self._find(client_id, provider, credential_id).wire()

    def delete_credential(self, client_id: str | None, provider: str, credential_id: str) -> None:
        """``DELETE /v3/connectors/{provider}/creds/{id}``; raises as :meth:`credential`."""
        check_provider(provider)
        with self._lock:
            del self._credentials[self._find(client_id, provider, credential_id).id]

    def usable_credential(self, client_id: str, credential_id: str, provider: str) -> bool:
        """Whether hosted auth for ``client_id`` may authenticate through this credential of
        its ``provider`` connector."""
        with self._lock:
            credential = self._credentials.get(credential_id)
        return (
            credential is not None
            and credential.application == client_id
            and credential.provider == provider
        )

    def provider_of_credential(self, client_id: str, credential_id: str) -> str | None:
        """The connector of one of ``client_id``'s credentials; None for anyone else's."""
        with self._lock:
            credential = self._credentials.get(credential_id)
        if credential is None or credential.application != client_id:
            return None
        return credential.provider

    def _find(self, client_id: str | None, provider: str, credential_id: str) -> Credential:
        credential = self._credentials.get(credential_id)
        if (
            credential is None
            or credential.application != client_id
            or credential.provider != provider
        ):
            raise CredentialError(404, f"credential {shown(credential_id)} not found")
        return credential

    def _require(self, client_id: str) -> None:
        if client_id not in self._apps:
            raise CredentialError(401, "unknown application", "unauthorized")
