"""What the fairness benchmark does in one organization: its calls, reps' consent, backfills.

Two organizations share the stack, so every CRM call names its own with the ``Crmsync-Org``
header (under the run's admin token) and :mod:`crmsync.bench.crm_api` works unchanged over an
:class:`OrgConnection`. A rep is connected through hosted OAuth as the backfill measurement
connects its rep, and an organization's backfills are read straight from the database, as
progress the run can wait on and sample without going through the API it is timing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from sqlalchemy import Engine, func, select
from sqlmodel import col

from api.callers import ORG_HEADER
from crmsync.bench import crm_api
from crmsync.bench.backfill import ConnectRefused, _consent
from crmsync.bench.fairness_figures import BackfillProgress
from crmsync.bench.load import Connection, Request
from simulator.traffic import SimRep
from storage.tables import BackfillRow


class OrgConnection(Connection):
    """A connection whose requests act in one organization: the admin token's
    ``Crmsync-Org`` header on each, so :mod:`crmsync.bench.crm_api` works unchanged."""

    def __init__(self, host: str, port: int, org_id: str) -> None:
        super().__init__(host, port)
        self.org_id = org_id

    async def send(self, request: Request) -> tuple[int, bytes]:
        headers = (*request.headers, (ORG_HEADER, self.org_id))
        return await super().send(replace(request, headers=headers))


async def connect_rep(api: Connection, rep: SimRep) -> None:
    """Connect ``rep`` through hosted OAuth: the connect URL (in its organization), consent at
    the fake, and the callback on a connection of its own, as the rep's browser follows it."""
    connect = await crm_api.call(api, "POST", f"/v1/reps/{rep.rep_id}/connect", {})
    callback = await asyncio.to_thread(_consent, str(connect["url"]))
    browser = Connection(api.host, api.port)
    try:
        status, answer = await browser.send(Request("GET", callback))
    finally:
        browser.close()
    if status != 200:
        raise ConnectRefused(f"callback for {rep.rep_id} answered {status}: {answer[:300]!r}")


def backfill_progress(engine: Engine, org_id: str) -> BackfillProgress:
    """The organization's backfills by state, and the messages they scanned and stored."""
    query = (
        select(
            col(BackfillRow.state),
            func.count(),
            func.coalesce(func.sum(col(BackfillRow.scanned)), 0),
            func.coalesce(func.sum(col(BackfillRow.stored)), 0),
        )
        .where(col(BackfillRow.org_id) == org_id)
        .group_by(col(BackfillRow.state))
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return BackfillProgress(
        at=time.perf_counter(),
        states={str(state): int(count) for state, count, _, _ in rows},
        scanned=sum(int(scanned) for _, _, scanned, _ in rows),
        stored=sum(int(stored) for _, _, _, stored in rows),
    )
