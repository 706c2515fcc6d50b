"""Which organization's data a notification may act on.

A notification signed with the deployment's secrets comes from the deployment's Nylas
application, whose grants may be any organization's rep's. One that came through an
organization's own URL or application (``Notification.via_org``) was signed with secrets that
organization holds, and its people could sign anything with them: it acts only on that
organization's grants. A grant no rep holds is no one's yet, and its handler finds no rep.
"""

from __future__ import annotations

OTHER_ORGANIZATION = "other_organization"
"""The outcome of a notification that came through one organization about another's grant."""


def acts_on_grant(via_org: str | None, grant_org: str | None) -> bool:
    """Whether a notification that came through ``via_org`` (None: the deployment's) may act
    on a grant of ``grant_org`` (None: no rep holds it)."""
    return via_org is None or grant_org is None or grant_org == via_org
