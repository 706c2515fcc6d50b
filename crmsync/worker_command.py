"""``crmsync worker``: Dramatiq's worker processes (the Procfile's ``worker`` and
``deliveries``), every line of the whole process tree a JSON log line.

``dramatiq crmsync.worker:setup`` runs a supervisor process that imports nothing of ours
(only its worker processes call :func:`crmsync.worker.setup`) and configures its own logging
with ``logging.basicConfig`` in Dramatiq's text format, with no option or hook to change that:
its lines ("Dramatiq ... is booting up", "Sending signal ...", a worker that died) were the
only ones not in crmsync's format. This command configures crmsync's JSON logging first and
then runs the very function the ``dramatiq`` command runs (``dramatiq.cli.main``) with
``crmsync.worker:setup`` as the broker and the other arguments as given. ``basicConfig`` does
nothing where the root logger already has a handler, so the supervisor logs through
crmsync's handler, and worker processes forked from it start with it too until their
``setup`` points it at the pipe through which Dramatiq gathers their lines.

The arguments are Dramatiq's (``--processes``, ``--threads``, ``--queues``, ...; ``crmsync
worker --help`` lists them) except ``--log-file``, refused: it would send the workers' lines
to a file and the supervisor's to standard error. The log level is ``CRMSYNC_LOG_LEVEL``, as
everywhere in crmsync. With ``--use-spawn`` a worker process starts afresh: what it logs
before its ``setup`` runs (debug lines, or the failure to import it) is in Dramatiq's format.

``dramatiq.cli`` warns that it may change without notice; the pin on Dramatiq (below 3) and
the Procfile's test of the whole process tree's lines guard this.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import cast

# What Dramatiq's CLI imports and calls in each worker process.
SETUP_FUNCTION = "crmsync.worker:setup"


def add_worker_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``crmsync worker``; its arguments are passed on to Dramatiq's parser."""
    worker = commands.add_parser(
        "worker",
        help="run worker processes on Redis (Dramatiq's options), logging JSON",
        description=f"Run Dramatiq worker processes for crmsync (as `dramatiq {SETUP_FUNCTION}`), "
        "every line logged as JSON. The options are Dramatiq's: --processes, --threads, "
        "--queues, ... (`crmsync worker --help`).",
        add_help=False,
    )
    worker.set_defaults(command=run_worker, passes_arguments_on=True)


def run_worker(args: argparse.Namespace) -> int:
    """Run Dramatiq's CLI with crmsync's logging configured first."""
    from dramatiq import cli as dramatiq_cli

    from crmsync.logs import configure_logging
    from crmsync.settings import worker_settings

    # Dramatiq's CLI has no annotations: its two functions, as they are called here.
    make_parser = cast(Callable[[], argparse.ArgumentParser], dramatiq_cli.make_argument_parser)
    run_dramatiq = cast(Callable[[argparse.Namespace], int], dramatiq_cli.main)
    parser = make_parser()
    parser.prog = "crmsync worker"
    parser.usage = "crmsync worker [Dramatiq options]"
    parser.description = (
        f"Dramatiq worker processes for crmsync: the broker is {SETUP_FUNCTION}, given by "
        "the command; every line is logged as JSON at CRMSYNC_LOG_LEVEL."
    )
    dramatiq_args = parser.parse_args([SETUP_FUNCTION, *args.passed_on])
    if dramatiq_args.log_file is not None:
        parser.error("--log-file is not supported: every process logs to standard error")
    settings = worker_settings(os.environ)
    configure_logging(settings.log_level)
    return run_dramatiq(dramatiq_args)
