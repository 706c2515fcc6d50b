"""In Redis mode the processes of the Procfile refuse the published development values.

The README prints the development API token and webhook secret so that `crmsync run` works out
of the box; a deployment on Redis that kept them would accept any caller who read it. The web
process, the worker process and `crmsync run` stop before serving anything, naming the
setting; none of them prints the value itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crmsync.settings import DEV_API_TOKEN, DEV_WEBHOOK_SECRET
from tests.support.processes import clean_environment, free_port, run_command
from tests.support.services import REDIS_URL

# The console scripts of the shared environment would import the installed crmsync: this
# checkout's comes first.
CHECKOUT = Path(__file__).resolve().parents[3]


def environment(tmp_path: Path, namespace: str, **values: str) -> dict[str, str]:
    return {
        **clean_environment(),
        "PYTHONPATH": str(CHECKOUT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crmsync.db'}",
        "REDIS_URL": REDIS_URL,
        "CRMSYNC_REDIS_NAMESPACE": namespace,
        "NYLAS_API_KEY": "key",
        "NYLAS_WEBHOOK_SECRETS": "a-secret-of-our-own",
        "CRMSYNC_API_TOKENS": "a-token-of-our-own",
        **values,
    }


PROCESSES = {
    "web": ("uvicorn", "--factory", "crmsync.app:build_app", "--port", "{port}"),
    "worker": ("crmsync", "worker", "--processes", "1", "--threads", "1"),
    "crmsync run": ("crmsync", "run", "--port", "{port}"),
}


@pytest.mark.parametrize("process", list(PROCESSES))
@pytest.mark.parametrize(
    ("name", "value"),
    [("CRMSYNC_API_TOKENS", DEV_API_TOKEN), ("NYLAS_WEBHOOK_SECRETS", DEV_WEBHOOK_SECRET)],
    ids=["the dev token", "the dev secret"],
)
def test_a_process_on_redis_refuses_to_start_with_a_published_development_value(
    tmp_path: Path, redis_namespace: str, process: str, name: str, value: str
) -> None:
    program, *arguments = (a.format(port=free_port()) for a in PROCESSES[process])

    finished = run_command(
        program, *arguments, env=environment(tmp_path, redis_namespace, **{name: value})
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode != 0, output
    assert f"{name} holds the published development value" in output
    assert value not in output
