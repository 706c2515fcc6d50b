"""The gateway crmsync holds: every facet of the Nylas API over one core and one retry loop."""

from __future__ import annotations

from workers.nylas_client.accounts import AccountsFacet
from workers.nylas_client.calendars import CalendarsFacet
from workers.nylas_client.messages import MessagesFacet
from workers.nylas_client.sending import SendingFacet


class NylasGateway(MessagesFacet, AccountsFacet, SendingFacet, CalendarsFacet):
    """Grants, folders, messages, calendars and events, retried by one policy, as wire dicts."""
