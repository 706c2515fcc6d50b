"""``GET /oauth/nylas/callback``: where Nylas sends the rep's browser back after hosted OAuth.

Not under ``/v1``: a browser arrives here without the CRM's token; the signed, one-time
``state`` is what authenticates the request. The callback

1. reads the state (signed by crmsync, signed less than 15 minutes ago) and spends its
   connection attempt (unused, for this rep, *started* less than 15 minutes ago: the signed
   time alone can be forged by whoever holds the signing secret, finding L7);
2. exchanges the code for the grant;
3. binds it only if the grant's mailbox is the rep's (finding M5): anyone holding a leaked
   connect URL can sign in with their own account, so a grant of another address is
   destroyed at Nylas (unless another rep holds it) and the callback fails with
   ``mailbox_mismatch``;
4. stores the grant on the rep, sets its sync-from and records the backfill of the look-back
   window, all in one transaction, so a connected rep always has its backfill.

Every ending is written on the attempt as its outcome. With a ``return_url`` (of an allowed
origin, checked when the attempt started), the browser is sent back there with ``rep_id``,
``status`` and ``error`` in the query, before any fragment; otherwise the answer is JSON.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from api.accounts import CALLBACK_PATH, AccountsConfig, ConnectFailed
from api.context import ApiContext
from api.errors import ApiError
from api.queries import read_query
from api.reps import require_rep
from domain.backfill import BackfillKind
from domain.connect_access import OwnApplication, application_of
from domain.mailbox_binding import mailbox_belongs_to_rep
from domain.oauth_state import STATE_LIFETIME, read_state
from domain.organizations import OrgDefaults, listed_or, lookback_of
from domain.reps import Rep
from domain.return_urls import with_status
from storage.accounts import Connection, connect_rep
from storage.backfills import create_backfill
from storage.connect_attempts import (
    SpentAttempt,
    record_connect_outcome,
    refusal_reason,
    spend_connect_attempt,
)
from storage.errors import StorageConflict
from storage.org_access import org_with_secrets
from storage.organizations import org_defaults
from storage.reps import rep_for_grant
from storage.sealing import SecretsUnavailable

logger = logging.getLogger(__name__)

# A code, a state or Nylas's error text is far shorter; a longer value is not Nylas's.
MAX_CALLBACK_VALUE = 8192
_REFUSALS = {
    "state_used": "this connection link was already used; start again",
    "expired_state": "the connection took too long; start it again",
}


class CallbackQuery(BaseModel):
    """What Nylas adds to the callback URL. It is Nylas's redirect, not the CRM's call, so
    parameters Nylas may add one day are let through (ignored), not refused."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    state: str = Field("", max_length=MAX_CALLBACK_VALUE)
    code: str | None = Field(None, max_length=MAX_CALLBACK_VALUE)
    error: str | None = Field(None, max_length=MAX_CALLBACK_VALUE)
    error_description: str | None = Field(None, max_length=MAX_CALLBACK_VALUE)


def callback_routes(context: ApiContext, config: AccountsConfig) -> list[Route]:
    """The callback route over ``context``'s database and ``config``'s connector."""

    async def outcome(nonce: str, value: str) -> None:
        await context.in_transaction(lambda session: record_connect_outcome(session, nonce, value))

    async def callback(request: Request) -> Response:
        params = read_query(request, CallbackQuery)
        now = context.clock()
        state = read_state(params.state, config.state_secrets, now)

        def spend(
            session: Session,
        ) -> tuple[SpentAttempt, Rep, OrgDefaults, OwnApplication | None] | str:
            attempt = spend_connect_attempt(session, state.nonce, state.rep_id, now, STATE_LIFETIME)
            if attempt is None:
                return refusal_reason(session, state.nonce, state.rep_id, now, STATE_LIFETIME)
            # The attempt names the rep's organization (its nonce is the state's own).
            rep = require_rep(session, attempt.org_id, state.rep_id)
            try:
                org, secrets = org_with_secrets(session, attempt.org_id, context.secret_box)
            except SecretsUnavailable as error:
                raise ApiError(503, error.reason, error.message) from None
            # The code is exchanged with the application that issued it: the organization's.
            application = application_of(org, secrets)
            return attempt, rep, org_defaults(session, attempt.org_id), application

        spent = await context.in_transaction(spend)
        if isinstance(spent, str):
            raise ApiError(400, spent, _REFUSALS[spent])
        attempt, rep, defaults, application = spent
        denied = params.error
        if denied:
            await outcome(attempt.nonce, "denied")
            detail = params.error_description or denied
            return _finish(attempt, "denied", 400, detail)
        code = params.code
        if not code:
            await outcome(attempt.nonce, "missing_code")
            raise ApiError(400, "missing_code", "the callback has no 'code'")
        connector = config.connector
        if connector is None:
            raise ApiError(503, "nylas_not_configured", "NYLAS_API_KEY is not set")
        try:
            connection = await run_in_threadpool(
                lambda: connector.exchange_code(
                    application=application, redirect_uri=config.redirect_uri, code=code
                )
            )
        except ConnectFailed as failure:
            await outcome(attempt.nonce, failure.reason)
            status = 502 if failure.retryable else 400
            if failure.reason == "nylas_not_configured":
                status = 503
            return _finish(attempt, failure.reason, status, failure.message)

        allowed = listed_or(defaults.connect_allowed_domains, config.allowed_domains)
        if not mailbox_belongs_to_rep(rep.email, connection.email, allowed):
            return await refuse_mailbox(attempt, connection, application)
        lookback = lookback_of(defaults, config.lookback)

        def store(session: Session) -> Rep:
            connected = connect_rep(session, rep.org_id, state.rep_id, connection, now, lookback)
            assert connected.grant_id is not None
            create_backfill(
                session,
                org_id=connected.org_id,
                rep_id=connected.rep_id,
                grant_id=connected.grant_id,
                kind=BackfillKind.MAILBOX,
                since=connected.sync_from,
                until=now,
                now=now,
            )
            record_connect_outcome(session, attempt.nonce, "connected")
            return connected

        try:
            stored = await context.in_transaction(store)
        except StorageConflict as conflict:
            await outcome(attempt.nonce, conflict.reason)
            return _finish(attempt, conflict.reason, 409, conflict.message)
        if attempt.return_url is not None:
            connected = {"rep_id": stored.rep_id, "status": "connected"}
            target = with_status(attempt.return_url, connected)
            return RedirectResponse(target, status_code=303)
        return JSONResponse(
            {"status": "connected", "rep": stored.to_json(now, config.silence_after)}
        )

    async def refuse_mailbox(
        attempt: SpentAttempt, connection: Connection, application: OwnApplication | None
    ) -> Response:
        """The grant is of another mailbox than the rep's: destroy it (unless a rep holds it,
        whose connection must not suffer for it) and say so."""

        def check(session: Session) -> str | None:
            record_connect_outcome(session, attempt.nonce, "mailbox_mismatch")
            holder = rep_for_grant(session, connection.grant_id)
            return holder.rep_id if holder is not None else None

        holder = await context.in_transaction(check)
        destroyed = False
        if holder is None and config.connector is not None:
            try:
                destroyed = await run_in_threadpool(
                    config.connector.destroy_grant, connection.grant_id, application
                )
            except ConnectFailed as failure:
                logger.warning(
                    "could not destroy the mismatched grant %s: %s",
                    connection.grant_id,
                    failure.message,
                )
        logger.warning(
            "refused a connection of rep %s: the grant %s is of another mailbox "
            "(destroyed: %s, held by rep: %s)",
            attempt.rep_id,
            connection.grant_id,
            destroyed,
            holder,
        )
        message = (
            f"the mailbox signed in ({connection.email or 'no address'}) is not the rep's own "
            "address; sign in with the rep's mailbox"
        )
        return _finish(attempt, "mailbox_mismatch", 403, message)

    return [Route(CALLBACK_PATH, callback, methods=["GET"])]


def _finish(attempt: SpentAttempt, reason: str, status: int, message: str) -> Response:
    """A failed connection: back to the CRM's page saying why, or a JSON error."""
    if attempt.return_url is not None:
        target = with_status(
            attempt.return_url, {"rep_id": attempt.rep_id, "status": "failed", "error": reason}
        )
        return RedirectResponse(target, status_code=303)
    raise ApiError(status, reason, message)
