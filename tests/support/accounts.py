"""A world for account tests: crmsync with its worker threads and dispatcher, the fake Nylas
over HTTP (hosted auth included), and the steps a CRM and a rep's browser take."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2
from sqlmodel import Session, col, select
from starlette.datastructures import Secret
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.worker import declare, start_background, start_worker
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from storage.tables import BackfillRow, EmailRow
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.harness import settings_for
from tests.support.live_server import serve
from tests.support.nylas import signed
from tests.support.services import wait_for

# The Nylas application of the hosted-OAuth tests, and the one mailbox it starts with.
ACCOUNTS_API_KEY = "accounts-api-key"
ACCOUNTS_CLIENT_ID = "crm-client-id"


def accounts_fake(grant_id: str, email: str) -> FakeNylas:
    """The fake Nylas of the hosted-OAuth tests: their application, with one Gmail mailbox."""
    fake = FakeNylas(api_key=ACCOUNTS_API_KEY, client_id=ACCOUNTS_CLIENT_ID)
    fake.add_mailbox(grant_id, "google", email)
    return fake


PUBLIC_URL = "http://crm-sync.test"
DAY = 24 * 3600


@dataclass
class AccountsWorld(EmailSyncWorld):
    nylas_url: str = ""

    def post(self, document: dict[str, Any]) -> None:
        """Deliver a notification without waiting for it to be handled."""
        body, headers = signed(document)
        response = self.client.post("/webhooks/nylas", content=body, headers=headers)
        assert response.status_code == 200, response.text

    def connect_url(self, rep_id: str, **document: Any) -> str:
        response = self.api("POST", f"/v1/reps/{rep_id}/connect", json=document)
        assert response.status_code == 200, response.text
        url: str = response.json()["url"]
        return url

    def consent(self, auth_url: str) -> str:
        """The rep's browser at Nylas's hosted page: the callback path Nylas redirects to."""
        answer = httpx2.get(auth_url, follow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text
        location = urlsplit(answer.headers["location"])
        assert f"{location.scheme}://{location.netloc}" == PUBLIC_URL
        return f"{location.path}?{location.query}"

    def callback(self, path: str) -> httpx2.Response:
        """The browser arriving back at crmsync (no CRM token: the state authenticates)."""
        return self.client.get(path, follow_redirects=False)

    def connect(self, rep_id: str, **document: Any) -> dict[str, Any]:
        response = self.callback(self.consent(self.connect_url(rep_id, **document)))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def backfill_status(self, rep_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/reps/{rep_id}/backfill", headers=AUTH)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_backfills_done(self, rep_id: str, timeout: float = 60) -> None:
        def done() -> bool:
            with self.session() as session:
                rows = session.exec(select(BackfillRow).where(BackfillRow.rep_id == rep_id)).all()
            return bool(rows) and all(r.state in ("done", "cancelled", "failed") for r in rows)

        wait_for(done, timeout=timeout, what=f"backfills of {rep_id} to finish")

    def rep(self, rep_id: str) -> dict[str, Any]:
        response = self.api("GET", f"/v1/reps/{rep_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def message_ids(self, rep_id: str) -> list[str]:
        return [e.message_id for e in self.emails(rep_id) if e.message_id is not None]

    def email_rows(self, rep_id: str) -> list[EmailRow]:
        with Session(self.runtime.engine) as session:
            query = select(EmailRow).where(EmailRow.rep_id == rep_id).order_by(col(EmailRow.id))
            return list(session.exec(query))


@contextmanager
def accounts_world(
    database_url: str, namespace: str, make_runtime: Any, fake: FakeNylas, **overrides: Any
) -> Iterator[AccountsWorld]:
    """crmsync on the real Redis and ``database_url`` with worker threads and the dispatcher,
    calling ``fake`` over real HTTP."""
    with serve(build_nylas_api(fake)) as nylas_url:
        runtime: Runtime = make_runtime(
            settings_for(
                database_url,
                namespace,
                nylas_api_uri=nylas_url,
                nylas_api_key=Secret(fake.api_key),
                nylas_client_id=fake.client_id,
                public_url=PUBLIC_URL,
                # Organizations' own applications are the fake's too.
                nylas_region_uris={"us": nylas_url, "eu": nylas_url},
                **overrides,
            )
        )
        declare(runtime)
        worker = start_worker(runtime, threads=4, worker_timeout_ms=100)
        threads = start_background(runtime)
        try:
            with TestClient(build_app(runtime=runtime)) as client:
                yield AccountsWorld(client, runtime, fake, nylas_url)
        finally:
            threads.stop()
            worker.stop()


def unix_now() -> int:
    return int(time.time())


def as_time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
