"""Which secrets sign a notification: the deployment's, or an organization's own application's.

An organization with a Nylas application of its own has its own webhook secrets. Its
notifications come to its own URL (``/webhooks/nylas/{org_id}``), verified with its secrets
only, or to the deployment's URL, where the body's ``data.application_id`` names whose
secrets to try after the deployment's.

The request path never reads the database (NYLAS.md 7.2): the web process holds every
organization's secrets in memory, as one immutable :class:`IngressKeys` that a background
task replaces every few seconds (``crmsync.app``), so a new or rotated secret takes effect
in every web process within that time. Replacing the whole snapshot at once means a request
sees either the old keys or the new ones, never half of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True, slots=True)
class IngressKeys:
    """The secrets the ingress verifies with, at one moment."""

    deployment: tuple[bytes, ...]
    # The secrets of each organization that has a Nylas application of its own.
    orgs: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)
    # Each such application's id (its client id), to its organization.
    applications: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, deployment: Sequence[bytes], own_applications: Sequence[tuple[str, str, Sequence[str]]]
    ) -> IngressKeys:
        """The keys from the deployment's secrets and (org id, application id, secrets) of
        each organization with an application of its own; one without secrets is left out."""
        orgs = {
            org_id: tuple(secret.encode() for secret in secrets)
            for org_id, _, secrets in own_applications
            if secrets
        }
        applications = {app: org_id for org_id, app, _ in own_applications if org_id in orgs}
        return cls(tuple(deployment), orgs, applications)

    def of_org(self, org_id: str) -> tuple[bytes, ...]:
        """The secrets of ``org_id``'s own application; none for any other organization."""
        return self.orgs.get(org_id, ())

    def org_of_application(self, application_id: str | None) -> str | None:
        """The organization whose own application ``application_id`` is, if any."""
        return None if application_id is None else self.applications.get(application_id)


class KeyRing:
    """The current :class:`IngressKeys`, replaced whole by the refresh task."""

    def __init__(self, keys: IngressKeys) -> None:
        self._keys = keys

    @property
    def current(self) -> IngressKeys:
        return self._keys

    def replace(self, keys: IngressKeys) -> None:
        self._keys = keys  # one reference swap: readers see the old snapshot or the new


def application_of(body: bytes) -> str | None:
    """The ``data.application_id`` of a v3 body, read before it is authenticated, only to
    choose whose secrets to verify it with: None for anything else (not JSON, a v2 body, no
    such field, not a string). The body is at most the ingress's inline size, so the parse
    is bounded, and nothing else of it is used before it authenticates."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    data = document.get("data") if isinstance(document, dict) else None
    application_id = data.get("application_id") if isinstance(data, dict) else None
    return application_id if isinstance(application_id, str) else None
