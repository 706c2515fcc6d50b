"""One Nylas gateway per Nylas application: the deployment's, and each organization's own.

Every call to Nylas is made for a grant, and a grant is one application's: a grant of an
organization with a Nylas application of its own is reached with that application's API key,
in its region (US or EU); any other with the deployment's. Which one a grant needs is read
from the database and kept for a few seconds, so a run of calls for one grant costs one
query, and a key rotated by ``PUT /v1/orgs/{id}`` is used within that time (the
organization's version changes, and a gateway is built for the new key). Each gateway keeps
its own retries and grants known alive; the per-grant limits are shared, as grants are.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from sqlalchemy import Engine
from sqlmodel import Session

from storage.org_access import own_application_of_grant
from storage.sealing import SecretBox, SecretsUnavailable
from workers.nylas_client import NylasGateway

# How long a grant's application is taken as known, and how many grants are remembered.
GRANT_ACCESS_SECONDS = 5.0
MAX_REMEMBERED_GRANTS = 10_000


class OrgKeyUnavailable(Exception):
    """An organization's own Nylas API key cannot be opened: its grants' work waits (it is
    retried, then dead-lettered) until an operator fixes ``CRMSYNC_SECRET_KEYS``."""


GatewayKey = tuple[str, int]  # (organization id, its version)


class OrgGateways:
    """The gateway of each grant's application (None for the deployment's)."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        build: Callable[[str, str], NylasGateway],
        region_uris: Mapping[str, str],
        *,
        seconds: float = GRANT_ACCESS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._box = box
        self._build = build
        self._region_uris = dict(region_uris)
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._grants: OrderedDict[str, tuple[float, GatewayKey | None]] = OrderedDict()
        self._gateways: dict[str, tuple[int, NylasGateway]] = {}  # by organization

    def for_grant(self, grant_id: str) -> NylasGateway | None:
        """The organization's own gateway for ``grant_id``; None: use the deployment's.

        Raises:
            OrgKeyUnavailable: its organization's API key cannot be opened.
        """
        now = self._clock()
        with self._lock:
            known = self._grants.get(grant_id)
            if known is not None and now - known[0] < self._seconds:
                cached = known[1]
                return None if cached is None else self._gateways[cached[0]][1]
        with Session(self._engine) as session:
            try:
                access = own_application_of_grant(session, grant_id, self._box)
            except SecretsUnavailable as error:
                raise OrgKeyUnavailable(error.message) from None
        with self._lock:
            gateway: NylasGateway | None = None
            key: GatewayKey | None = None
            if access is not None:
                key = (access.org_id, access.version)
                held = self._gateways.get(access.org_id)
                if held is None or held[0] != access.version:
                    uri = self._region_uris[access.region]
                    held = (access.version, self._build(access.api_key, uri))
                    self._gateways[access.org_id] = held
                gateway = held[1]
            self._grants[grant_id] = (now, key)
            self._grants.move_to_end(grant_id)
            while len(self._grants) > MAX_REMEMBERED_GRANTS:
                self._grants.popitem(last=False)
            return gateway
