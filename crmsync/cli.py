"""The ``crmsync`` command: run the service, migrate the database, send demo notifications.

The operators' commands (``status``, ``dlq``) are wired in ``crmsync.operator_cli``; the
worker processes' (``worker``) in ``crmsync.worker_command``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from collections.abc import Sequence

from crmsync.bench.command import add_bench_command
from crmsync.operator_cli import add_operator_commands, add_reprocess_command
from crmsync.orgs_cli import add_orgs_command
from crmsync.settings import DEV_API_TOKEN, DEV_WEBHOOK_SECRET, Settings, SettingsError
from crmsync.simulator_command import add_simulator_command
from crmsync.worker_command import add_worker_command


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crmsync`` command."""
    parser = _parser()
    # ``crmsync worker`` passes its arguments on to Dramatiq's parser; every other command
    # refuses what it does not know, as parse_args would.
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and not getattr(args, "passes_arguments_on", False):
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    args.passed_on = passed_on
    try:
        result: int = args.command(args)
    except SettingsError as error:
        print(f"crmsync: {error}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crmsync",
        description="Keeps a CRM in step with its sales reps' mailboxes and calendars via Nylas.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the web service and workers in one process",
        description="Run the web service and worker threads in one process. With REDIS_URL "
        "unset it runs embedded: a SQLite file and an in-process broker (not durable).",
    )
    run.add_argument("--host", help="address to listen on (default: CRMSYNC_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default: CRMSYNC_PORT or 8000)")
    run.set_defaults(command=_run)

    migrate = commands.add_parser(
        "migrate",
        help="bring the database schema up to date",
        description="Apply every pending database migration (DATABASE_URL).",
    )
    migrate.set_defaults(command=_migrate)

    demo = commands.add_parser(
        "demo",
        help="register a demo rep, send it signed Nylas notifications, show its emails",
        description="Against a running crmsync: register a demo rep and contact through the "
        "CRM API, fill its mailbox in the built-in Nylas simulator (embedded mode), send "
        "real-shaped signed notifications (a message, a truncated message, a v2 body, a grant "
        "expiry, and a retry), and list the emails stored.",
    )
    demo.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of crmsync")
    demo.add_argument(
        "--secret",
        help="webhook secret to sign with (default: first of NYLAS_WEBHOOK_SECRETS, "
        "else the development secret of the embedded mode)",
    )
    demo.add_argument(
        "--token",
        help="CRM API token (default: first of CRMSYNC_API_TOKENS, else the development token)",
    )
    demo.add_argument("--grant", default="demo-grant", help="grant id of the demo rep's mailbox")
    demo.add_argument(
        "--simulator",
        help="base URL of a `crmsync simulator` process that crmsync uses as its Nylas "
        "(default: NYLAS_API_URI when it is a loopback address, else the built-in simulator "
        "of the embedded mode under --url)",
    )
    demo.add_argument(
        "--simulator-key",
        help="API key of that simulator (default: NYLAS_API_KEY, else the built-in one's)",
    )
    demo.set_defaults(command=_demo)
    secret_key = commands.add_parser(
        "secret-key",
        help="print a new key for CRMSYNC_SECRET_KEYS",
        description="Print a new key that seals organizations' secrets at rest. To rotate, "
        "put it first in CRMSYNC_SECRET_KEYS and keep the old keys after it.",
    )
    secret_key.set_defaults(command=_secret_key)
    add_simulator_command(commands)
    add_operator_commands(commands)
    add_orgs_command(commands)
    add_reprocess_command(commands)
    add_bench_command(commands)
    add_worker_command(commands)
    return parser


def _secret_key(args: argparse.Namespace) -> int:
    from storage.sealing import new_key

    print(new_key())
    return 0


def _settings() -> Settings:
    from crmsync.logs import configure_logging

    settings = Settings.from_environ(os.environ)
    configure_logging(settings.log_level)
    return settings


def _run(args: argparse.Namespace) -> int:
    import uvicorn
    from starlette.routing import BaseRoute

    from crmsync.app import build_app
    from crmsync.runtime import Runtime
    from crmsync.simulated_nylas import with_simulated_nylas
    from crmsync.worker import declare, start_background, start_worker_pools
    from storage.migrate import upgrade

    settings = _settings()
    host = args.host or settings.host
    port = args.port or settings.port
    # Where this process listens is also where browsers come back from hosted OAuth, unless
    # CRMSYNC_PUBLIC_URL says otherwise.
    settings = dataclasses.replace(settings, host=host, port=port)
    extra_routes: list[BaseRoute] = []
    simulated = settings.embedded and settings.nylas_api_key is None
    if simulated:
        settings, simulator = with_simulated_nylas(settings, f"http://{host}:{port}")
        extra_routes.append(simulator)
    runtime = Runtime.from_settings(settings)
    upgrade(runtime.engine)
    declare(runtime)
    # Deliveries get threads of their own: a slow subscriber holds one for up to a whole
    # attempt, and must never hold the ones that handle notifications.
    worker = start_worker_pools(runtime, settings.worker_threads, settings.delivery_threads)
    background = start_background(runtime)
    print(f"crmsync listening on http://{host}:{port}", file=sys.stderr)
    print(f"  Nylas webhooks: http://{host}:{port}/webhooks/nylas", file=sys.stderr)
    print(f"  database: {_redacted(settings.database_url)}", file=sys.stderr)
    if settings.embedded:
        print(
            "  WARNING: embedded broker (no REDIS_URL): queued work lives in this process's "
            "memory and is lost when it stops. For trying and demos only.",
            file=sys.stderr,
        )
    if simulated:
        print(
            f"  Nylas API: the built-in simulator at {settings.nylas_api_uri} "
            "(no NYLAS_API_KEY); `crmsync demo` fills its mailboxes",
            file=sys.stderr,
        )
    if settings.uses_dev_secrets:
        print(
            "  WARNING: using the published development webhook secret and API token; "
            "set NYLAS_WEBHOOK_SECRETS and CRMSYNC_API_TOKENS for real use.",
            file=sys.stderr,
        )
    if settings.webhook_allowed_networks:
        networks = ", ".join(str(n) for n in settings.webhook_allowed_networks)
        print(
            f"  outbound webhooks may also reach {networks} (CRMSYNC_WEBHOOK_ALLOWED_NETWORKS)",
            file=sys.stderr,
        )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again: make both
    # end here, so the worker threads stop and hand unfinished messages back to the queue.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        config = uvicorn.Config(
            build_app(runtime=runtime, extra_routes=extra_routes),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
    finally:
        background.stop()
        worker.stop()
        runtime.close()
    print("crmsync stopped", file=sys.stderr)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _migrate(args: argparse.Namespace) -> int:
    from storage.engine import create_database_engine
    from storage.migrate import current_revision, upgrade

    settings = _settings()
    engine = create_database_engine(settings.database_url)
    try:
        upgrade(engine)
        print(
            f"database at revision {current_revision(engine)}: {_redacted(settings.database_url)}"
        )
    finally:
        engine.dispose()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from crmsync.demo import DemoTarget, local_simulator, run_demo
    from crmsync.simulated_nylas import SIMULATOR_API_KEY, SIMULATOR_PATH

    simulator = args.simulator or local_simulator(os.environ.get("NYLAS_API_URI"))
    return run_demo(
        DemoTarget(
            url=args.url,
            secret=args.secret or _first_configured("NYLAS_WEBHOOK_SECRETS") or DEV_WEBHOOK_SECRET,
            token=args.token or _first_configured("CRMSYNC_API_TOKENS") or DEV_API_TOKEN,
            grant=args.grant,
            simulator=(simulator or args.url.rstrip("/") + SIMULATOR_PATH).rstrip("/"),
            simulator_key=args.simulator_key
            or (os.environ.get("NYLAS_API_KEY") if simulator else None)
            or SIMULATOR_API_KEY,
        )
    )


def _first_configured(name: str) -> str | None:
    values = [v.strip() for v in os.environ.get(name, "").split(",")]
    return next((v for v in values if v), None)


def _redacted(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)
