"""What a worker process logs through a 5-second Redis outage: a handful of lines, none
critical (workers.redis_outages). A real ``crmsync worker`` runs on a private Redis that is
stopped and started again; its standard error is read back line by line, as a log shipper
would."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.integration.faults.conftest import NylasApi
from tests.support.private_redis import PrivateRedis
from tests.support.processes import clean_environment, command
from tests.support.services import WEBHOOK_SECRET, wait_for
from tests.support.stream import API_TOKEN

pytestmark = pytest.mark.faults

OUTAGE_S = 5
NAMESPACE = "outage-logs"


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_a_five_second_redis_outage_is_a_handful_of_lines_none_critical(
    tmp_path: Path, postgres_url: str, nylas_api: NylasApi
) -> None:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    log = tmp_path / "worker.log"
    environment = {
        **clean_environment(),
        "DATABASE_URL": postgres_url,
        "REDIS_URL": server.url,
        "CRMSYNC_REDIS_NAMESPACE": NAMESPACE,
        "NYLAS_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "CRMSYNC_API_TOKENS": API_TOKEN,
        "NYLAS_API_KEY": nylas_api.fake.api_key,
        "NYLAS_API_URI": nylas_api.url,
    }
    with log.open("wb") as output:
        worker = subprocess.Popen(  # noqa: S603  (our own worker command)
            [command("crmsync"), "worker", "--processes", "1", "--threads", "4"],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = redis.Redis.from_url(server.url)
        wait_for(
            lambda: client.zcard(f"{NAMESPACE}:__heartbeats__") > 0,
            timeout=30,
            what="the worker to beat",
        )
        client.close()
        time.sleep(1)
        before = len(log_lines(log))

        server.stop(signal.SIGTERM)
        time.sleep(OUTAGE_S)
        server.start()

        def recovered() -> bool:
            return any("reachable again" in line["message"] for line in log_lines(log)[before:])

        wait_for(recovered, timeout=30, what="the worker to log that Redis is back")
        time.sleep(2)  # what the consumers say once they reconnect
        during = log_lines(log)[before:]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        server.stop()

    print(f"FIGURES outage-logs: outage={OUTAGE_S}s lines={len(during)}")
    levels = [line["level"] for line in during]
    messages = [line["message"] for line in during]
    assert "critical" not in levels, messages
    shown = "\n".join(f"{line['level']} {line['logger']} {line['message'][:90]}" for line in during)
    assert len(during) <= 12, shown
    assert any(m.startswith("Redis unreachable") for m in messages), messages
    [back] = [m for m in messages if "reachable again" in m]
    assert 4 <= float(back.split("after ")[1].split(" s")[0]) <= 20
