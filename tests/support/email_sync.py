"""A rep's world for email-sync tests: the fake Nylas API, the app, a worker, and readers.

``EmailSyncWorld`` drives crmsync only through its public surfaces (the CRM API and signed
notifications to the ingress) and reads back the exact rows and change records stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlmodel import Session, col, select
from starlette.datastructures import Secret
from starlette.testclient import TestClient

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import declare, start_worker
from domain.notifications import parse_document
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from storage.tables import ChangeRow, EmailContactRow, EmailRow, RawNotification
from tests.support.harness import settings_for
from tests.support.live_server import serve
from tests.support.nylas import signed
from tests.support.services import wait_for

API_TOKEN = "test-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@dataclass
class EmailSyncWorld:
    client: TestClient
    runtime: Runtime
    fake: FakeNylas

    # The CRM side ---------------------------------------------------------------------------

    def put_rep(self, rep_id: str, **document: Any) -> dict[str, Any]:
        response = self.client.put(f"/v1/reps/{rep_id}", json=document, headers=AUTH)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    def put_contacts(self, rep_id: str, contacts: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.client.put(
            f"/v1/reps/{rep_id}/contacts", json={"contacts": contacts}, headers=AUTH
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=AUTH, **kwargs)

    # The Nylas side -------------------------------------------------------------------------

    def notify(self, *documents: dict[str, Any]) -> None:
        """Deliver each notification in turn, waiting until it has been handled."""
        for document in documents:
            body, headers = signed(document)
            response = self.client.post("/webhooks/nylas", content=body, headers=headers)
            assert response.status_code == 200, response.text
            ids = {n.notification_id for n in parse_document(document)}
            wait_for(partial(self._handled, ids), what=f"notifications {sorted(ids)} handled")

    def _handled(self, notification_ids: set[str]) -> bool:
        with self.session() as session:
            rows = session.exec(
                select(RawNotification).where(
                    col(RawNotification.notification_id).in_(notification_ids)
                )
            ).all()
        return len(rows) == len(notification_ids) and all(
            row.state not in ("pending", "failed") for row in rows
        )

    # Reading back ---------------------------------------------------------------------------

    def session(self) -> Session:
        return Session(self.runtime.engine)

    def notifications(self) -> list[RawNotification]:
        with self.session() as session:
            return list(session.exec(select(RawNotification).order_by(col(RawNotification.id))))

    def outcome_of(self, notification_id: str) -> str | None:
        with self.session() as session:
            row = session.exec(
                select(RawNotification).where(RawNotification.notification_id == notification_id)
            ).one()
            return row.outcome

    def emails(self, rep_id: str | None = None) -> list[EmailRow]:
        with self.session() as session:
            query = select(EmailRow).order_by(col(EmailRow.id))
            if rep_id is not None:
                query = query.where(EmailRow.rep_id == rep_id)
            return list(session.exec(query))

    def email(self, rep_id: str, message_id: str) -> EmailRow:
        [row] = [e for e in self.emails(rep_id) if e.message_id == message_id]
        return row

    def links(self, email_id: int | None) -> dict[int, list[str]]:
        with self.session() as session:
            rows = session.exec(select(EmailContactRow).where(EmailContactRow.email_id == email_id))
            return {row.contact_id: row.roles for row in rows}

    def changes(self, *, entity: str | None = None) -> list[ChangeRow]:
        with self.session() as session:
            query = select(ChangeRow).order_by(col(ChangeRow.seq))
            if entity is not None:
                query = query.where(ChangeRow.entity == entity)
            return list(session.exec(query))


@contextmanager
def running_stack(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake_nylas: FakeNylas,
) -> Iterator[Runtime]:
    """crmsync's runtime on the real Redis and ``database_url``, its Nylas API the fake one
    served over real HTTP, with real worker threads running while the block runs."""
    with serve(build_nylas_api(fake_nylas)) as nylas_url:
        runtime = make_runtime(
            settings_for(
                database_url,
                redis_namespace,
                nylas_api_uri=nylas_url,
                nylas_api_key=Secret(fake_nylas.api_key),
                # Organizations' own applications are the fake's too.
                nylas_region_uris={"us": nylas_url, "eu": nylas_url},
            )
        )
        declare(runtime)
        worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
        try:
            yield runtime
        finally:
            worker.stop()
