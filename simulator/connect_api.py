"""The fake Nylas API's hosted OAuth: ``GET /v3/connect/auth`` and ``POST /v3/connect/token``.

``/connect/auth`` is what the user's browser opens (the URL ``auth.url_for_oauth2`` builds). The
fake has no consent screen: it checks the request as Nylas would (a known application's
``client_id``, a ``redirect_uri``, ``response_type=code``, a known ``provider``, and a
``credential_id`` if one is given), then plays the
user consenting (or refusing, see ``FakeNylas.refuse_consent``) and answers the redirect Nylas
would send the browser to: ``302`` to ``redirect_uri`` with ``code`` and the ``state`` it got,
unchanged, or with ``error=access_denied``, ``error_description`` and ``state``. Problems found
before the consent (no valid ``redirect_uri`` to send the user back to) are answered in place
with a Nylas error, as the real page shows an error instead of redirecting.

``credential_id`` is the SDK's name for it (``URLForAuthenticationConfig.credential_id`` in
``nylas/models/auth.py``, passed through to the query by ``auth.url_for_oauth2``): the
connector credential, i.e. the provider auth app, the user consents to ("specify that
credential ID in authentication requests", developer.nylas.com/docs/reference/api/
connector-credentials/create_credential/). It must be a credential of the ``client_id``'s
application and of the connector being authenticated (another application's is unknown, as in
Nylas); without ``provider``, the credential's connector is the one.

``/connect/token`` takes ``{client_id, client_secret, code, redirect_uri, grant_type}`` (the SDK
sends the API key as ``client_secret``, checked against the application of ``client_id``)
and answers the token, or an OAuth error
(:class:`simulator.hosted_auth.AuthError`) that the SDK raises as ``NylasOAuthError``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from simulator.credentials import shown
from simulator.hosted_auth import ACCESS_TYPES, PROVIDERS, AuthError, redirect_to
from simulator.mailbox import FakeNylas

AUTH_PATH = "/v3/connect/auth"
TOKEN_PATH = "/v3/connect/token"  # noqa: S105 (a path, not a password)
OPEN_PATHS = (AUTH_PATH, TOKEN_PATH)  # reached without the API key header
TOKEN_FIELDS = ("client_id", "client_secret", "code", "redirect_uri")


def _refused(status: int, message: str) -> JSONResponse:
    error = {"type": "invalid_request_error", "message": message}
    return JSONResponse({"request_id": str(uuid.uuid4()), "error": error}, status_code=status)


def auth_provider(fake: FakeNylas, params: Any) -> str:
    """The connector a ``/connect/auth`` request is for: ``provider``, else the connector of
    its ``credential_id``, else Google (the fake's stand-in for the provider picker)."""
    provider = params.get("provider")
    if provider:
        return str(provider)
    credential_id = params.get("credential_id")
    if credential_id is not None:
        found = fake.applications.provider_of_credential(params.get("client_id"), credential_id)
        if found is not None:
            return found
    return "google"


def auth_problem(fake: FakeNylas, params: Any) -> str | None:
    """Why ``/connect/auth`` cannot start a consent with these parameters, or None."""
    client_id = params.get("client_id")
    if fake.applications.get(client_id) is None:
        return f"client_id {shown(client_id)} is not this application's"
    if not params.get("redirect_uri"):
        return "redirect_uri is required"
    if params.get("response_type") != "code":
        return "response_type must be code"
    provider = auth_provider(fake, params)
    if provider not in PROVIDERS:
        return f"provider must be one of {PROVIDERS}, got {shown(provider)}"
    if (params.get("access_type") or "online") not in ACCESS_TYPES:
        return f"access_type must be one of {ACCESS_TYPES}"
    credential_id = params.get("credential_id")
    if credential_id is not None and not fake.applications.usable_credential(
        client_id, credential_id, provider
    ):
        return f"credential_id {shown(credential_id)} is not a {provider} credential of this app"
    return None


def token_request(raw: bytes) -> dict[str, str]:
    """The arguments of ``FakeNylas.exchange_code`` from a token request body.

    Raises:
        AuthError: not a JSON object, another ``grant_type``, or a field missing.
    """
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise AuthError(400, "invalid_request", "the body must be a JSON object")
    if document.get("grant_type") != "authorization_code":
        raise AuthError(400, "unsupported_grant_type", "grant_type must be authorization_code")
    missing = [key for key in TOKEN_FIELDS if not isinstance(document.get(key), str)]
    if missing:
        raise AuthError(400, "invalid_request", f"missing {', '.join(missing)}")
    return {key: document[key] for key in TOKEN_FIELDS}


def connect_routes(fake: FakeNylas) -> list[Route]:
    """The hosted-auth routes over ``fake``."""

    async def authorize(request: Request) -> Response:
        params = request.query_params
        problem = auth_problem(fake, params)
        if problem is not None:
            return _refused(400, problem)
        redirect_uri = params["redirect_uri"]
        state = params.get("state")
        login_hint = params.get("login_hint") or None
        refusal = fake.consent_refusal(login_hint)
        if refusal is not None:
            target = redirect_to(
                redirect_uri,
                {"error": "access_denied", "error_description": refusal, "state": state},
            )
            return RedirectResponse(target, status_code=302)
        code = fake.authorize(
            login_hint,
            auth_provider(fake, params),
            redirect_uri=redirect_uri,
            client_id=params["client_id"],
            scope=(params.get("scope") or "").split() or None,
            access_type=params.get("access_type") or "online",
            credential_id=params.get("credential_id"),
        )
        target = redirect_to(redirect_uri, {"code": code, "state": state})
        return RedirectResponse(target, status_code=302)

    async def token(request: Request) -> Response:
        try:
            answer = fake.exchange_code(**token_request(await request.body()))
        except AuthError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return JSONResponse(answer)

    return [
        Route(AUTH_PATH, authorize, methods=["GET"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
    ]
