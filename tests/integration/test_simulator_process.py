"""`crmsync simulator` as a process of its own: the Nylas that the Procfile shape points at.

The real ``nylas`` SDK reads the mailbox with the simulator's key; folders changed through the
control routes show in its listing, and a drain POSTs their ``folder.*`` notifications to the
webhook URL, each signed with the webhook secret as crmsync's ingress checks it; one the
ingress refuses comes again on the next drain, as a retry.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import nylas
import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crmsync.simulated_nylas import SIMULATOR_API_KEY
from tests.support.fake_api import api_error
from tests.support.live_server import serve
from tests.support.processes import clean_environment, command, free_port, listening
from tests.support.services import wait_for
from webhooks.errors import InvalidSignature
from webhooks.signature import verify

SECRET = "simulator-test-secret"
GRANT = "grant-process-1"


class Ingress:
    """A stand-in for crmsync's ``/webhooks/nylas``: checks each signature as crmsync does,
    and refuses the first notification with a 503, as an ingress whose Redis is away."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0

    async def endpoint(self, request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify(body, request.headers.get("x-nylas-signature"), [SECRET.encode()])
        except InvalidSignature as error:
            return JSONResponse({"error": error.reason}, status_code=401)
        if not self.refused:
            self.refused += 1
            return JSONResponse({"error": "redis_unavailable"}, status_code=503)
        self.accepted.append(await request.json())
        return JSONResponse({"status": "accepted", "queued": 1, "duplicates": 0})


@pytest.fixture
def ingress() -> Iterator[tuple[Ingress, str]]:
    receiver = Ingress()
    app = Starlette(routes=[Route("/webhooks/nylas", receiver.endpoint, methods=["POST"])])
    with serve(app) as url:
        yield receiver, f"{url}/webhooks/nylas"


@pytest.fixture
def simulator(ingress: tuple[Ingress, str]) -> Iterator[tuple[str, str]]:
    """The simulator process's base URL, and the line it printed on start."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603  (our own command)
        [command("crmsync"), "simulator", "--port", str(port), "--webhook-url", ingress[1]],
        env={**clean_environment(), "NYLAS_WEBHOOK_SECRETS": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        wait_for(lambda: listening(port) or process.poll() is not None, what="the simulator")
        assert process.poll() is None, "crmsync simulator exited at start-up"
        yield f"http://127.0.0.1:{port}", banner
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_sdk_reads_folders_changed_through_control_routes_and_drains_deliver_them_signed(
    ingress: tuple[Ingress, str], simulator: tuple[str, str]
) -> None:
    receiver, webhook_url = ingress
    url, banner = simulator
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {SIMULATOR_API_KEY}"

    def control(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = session.request(method, f"{url}/_simulator{path}", json=body, timeout=5)
        assert answer.status_code < 300, answer.text
        return answer.json()

    client = nylas.Client(SIMULATOR_API_KEY, api_uri=url, timeout=5)

    def folder_names() -> dict[str, str]:
        return {f.id: f.name for f in client.folders.list(GRANT).data}

    control("PUT", f"/grants/{GRANT}", {"provider": "google", "email": "ann@gmail.example"})
    label = control("POST", f"/grants/{GRANT}/folders", {"name": "Proposals"})["data"]
    added = folder_names()
    control("PATCH", f"/grants/{GRANT}/folders/{label['id']}", {"name": "Deals"})
    renamed = folder_names()
    control("DELETE", f"/grants/{GRANT}/folders/{label['id']}")
    first = control("POST", "/notifications/drain")
    second = control("POST", "/notifications/drain")
    third = control("POST", "/notifications/drain")

    assert f"NYLAS_API_URI={url} NYLAS_API_KEY={SIMULATOR_API_KEY}" in banner
    assert added[label["id"]] == "Proposals"
    assert added["INBOX"] == "INBOX"
    assert renamed[label["id"]] == "Deals"
    assert label["id"] not in folder_names()
    assert api_error(
        lambda: nylas.Client("wrong", api_uri=url).folders.list(GRANT)
    ).status_code == (401)
    # The first delivery met a 503: it was requeued and came again, as attempt 2.
    assert [(d["type"], d["attempt"], d["status"]) for d in first["deliveries"]] == [
        ("folder.created", 1, 503),
        ("folder.updated", 1, 200),
        ("folder.deleted", 1, 200),
    ]
    assert first["webhook_url"] == webhook_url
    assert first["delivered"] == 2
    assert [(d["type"], d["attempt"], d["status"]) for d in second["deliveries"]] == [
        ("folder.created", 2, 200)
    ]
    assert third["data"] == []
    assert third["deliveries"] == []
    assert [(n["type"], n["data"]["object"]["name"]) for n in receiver.accepted] == [
        ("folder.updated", "Deals"),
        ("folder.deleted", "Deals"),
        ("folder.created", "Proposals"),
    ]
    assert receiver.accepted[2]["id"] == first["data"][0]["id"]  # the same notification
