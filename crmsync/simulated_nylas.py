"""The embedded mode's stand-in for Nylas: the simulator's fake API, served by crmsync itself.

``crmsync run`` with neither ``REDIS_URL`` nor ``NYLAS_API_KEY`` has no Nylas to call, so
email sync could not resolve a folder or complete a truncated message. It mounts the fake
Nylas API under ``/simulator/nylas`` and points its own Nylas client there, so that trying
crmsync (``crmsync demo``) exercises the same code paths as production, real HTTP included.
"""

from __future__ import annotations

import dataclasses

from starlette.datastructures import Secret
from starlette.routing import Mount

from crmsync.settings import Settings
from simulator.mailbox import FakeNylas
from simulator.notification_push import WebhookTarget
from simulator.nylas_api import build_nylas_api

SIMULATOR_PATH = "/simulator/nylas"
SIMULATOR_API_KEY = "crmsync-simulator-key"  # the local fake's own, published


def with_simulated_nylas(settings: Settings, base_url: str) -> tuple[Settings, Mount]:
    """``settings`` calling the fake Nylas API at ``base_url``, and the mount serving it.

    Its drained notifications come back to this crmsync's own ingress, signed with the first
    of its webhook secrets, as the separate ``crmsync simulator`` delivers them.
    """
    fake = FakeNylas(api_key=SIMULATOR_API_KEY)
    ingress = WebhookTarget(
        base_url.rstrip("/") + "/webhooks/nylas", str(settings.nylas_webhook_secrets[0])
    )
    api_uri = base_url.rstrip("/") + SIMULATOR_PATH
    simulated = dataclasses.replace(
        settings,
        nylas_api_uri=api_uri,
        # Organizations' own applications are the simulator's too, in every region.
        nylas_region_uris={region: api_uri for region in settings.nylas_region_uris},
        nylas_api_key=Secret(SIMULATOR_API_KEY),
        # Hosted OAuth against the simulator: its sign-in page consents at once.
        nylas_client_id=settings.nylas_client_id or fake.client_id,
    )
    return simulated, Mount(SIMULATOR_PATH, app=build_nylas_api(fake, ingress))
