"""What a connector credential is in the fake Nylas, and which requests about one it refuses.

``simulator.applications`` stores the credentials registered under each application; what a
create body must hold, what an answer shows of a credential and how a refusal reads are the
rules of the Nylas reference, kept here apart from the store as ``simulator.sending`` keeps the
rules of a send apart from the mailbox that applies them. Where that comes from:

* Connector credentials (developer.nylas.com/docs/reference/api/connector-credentials/ and its
  ``create_credential``, ``get_credential_all``, ``get_credential_by_id`` and
  ``delete_credential_by_id`` pages; "Using multiple provider applications",
  developer.nylas.com/docs/v3/auth/using-multiple-provider-applications/): a
  ``credential_type: "connector"`` credential holds another provider auth app's ``client_id``
  and ``client_secret`` for one connector (provider) of one application ("you can't use the
  credential_id for a different connector, or with a different Nylas application", the
  nylas-samples "AppPermission-Bulk" code sample). Names are unique; creating one with the
  same parameters as an existing one answers the existing one. ``credential_data`` "is
  securely encrypted and stored, and isn't visible to users": no answer carries it. An answer
  is ``{id, name, created_at, updated_at}`` (the documented required fields) plus
  ``credential_type`` and ``hashed_data``, which the SDK's ``Credential`` model
  (``nylas/models/credentials.py``) decodes; ``hashed_data`` here is an HMAC under a key of
  this process, so it says nothing about the secret. Deleting a credential makes the grants
  that use it "stop working right away": the fake expires them.

The fake's own choices, where no public source says: the only connectors with credentials are
``google`` and ``microsoft`` (any other provider is a 400); only ``connector`` credentials are
simulated (``adminconsent`` and ``serviceaccount`` are refused with a 400 saying so); a name is
at most :data:`MAX_NAME_CHARS` characters and a credential field :data:`MAX_FIELD_CHARS`. A
caller's value quoted back in a refusal, here and in hosted auth and the token exchange, is
escaped and clipped by :func:`shown`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Wire = dict[str, Any]

CONNECTOR_PROVIDERS = ("google", "microsoft")
CREDENTIAL_TYPE = "connector"
OTHER_CREDENTIAL_TYPES = ("adminconsent", "serviceaccount")  # in the SDK, not simulated here
REQUIRED_DATA = ("client_id", "client_secret")
MAX_NAME_CHARS = 256
MAX_FIELD_CHARS = 4096
MAX_DATA_KEYS = 32
# ``ListCredentialQueryParams``: "defaults to 50. The maximum allowed value is 200."
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 200
SORT_FIELDS = ("created_at", "updated_at", "name", "id")
ORDERS = ("asc", "desc")
MAX_SHOWN_CHARS = 80  # of a caller's value quoted back in an error message


def shown(value: object) -> str:
    """``value`` quoted for an error message: escaped, and clipped if long."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."


class CredentialError(Exception):
    """A credential request Nylas would refuse: the status and the error envelope's fields."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or (
            "not_found_error" if status == 404 else "invalid_request_error"
        )


@dataclass(frozen=True, slots=True)
class Application:
    """One Nylas application: its client id, API key and (if set) its own webhook secret."""

    client_id: str
    api_key: str = field(repr=False)
    webhook_secret: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class Credential:
    """A connector credential as stored; :meth:`wire` is what the API shows of it."""

    id: str
    application: str
    provider: str
    name: str
    credential_type: str
    data: Wire = field(repr=False)
    hashed_data: str = field(repr=False)
    created_at: int
    updated_at: int

    def wire(self) -> Wire:
        """The Credential object of the answers: never ``credential_data``."""
        return {
            "id": self.id,
            "name": self.name,
            "credential_type": self.credential_type,
            "hashed_data": self.hashed_data,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _text_field(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CredentialError(400, f"{name} must be a non-empty string")
    if len(value) > limit:
        raise CredentialError(400, f"{name} must be at most {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CredentialError(400, f"{name} must be valid Unicode text") from None
    return value


def credential_fields(body: Mapping[str, Any]) -> tuple[str, str, Wire]:
    """``(name, credential_type, credential_data)`` of a create request, checked.

    Raises:
        CredentialError: 400 for a missing or malformed field.
    """
    name = _text_field(body.get("name"), "name", MAX_NAME_CHARS)
    credential_type = body.get("credential_type")
    if credential_type in OTHER_CREDENTIAL_TYPES:
        raise CredentialError(
            400, f"credential_type {credential_type} is not simulated; use {CREDENTIAL_TYPE}"
        )
    if credential_type != CREDENTIAL_TYPE:
        raise CredentialError(400, f"credential_type must be {CREDENTIAL_TYPE!r}")
    data = body.get("credential_data")
    if not isinstance(data, dict):
        raise CredentialError(400, "credential_data must be an object")
    if len(data) > MAX_DATA_KEYS:
        raise CredentialError(400, f"credential_data has more than {MAX_DATA_KEYS} fields")
    for key in REQUIRED_DATA:
        _text_field(data.get(key), f"credential_data.{key}", MAX_FIELD_CHARS)
    for key, value in data.items():
        if key not in REQUIRED_DATA and not isinstance(value, str | int | float | bool):
            raise CredentialError(400, f"credential_data.{shown(key)} must be a scalar")
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise CredentialError(400, f"credential_data fields are at most {MAX_FIELD_CHARS}")
    return name, credential_type, dict(data)


def check_provider(provider: str) -> None:
    """Refuse a connector that has no credentials in the fake (400)."""
    if provider not in CONNECTOR_PROVIDERS:
        raise CredentialError(
            400, f"provider must be one of {CONNECTOR_PROVIDERS}, got {shown(provider)}"
        )
