"""The web application: the Nylas ingress, and the CRM-facing API with health and metrics.

``uvicorn --factory crmsync.app:build_app`` calls :func:`build_app` at start-up, so nothing
is read or connected at import time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from api.accounts import CALLBACK_PATH, AccountsConfig
from api.context import ApiContext
from api.errors import EXCEPTION_HANDLERS
from api.health import health_routes
from api.limits import RequestLimits
from api.metrics import metrics_registry, metrics_routes
from api.oauth_callback import callback_routes
from api.openapi import openapi_routes
from api.v1 import v1_document, v1_mount
from crmsync.collector import freeze_startup_objects
from crmsync.connector import NylasConnector
from crmsync.logs import configure_logging
from crmsync.runtime import Runtime
from crmsync.settings import Settings, SettingsError
from storage.org_access import own_application_secrets
from storage.sealing import SecretBox
from webhooks.keys import IngressKeys, KeyRing
from webhooks.routes import IngressConfig, nylas_routes
from workers.nylas_client import NylasGateway
from workers.queue_metrics import QueueMetrics
from workers.queues import all_queue_names

logger = logging.getLogger(__name__)

# prometheus_client's own switch to multiprocess mode, read by it when it is imported: the
# same variable tells /metrics to aggregate every process's files instead of this process's.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


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
    secret_box = SecretBox(tuple(str(key) for key in runtime.settings.secret_keys))
    # The organizations' secrets are read when the application starts, then every few
    # seconds; until the first read only the deployment's verify.
    keys = KeyRing(IngressKeys.build(runtime.settings.webhook_secret_bytes(), ()))
    ingress = IngressConfig(
        keys=keys,
        max_body_bytes=runtime.settings.max_body_bytes,
        enqueuer=runtime.enqueuer,
        refusal_delay_seconds=runtime.settings.refusal_delay_ms / 1000,
    )

    api_context = ApiContext(
        engine=runtime.engine,
        webhook_allowed_networks=runtime.settings.webhook_allowed_networks,
        limits=RequestLimits(
            max_subscriptions=runtime.settings.max_subscriptions,
            max_streams_per_token=runtime.settings.max_streams_per_token,
            max_long_polls_per_token=runtime.settings.max_long_polls_per_token,
        ),
        secret_box=secret_box,
    )
    accounts = accounts_config(runtime.settings)

    def check_database() -> None:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def check_redis() -> None:
        runtime.broker.client.ping()

    async def load_keys() -> None:
        try:
            keys.replace(await run_in_threadpool(ingress_keys, runtime, secret_box))
        except Exception:  # a database blip: the keys held stay in use, and it is retried
            logger.exception("could not read the organizations' webhook secrets")

    async def refresh_keys() -> None:
        """Every few seconds, the organizations' webhook secrets as stored now: a new or
        rotated one verifies notifications in this process within that time."""
        while True:
            await anyio.sleep(runtime.settings.org_keys_refresh_ms / 1000)
            await load_keys()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        freeze_startup_objects()  # full GC pauses were the ingress's p99 (crmsync.collector)
        await load_keys()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(refresh_keys)
            yield
            tasks.cancel_scope.cancel()
        if owns_runtime:
            runtime.close()

    app = Starlette(
        routes=[
            *nylas_routes(ingress),
            *health_routes({"database": check_database, "redis": check_redis}),
            *metrics_routes(_metrics_registry(runtime), multiprocess_dir()),
            *openapi_routes(v1_document()),
            v1_mount(api_context, tokens=runtime.settings.api_token_bytes(), accounts=accounts),
            *callback_routes(api_context, accounts),
            *extra_routes,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    # Starlette answers "/v1" with a redirect to "/v1/" built from the request's Host header
    # (finding L6): a poisoned cache could send others to any host. Unknown paths are 404.
    app.router.redirect_slashes = False
    return app


def ingress_keys(runtime: Runtime, box: SecretBox) -> IngressKeys:
    """The deployment's webhook secrets and those of each organization's own application."""
    with Session(runtime.engine) as session:
        own = own_application_secrets(session, box)
    return IngressKeys.build(runtime.settings.webhook_secret_bytes(), own)


def accounts_config(settings: Settings) -> AccountsConfig:
    """How reps' mailboxes are connected: through Nylas when it is configured."""
    # The deployment's application when it is configured; organizations' own ones always.
    gateway = None
    if settings.nylas_api_key is not None and settings.nylas_client_id is not None:
        gateway = NylasGateway(str(settings.nylas_api_key), settings.nylas_api_uri)
    connector = NylasConnector(
        gateway, settings.nylas_client_id, region_uris=settings.nylas_region_uris
    )
    if not settings.embedded and not settings.oauth_state_secrets:
        logger.warning(
            "CRMSYNC_OAUTH_STATE_SECRETS is unset: the OAuth state is signed with a key derived "
            "from the first API token; set a secret of its own"
        )
    # The configured public URL, else this service's own address: never a request's Host.
    public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
    return AccountsConfig(
        connector=connector,
        redirect_uri=public_url + CALLBACK_PATH,
        state_secrets=settings.state_secret_bytes(),
        lookback=timedelta(days=settings.sync_lookback_days),
        silence_after=timedelta(hours=settings.silence_after_hours),
        return_url_origins=frozenset(settings.return_url_origins),
        allowed_domains=frozenset(settings.connect_allowed_domains),
    )


def _metrics_registry(runtime: Runtime) -> CollectorRegistry:
    """What ``/metrics`` serves: the process's (or, in multiprocess mode, every process's)
    metrics, and the queues read from Redis at each scrape.

    Raises:
        SettingsError: ``PROMETHEUS_MULTIPROC_DIR`` is set but names no directory.
    """
    queues = QueueMetrics(
        runtime.broker.client, runtime.settings.redis_namespace, all_queue_names()
    )
    return metrics_registry(queues, multiprocess_dir=multiprocess_dir())


def multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR``, when metrics are shared by the processes of this host.

    Raises:
        SettingsError: it is set but names no directory.
    """
    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE, "").strip() or None
    if directory is not None and not os.path.isdir(directory):
        raise SettingsError([f"{MULTIPROCESS_DIR_VARIABLE} must name an existing directory"])
    return directory
