"""The web application: the Nylas ingress, and the CRM-facing API with health and metrics.

``uvicorn --factory crmsync.app:build_app`` calls :func:`build_app` at start-up, so nothing
is read or connected at import time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from api.context import ApiContext
from api.errors import EXCEPTION_HANDLERS
from api.health import health_routes
from api.metrics import metrics_routes
from api.openapi import openapi_routes
from api.v1 import v1_mount
from crmsync.logs import configure_logging
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from webhooks.routes import IngressConfig, nylas_routes

logger = logging.getLogger(__name__)


def build_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The Starlette application.

    Given a ``runtime``, the caller owns it (``crmsync run`` shares it with its workers);
    otherwise one is built from ``settings`` (or the environment) and closed at shutdown.
    ``extra_routes`` are mounted beside crmsync's own (the embedded mode's simulated Nylas).
    """
    owns_runtime = runtime is None
    if runtime is None:
        if settings is None:
            settings = Settings.from_environ(os.environ)
            configure_logging(settings.log_level)
        runtime = Runtime.from_settings(settings)
        if settings.embedded:
            logger.warning(
                "no REDIS_URL: the web process has its own in-process broker and no workers; "
                "use `crmsync run` for the embedded mode"
            )
    ingress = IngressConfig(
        secrets=runtime.settings.webhook_secret_bytes(),
        max_body_bytes=runtime.settings.max_body_bytes,
        enqueuer=runtime.enqueuer,
    )

    def check_database() -> None:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def check_redis() -> None:
        runtime.broker.client.ping()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if owns_runtime:
            runtime.close()

    return Starlette(
        routes=[
            *nylas_routes(ingress),
            *health_routes({"database": check_database, "redis": check_redis}),
            *metrics_routes(),
            *openapi_routes(),
            v1_mount(
                ApiContext(engine=runtime.engine),
                tokens=runtime.settings.api_token_bytes(),
            ),
            *extra_routes,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
