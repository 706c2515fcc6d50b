"""A local stand-in for the Nylas v3 API, for the real ``nylas`` SDK to talk to over HTTP.

It serves the grants, folders, messages, calendars and events of a
:class:`simulator.mailbox.FakeNylas` with the exact envelopes the SDK decodes (NYLAS.md 6.6):
``{"request_id", "data"}`` for one object, ``{"request_id", "data": [...], "next_cursor"}`` for
a list, and ``{"request_id", "error": {"type", "message"}}`` for every error, unknown routes
included (``/v3/connect/token`` refuses in the OAuth shape instead: see
:mod:`simulator.connect_api`, which also serves the hosted-auth redirect). It accepts the
SDK's query quirks (``True``/``False`` booleans, lists as repeated keys) and the documented
forms (lower-case booleans, comma-separated lists). Event ids arrive percent-encoded (``#``,
``/`` and ``?`` included) and are decoded before lookup. Writes (events, sends, grant
deletions) answer what Nylas answers (see :mod:`simulator.calendar`,
:mod:`simulator.sending`) and queue the notifications Nylas would send.

Before routing, each request is logged, may meet an injected fault (a status, a
``Retry-After``, a delay, an HTML body, a lost answer), and must carry
``Authorization: Bearer <api_key>`` of one of the fake's applications (except the two
hosted-auth endpoints; see :mod:`simulator.applications`). The key decides what the request
sees: its application's grants only (another application's grant is answered exactly as an
unknown one), and its application's connector credentials (:mod:`simulator.connectors_api`).

This module only assembles the API: the gate is ``simulator.api_gate``, the envelopes and
pages ``simulator.api_envelopes``, the reading of a request ``simulator.api_requests``, and the
routes are one module per resource (``simulator.grants_api``, ``simulator.mail_api``,
``simulator.calendar_api`` and the others listed in :func:`build_nylas_api`). The errors the
routes raise are turned into envelopes here, once for all of them.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from simulator.api_envelopes import ApiError, error, error_type_for
from simulator.api_gate import Gate
from simulator.calendar import CalendarError
from simulator.calendar_api import calendar_routes
from simulator.connect_api import connect_routes
from simulator.connectors_api import connector_routes
from simulator.control import control_routes
from simulator.folder_control import folder_control_routes
from simulator.grants_api import grant_routes
from simulator.mail_api import mail_routes
from simulator.mailbox import FakeNylas
from simulator.notification_push import WebhookTarget, drain_routes
from simulator.sending import InvalidSend


async def _on_calendar_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CalendarError)
    error_type = exc.error_type or error_type_for(exc.status)
    return error(exc.status, error_type, exc.message, provider_error=exc.provider_error)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc.status, exc.error_type, exc.message)


async def _on_invalid_send(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidSend)
    return error(exc.status, error_type_for(exc.status), str(exc))


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, error_type_for(exc.status_code), str(exc.detail))


def build_nylas_api(fake: FakeNylas, webhook: WebhookTarget | None = None) -> Starlette:
    """The fake Nylas API over ``fake``, as an ASGI app (serve it with uvicorn).

    With a ``webhook``, draining the notifications delivers them there, signed
    (``simulator.notification_push``); without one the drain only returns them.
    """
    routes = [
        *grant_routes(fake),
        *mail_routes(fake),
        *calendar_routes(fake),
        *connect_routes(fake),
        *connector_routes(fake),
        *control_routes(fake),
        *folder_control_routes(fake),
        *drain_routes(fake, webhook),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Gate, fake=fake)],
        exception_handlers={
            ApiError: _on_api_error,
            CalendarError: _on_calendar_error,
            InvalidSend: _on_invalid_send,
            HTTPException: _on_http_exception,
        },
    )
    # Nylas answers an unknown path 404; Starlette would redirect "/v3/grants/" to a URL
    # built from the request's Host header, which crmsync's embedded mode must not reflect.
    app.router.redirect_slashes = False
    return app
