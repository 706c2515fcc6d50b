"""The ``crmsync`` command: run the service, migrate the database, send demo notifications."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from crmsync.settings import DEV_WEBHOOK_SECRET, Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crmsync`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
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
        help="send signed sample Nylas notifications to a running crmsync",
        description="Send real-shaped, signed Nylas notifications (a message, a truncated "
        "message, a v2 body, a grant expiry, and a duplicate) and print the answers.",
    )
    demo.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of crmsync")
    demo.add_argument(
        "--secret",
        help="webhook secret to sign with (default: first of NYLAS_WEBHOOK_SECRETS, "
        "else the development secret of the embedded mode)",
    )
    demo.add_argument("--grant", default="demo-grant", help="grant id to put in notifications")
    demo.set_defaults(command=_demo)
    return parser


def _settings() -> Settings:
    from crmsync.logs import configure_logging

    settings = Settings.from_environ(os.environ)
    configure_logging(settings.log_level)
    return settings


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from crmsync.app import build_app
    from crmsync.runtime import Runtime
    from crmsync.worker import declare, start_worker
    from storage.migrate import upgrade

    settings = _settings()
    host = args.host or settings.host
    port = args.port or settings.port
    runtime = Runtime.from_settings(settings)
    upgrade(runtime.engine)
    declare(runtime)
    worker = start_worker(runtime, settings.worker_threads)
    print(f"crmsync listening on http://{host}:{port}", file=sys.stderr)
    print(f"  Nylas webhooks: http://{host}:{port}/webhooks/nylas", file=sys.stderr)
    print(f"  database: {_redacted(settings.database_url)}", file=sys.stderr)
    if settings.embedded:
        print(
            "  WARNING: embedded broker (no REDIS_URL): queued work lives in this process's "
            "memory and is lost when it stops. For trying and demos only.",
            file=sys.stderr,
        )
    if settings.uses_dev_secrets:
        print(
            "  WARNING: using the published development webhook secret and API token; "
            "set NYLAS_WEBHOOK_SECRETS and CRMSYNC_API_TOKENS for real use.",
            file=sys.stderr,
        )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again: make both
    # end here, so the worker threads stop and hand unfinished messages back to the queue.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        config = uvicorn.Config(
            build_app(runtime=runtime), host=host, port=port, log_config=None, access_log=False
        )
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
    finally:
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
    from simulator import notifications as sim

    secret = args.secret or _first_configured_secret() or DEV_WEBHOOK_SECRET
    message = sim.message_created(args.grant, to=("buyer@customer.example",))
    samples: list[tuple[str, dict[str, Any]]] = [
        ("message.created", message),
        ("message.created.truncated", sim.message_created(args.grant, truncated=True)),
        (
            "v2 deltas (2)",
            sim.v2_body(
                sim.v2_message_delta(args.grant, "m-1"), sim.v2_message_delta(args.grant, "m-2")
            ),
        ),
        ("grant.expired", sim.grant_expired(args.grant)),
        ("message.created again (a retry)", message),
    ]
    url = args.url.rstrip("/") + "/webhooks/nylas"
    failures = 0
    for label, document in samples:
        body = sim.encode(document)
        request = urllib.request.Request(  # noqa: S310  (the URL is the operator's own)
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Nylas-Signature": sim.sign(body, secret),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status, answer = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read().decode()
        except urllib.error.URLError as error:
            print(f"crmsync demo: cannot reach {url}: {error.reason}", file=sys.stderr)
            return 1
        failures += status != 200
        print(f"{status}  {label:<34} {answer}")
    return 1 if failures else 0


def _first_configured_secret() -> str | None:
    values = [v.strip() for v in os.environ.get("NYLAS_WEBHOOK_SECRETS", "").split(",")]
    return next((v for v in values if v), None)


def _redacted(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)
