"""``crmsync simulator``: the fake Nylas API as a process of its own, for the Procfile shape.

``crmsync run`` embeds the simulator under ``/simulator/nylas``; the Procfile's ``web`` and
``worker`` processes have nothing to embed it in, so they are pointed at this one instead
(``NYLAS_API_URI``), as they would be at Nylas. It serves the same app (the real ``nylas`` SDK
talks to it at the root), the control routes under ``/_simulator`` behind the same API key,
and pushes what it queued to crmsync's ``/webhooks/nylas``, signed, when drained.

Its options come from the command line, else from the environment the other processes share
(``NYLAS_API_KEY``, ``NYLAS_CLIENT_ID``, the first of ``NYLAS_WEBHOOK_SECRETS``), so one
environment file can serve all three.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from crmsync.settings import DEV_WEBHOOK_SECRET, SettingsError
from crmsync.simulated_nylas import SIMULATOR_API_KEY
from simulator.hosted_auth import DEFAULT_CLIENT_ID

DEFAULT_PORT = 8001
WEBHOOK_URL_VARIABLE = "CRMSYNC_SIMULATOR_WEBHOOK_URL"


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """What one ``crmsync simulator`` process serves, read once from its arguments."""

    host: str
    port: int
    api_key: str
    client_id: str
    webhook_url: str | None
    webhook_secret: str = field(repr=False)

    @classmethod
    def read(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> SimulatorOptions:
        """The options of ``args``, with the shared environment's values as defaults.

        Raises:
            SettingsError: a port or webhook URL that cannot be used.
        """
        webhook_url = args.webhook_url or environ.get(WEBHOOK_URL_VARIABLE) or None
        if webhook_url is not None:
            parts = urllib.parse.urlsplit(webhook_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise SettingsError([f"--webhook-url must be an http(s) URL, got {webhook_url!r}"])
        if not 0 < args.port < 65536:
            raise SettingsError([f"--port must be from 1 to 65535, got {args.port}"])
        return cls(
            host=args.host,
            port=args.port,
            api_key=args.api_key or environ.get("NYLAS_API_KEY") or SIMULATOR_API_KEY,
            client_id=environ.get("NYLAS_CLIENT_ID") or DEFAULT_CLIENT_ID,
            webhook_url=webhook_url,
            webhook_secret=args.webhook_secret
            or _first(environ.get("NYLAS_WEBHOOK_SECRETS", ""))
            or DEV_WEBHOOK_SECRET,
        )

    @property
    def api_uri(self) -> str:
        """Where crmsync reaches this simulator (loopback when it listens everywhere)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}" if ":" not in host else f"http://[{host}]:{self.port}"

    def banner(self) -> str:
        """The one line that tells a newcomer what to give crmsync's processes."""
        pushed = (
            f"drained notifications are POSTed, signed, to {self.webhook_url}"
            if self.webhook_url
            else "drained notifications are returned (no --webhook-url)"
        )
        return (
            f"crmsync simulator: fake Nylas API at {self.api_uri}, API key {self.api_key}; "
            f"give crmsync NYLAS_API_URI={self.api_uri} NYLAS_API_KEY={self.api_key} "
            f"NYLAS_CLIENT_ID={self.client_id}; {pushed}"
        )


def add_simulator_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``crmsync simulator`` on the CLI's subcommands."""
    command = commands.add_parser(
        "simulator",
        help="serve the fake Nylas API (and its control routes) as a process of its own",
        description="Serve the built-in Nylas simulator on its own port, for crmsync's web "
        "and worker processes to use as their Nylas (NYLAS_API_URI). The control routes "
        "under /_simulator create mailboxes, folders and messages; POST "
        "/_simulator/notifications/drain delivers the notifications it queued to "
        "--webhook-url, signed with --webhook-secret.",
    )
    command.add_argument("--host", default="127.0.0.1", help="address to listen on")
    command.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    command.add_argument(
        "--api-key",
        help=f"the key callers must send (default: NYLAS_API_KEY, else {SIMULATOR_API_KEY})",
    )
    command.add_argument(
        "--webhook-url",
        help="crmsync's Nylas ingress, e.g. http://127.0.0.1:8000/webhooks/nylas "
        f"(default: {WEBHOOK_URL_VARIABLE}; unset: drains only return the notifications)",
    )
    command.add_argument(
        "--webhook-secret",
        help="secret that signs what is delivered (default: the first of "
        "NYLAS_WEBHOOK_SECRETS, else the development secret of the embedded mode)",
    )
    command.set_defaults(command=run_simulator)


def run_simulator(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted."""
    import uvicorn

    from crmsync.logs import configure_logging
    from simulator.mailbox import FakeNylas
    from simulator.notification_push import WebhookTarget
    from simulator.nylas_api import build_nylas_api

    options = SimulatorOptions.read(args, os.environ)
    configure_logging("INFO")
    fake = FakeNylas(api_key=options.api_key, client_id=options.client_id)
    webhook = (
        None
        if options.webhook_url is None
        else WebhookTarget(options.webhook_url, options.webhook_secret)
    )
    print(options.banner(), flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        config = uvicorn.Config(
            build_nylas_api(fake, webhook),
            host=options.host,
            port=options.port,
            log_config=None,
            access_log=False,
        )
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
    print("crmsync simulator stopped", file=sys.stderr)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _first(values: str) -> str | None:
    return next((v.strip() for v in values.split(",") if v.strip()), None)
