"""Connecting and disconnecting reps' mailboxes (hosted OAuth through Nylas), and backfills.

``POST /v1/reps/{id}/connect`` gives the CRM a URL to send the rep's browser to, after
checking its ``return_url`` against the allowed origins. Nylas brings the browser back to
``GET /oauth/nylas/callback`` (:mod:`api.oauth_callback`) with a code and the ``state``
crmsync signed.

The API never talks to Nylas itself: a :class:`MailboxConnector` does, given by the
composition root, so this package stays free of the Nylas client (DESIGN's layering).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.errors import ApiError
from api.inputs import read_body
from api.operations import Answer, Operation
from api.reps import require_rep
from domain import answers
from domain.accounts import DEFAULT_SILENCE_AFTER
from domain.backfill import BackfillKind
from domain.connect_access import ConnectAccess, OwnApplication, application_of, connect_access
from domain.inputs import NonBlank
from domain.oauth_state import STATE_LIFETIME, ConnectState, sign_state
from domain.organizations import Organization, OrgSecrets, listed_or
from domain.reps import Provider, Rep
from domain.return_urls import MAX_RETURN_URL_LENGTH, check_return_url
from domain.times import format_time
from storage.accounts import Connection, disconnect_rep
from storage.backfills import active_backfills, backfill_json, create_backfill, latest_backfill
from storage.connect_attempts import start_connect_attempt
from storage.org_access import org_with_secrets, record_credential
from storage.organizations import org_defaults
from storage.sealing import SecretsUnavailable

CALLBACK_PATH = "/oauth/nylas/callback"


class ConnectInput(BaseModel):
    """How to connect the rep's mailbox; every field may be left out."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "provider": "google",
                    "login_hint": "ann@acme.example",
                    "return_url": "https://crm.example/reps/ann",
                }
            ]
        },
    )

    provider: Provider | None = Field(
        None, description="the provider whose sign-in to show (default: the rep's provider)"
    )
    login_hint: NonBlank | None = Field(None, description="defaults to the rep's email")
    return_url: NonBlank | None = Field(
        None,
        # Enforced by check_return_url, whose refusal says why (return_url_too_long).
        json_schema_extra={"maxLength": MAX_RETURN_URL_LENGTH},
        description="where the callback sends the browser, with "
        "rep_id=&status=connected|failed[&error=] added to the query (before any "
        "#fragment); its origin must be in CRMSYNC_RETURN_URL_ORIGINS (else 400 "
        "return_url_not_allowed). error=mailbox_mismatch: the rep signed in with a "
        "mailbox other than the rep's own address",
    )


CONNECT = Operation(
    "POST",
    "/reps/{rep_id}/connect",
    "connect_rep",
    "accounts",
    "Start connecting the rep's mailbox: a hosted OAuth URL for its browser",
    (Answer(200, "the URL, valid until expires_at", answers.ConnectUrl),),
    body=ConnectInput,
    body_required=False,
    refusals=(503,),
    description=(
        "A URL to send the rep's browser to (Nylas's hosted sign-in), carrying a state signed by "
        "crmsync, valid 15 minutes and usable once. Nylas brings the browser back to "
        "/oauth/nylas/callback, which stores the grant (only if it is the rep's own mailbox) and "
        "redirects to return_url with status=connected or failed."
    ),
)
DISCONNECT = Operation(
    "POST",
    "/reps/{rep_id}/disconnect",
    "disconnect_rep",
    "accounts",
    "Disconnect the rep's mailbox: the grant is destroyed, stored emails stay",
    (Answer(200, "the rep, stopped", answers.Disconnected),),
    description=(
        "Destroys the grant at Nylas, stops syncing and cancels backfills; stored emails stay. "
        "grant_destroyed says whether Nylas confirmed it."
    ),
)
START_BACKFILL = Operation(
    "POST",
    "/reps/{rep_id}/backfill",
    "start_backfill",
    "accounts",
    "Read the rep's mail since its sync-from again (replaces a running backfill)",
    (Answer(202, "recorded; it starts within a second", answers.Backfill),),
    refusals=(409,),
    description=(
        "Reads the rep's mail since its sync-from again, replacing a running backfill (409 "
        "not_connected without a mailbox)."
    ),
)
GET_BACKFILL = Operation(
    "GET",
    "/reps/{rep_id}/backfill",
    "get_backfill",
    "accounts",
    "The rep's latest mailbox backfill and its running contact backfills",
    (Answer(200, "progress", answers.BackfillStatus),),
    description=(
        "Progress of the latest mailbox backfill and of running contact backfills: windows (a "
        "day of mail each) done of total, pages, messages scanned, emails stored, percent."
    ),
)
OPERATIONS = (CONNECT, DISCONNECT, START_BACKFILL, GET_BACKFILL)


class ConnectFailed(Exception):
    """Raised by a :class:`MailboxConnector` when Nylas refused or could not be reached."""

    def __init__(self, reason: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable


class MailboxConnector(Protocol):
    """What connecting needs from Nylas (implemented over the SDK by the composition root),
    through the organization's application (``domain.connect_access``)."""

    def make_credential(self, access: ConnectAccess) -> str:
        """The id of the Credential made for the access's provider app. Raises ConnectFailed."""
        ...

    def auth_url(
        self, *, access: ConnectAccess, redirect_uri: str, state: str, login_hint: str | None
    ) -> str:
        """Raises ConnectFailed (the application is not configured)."""
        ...

    def exchange_code(
        self, *, application: OwnApplication | None, redirect_uri: str, code: str
    ) -> Connection:
        """Raises ConnectFailed."""
        ...

    def destroy_grant(self, grant_id: str, application: OwnApplication | None) -> bool:
        """True when destroyed, False when already gone. Raises ConnectFailed."""
        ...


@dataclass(frozen=True)
class AccountsConfig:
    """How connections are made: the connector, where Nylas sends the browser back (built
    from the configured public URL, never from a request's ``Host``), the secrets that sign
    ``state``, the origins a ``return_url`` may have, the domains whose mailboxes a rep of
    them may connect besides the rep's own address, and the rules for sync-from and silence."""

    connector: MailboxConnector | None
    redirect_uri: str
    state_secrets: tuple[bytes, ...] = field(repr=False)
    lookback: timedelta = timedelta(days=30)
    silence_after: timedelta = DEFAULT_SILENCE_AFTER
    return_url_origins: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()


def _refusal(failure: ConnectFailed) -> ApiError:
    """The API's answer to a connection Nylas refused or could not make."""
    if failure.reason == "nylas_not_configured":
        return ApiError(503, failure.reason, failure.message)
    return ApiError(502 if failure.retryable else 400, failure.reason, failure.message)


def account_routes(context: ApiContext, config: AccountsConfig) -> list[Route]:
    """The ``/v1`` routes for connecting, disconnecting and backfilling a rep's mailbox."""

    def connector() -> MailboxConnector:
        if config.connector is None:
            raise ApiError(
                503,
                "nylas_not_configured",
                "connecting mailboxes needs NYLAS_API_KEY and NYLAS_CLIENT_ID",
            )
        return config.connector

    async def connect(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        given = await read_body(request, ConnectInput, "invalid_connect", optional=True)
        login_hint = given.login_hint.strip() if given.login_hint else None
        return_url = given.return_url.strip() if given.return_url else None
        now = context.clock()

        def start(session: Session) -> tuple[Rep, str, ConnectAccess]:
            if return_url is not None:
                # The organization's origins where it lists them (InvalidReturnUrl: 400).
                origins = org_defaults(session, org_id).return_url_origins
                check_return_url(return_url, listed_or(origins, config.return_url_origins))
            rep = require_rep(session, org_id, rep_id)
            org, secrets = opened_org(session, org_id)
            access = connect_access(org, secrets, given.provider or rep.provider)
            return rep, start_connect_attempt(session, org_id, rep_id, return_url, now), access

        rep, nonce, access = await context.in_transaction(start)
        if access.needs_credential:
            access = await made_credential(access)
        state = sign_state(ConnectState(rep_id, nonce, now), config.state_secrets[0])
        try:
            url = connector().auth_url(
                access=access,
                redirect_uri=config.redirect_uri,
                state=state,
                login_hint=login_hint or rep.email,
            )
        except ConnectFailed as failure:
            raise _refusal(failure) from None
        started: answers.ConnectUrl = {
            "url": url,
            "expires_at": format_time(now + STATE_LIFETIME),
        }
        return JSONResponse(started)

    def opened_org(session: Session, org_id: str) -> tuple[Organization, OrgSecrets]:
        try:
            return org_with_secrets(session, org_id, context.secret_box)
        except SecretsUnavailable as error:
            raise ApiError(503, error.reason, error.message) from None

    async def made_credential(access: ConnectAccess) -> ConnectAccess:
        """The access once its provider app's Credential is made at Nylas and recorded."""
        try:
            made = await run_in_threadpool(connector().make_credential, access)
        except ConnectFailed as failure:
            raise _refusal(failure) from None
        credential = access.credential
        assert credential is not None

        def record(session: Session) -> str:
            return record_credential(
                session, access.org_id, credential.provider, credential.client_id, made
            )

        return access.with_credential(await context.in_transaction(record))

    async def disconnect(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]

        def stop(session: Session) -> tuple[Rep, str | None, OwnApplication | None]:
            rep, grant_id = disconnect_rep(session, org_id, rep_id, context.clock())
            return rep, grant_id, application_of(*opened_org(session, org_id))

        rep, grant_id, application = await context.in_transaction(stop)
        destroyed: bool | None = None
        error: str | None = None
        if grant_id is not None and config.connector is not None:
            try:
                destroyed = await run_in_threadpool(
                    config.connector.destroy_grant, grant_id, application
                )
            except ConnectFailed as failure:
                error = failure.message
        stopped: answers.Disconnected = {
            "rep": rep.to_json(context.clock(), config.silence_after),
            "grant_id": grant_id,
            "grant_destroyed": destroyed,
            "grant_error": error,
        }
        return JSONResponse(stopped)

    async def start_backfill(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        now = context.clock()

        def write(session: Session) -> answers.Backfill:
            rep = require_rep(session, org_id, rep_id)
            if rep.grant_id is None:
                raise ApiError(409, "not_connected", f"rep {rep_id!r} has no connected mailbox")
            row = create_backfill(
                session,
                org_id=org_id,
                rep_id=rep_id,
                grant_id=rep.grant_id,
                kind=BackfillKind.MAILBOX,
                since=rep.sync_from,
                until=now,
                now=now,
            )
            return backfill_json(row)

        return JSONResponse(await context.in_transaction(write), status_code=202)

    async def backfill_status(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]

        def read(session: Session) -> answers.BackfillStatus:
            require_rep(session, org_id, rep_id)
            latest = latest_backfill(session, org_id, rep_id, BackfillKind.MAILBOX)
            contacts = [
                backfill_json(row)
                for row in active_backfills(session, org_id, rep_id)
                if row.kind == BackfillKind.CONTACT.value
            ]
            return {
                "mailbox": backfill_json(latest) if latest is not None else None,
                "contacts": contacts,
            }

        return JSONResponse(await context.in_transaction(read))

    return [
        CONNECT.route(connect),
        DISCONNECT.route(disconnect),
        START_BACKFILL.route(start_backfill),
        GET_BACKFILL.route(backfill_status),
    ]
