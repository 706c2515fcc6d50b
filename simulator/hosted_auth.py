"""Hosted OAuth in the fake Nylas: one-time codes, the token answer, and the redirects.

The real flow (Nylas docs, "Hosted OAuth"): the browser opens ``GET /v3/connect/auth``
(``auth.url_for_oauth2`` builds it, NYLAS.md 6.2), the user consents at their provider, and
Nylas redirects to the application's ``redirect_uri`` with ``code`` and the ``state`` it was
given, or with ``error``/``error_description`` when the user refused. The application then
POSTs the code to ``/v3/connect/token`` (``auth.exchange_code_for_token``), once: a code is
single-use, short-lived and bound to its ``redirect_uri``. Nylas keeps one grant per email
address per application, so connecting an address again re-authenticates the same grant.

Refusals of ``/connect/token`` use the OAuth error shape that SDK 6.18 parses into
``NylasOAuthError`` (``{error, error_code, error_description, error_uri}``, all four required;
anything else decodes as a ``NylasApiError`` of type ``unknown``). ``error_code`` values are the
fake's own (the HTTP status): no public source lists Nylas's numbers for these refusals.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Wire = dict[str, Any]

DEFAULT_CLIENT_ID = "fake-client-id"
CODE_LIFETIME_SECONDS = 600
ACCESS_TOKEN_SECONDS = 3600
ERROR_URI = "https://developer.nylas.com/docs/api/errors/event-codes/"
ACCESS_TYPES = ("online", "offline")
# Providers a user can connect through hosted auth; the first three get folder presets.
PROVIDERS = ("google", "microsoft", "imap", "icloud", "yahoo", "ews")
DEFAULT_SCOPES: dict[str, tuple[str, ...]] = {
    "google": (
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/calendar",
    ),
    "microsoft": (
        "openid",
        "offline_access",
        "Mail.ReadWrite",
        "Mail.Send",
        "Calendars.ReadWrite",
    ),
}


class AuthError(Exception):
    """Raised when the token exchange refuses; carries the OAuth error to answer with."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> Wire:
        """The JSON body Nylas answers, in the shape the SDK decodes as ``NylasOAuthError``."""
        return {
            "request_id": str(uuid.uuid4()),
            "error": self.error,
            "error_code": self.status,
            "error_description": self.description,
            "error_uri": ERROR_URI,
        }


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """What a code stands for: the consent it records and where it may be redeemed."""

    code: str
    grant_id: str
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    access_type: str
    issued_at: int
    credential_id: str | None = None  # the connector credential the consent went through


class CodeBook:
    """The codes issued and not yet redeemed.

    Not thread-safe: ``FakeNylas`` holds its lock around every call.
    """

    def __init__(self) -> None:
        self._codes: dict[str, IssuedCode] = {}

    def issue(
        self,
        *,
        grant_id: str,
        client_id: str,
        redirect_uri: str,
        scope: Sequence[str],
        access_type: str,
        at: int,
        credential_id: str | None = None,
    ) -> str:
        """A fresh, unguessable code for a consent just given."""
        code = secrets.token_urlsafe(24)
        self._codes[code] = IssuedCode(
            code, grant_id, client_id, redirect_uri, tuple(scope), access_type, at, credential_id
        )
        return code

    def redeem(self, code: str, *, client_id: str, redirect_uri: str, now: int) -> IssuedCode:
        """The consent behind ``code``, which is used up.

        A wrong ``redirect_uri`` or ``client_id`` is refused without using the code up (the
        application may correct itself); an unknown, used or expired one is ``invalid_grant``.

        Raises:
            AuthError: the code cannot be redeemed with these values.
        """
        issued = self._codes.get(code)
        if issued is None or now - issued.issued_at > CODE_LIFETIME_SECONDS:
            self._codes.pop(code, None)
            raise AuthError(
                400,
                "invalid_grant",
                "The code you provided is not valid: it has already been used, or has expired.",
            )
        if issued.client_id != client_id:
            raise AuthError(400, "invalid_grant", "The code was issued to another client_id.")
        if issued.redirect_uri != redirect_uri:
            raise AuthError(
                400,
                "invalid_grant",
                "redirect_uri does not match the one the code was issued for.",
            )
        del self._codes[code]
        return issued

    def issued(self, code: str) -> IssuedCode | None:
        """What ``code`` stands for, while it can still be redeemed (not using it up)."""
        return self._codes.get(code)

    def forget_grant(self, grant_id: str) -> None:
        """Drop the codes of a deleted grant: they can no longer be exchanged."""
        for code in [c for c, issued in self._codes.items() if issued.grant_id == grant_id]:
            del self._codes[code]


def default_scope(provider: str) -> tuple[str, ...]:
    """The scopes a connector grants when the authorisation URL names none."""
    return DEFAULT_SCOPES.get(provider, ())


def display_name(email: str) -> str:
    """A plausible name for the owner of ``email``: ``ann.lee@x`` is "Ann Lee"."""
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part)


def generated_email(provider: str) -> str:
    """An address for a consent without ``login_hint`` (the user typed one at the provider)."""
    return f"user-{uuid.uuid4().hex[:10]}@{provider}.example"


def _b64(document: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(document), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def id_token(issued: IssuedCode, grant: Mapping[str, Any]) -> str:
    """An unsigned JWT-shaped identity token (header.claims.signature): enough for code that
    stores or logs it, not for code that verifies it."""
    claims = {
        "iss": "https://api.us.nylas.com",
        "aud": issued.client_id,
        "sub": grant["id"],
        "email": grant.get("email"),
        "iat": issued.issued_at,
        "exp": issued.issued_at + ACCESS_TOKEN_SECONDS,
    }
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64(header)}.{_b64(claims)}.{secrets.token_urlsafe(16)}"


def token_response(issued: IssuedCode, grant: Mapping[str, Any]) -> Wire:
    """The body of a successful ``/v3/connect/token`` (SDK ``CodeExchangeResponse``).

    ``scope`` is one space-separated string; ``refresh_token`` only for ``access_type=offline``.
    """
    answer: Wire = {
        "access_token": secrets.token_urlsafe(32),
        "grant_id": grant["id"],
        "email": grant.get("email"),
        "provider": grant.get("provider"),
        "scope": " ".join(issued.scope),
        "token_type": "Bearer",
        "id_token": id_token(issued, grant),
        "expires_in": ACCESS_TOKEN_SECONDS,
    }
    if issued.access_type == "offline":
        answer["refresh_token"] = secrets.token_urlsafe(32)
    return answer


def redirect_to(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with ``params`` (None values left out) added to any query it already has."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))
