"""What a 404 from a grant-scoped Nylas call means: the object is gone, or the grant is.

Every Nylas path under ``/v3/grants/{grant_id}/...`` answers 404 both when the object (a
message, an event, a calendar) does not exist and when the grant itself does not (deleted at
Nylas). The two call for opposite things: a missing message is a normal state of a mailbox
(E5: nothing stored, nothing failed), a missing grant means nothing of that mailbox will sync
again until the rep reconnects (status ``invalid``, A1).

The answer's body cannot tell them apart. Nylas documents one error type for every missing
resource (``not_found_error``, "Resource not found"), and a broken or hostile peer can send
any body at all: an empty one, an HTML page, or a ``type`` that lies. So neither the type nor
the message is read here; the status says whether to ask, and ``GET /v3/grants/{grant_id}``
(whose 404 can only mean the grant) says which. A lookup that fails (5xx, timeout) decides
nothing: the caller keeps the failure transient and retries, and a grant is never taken for
gone on a guess.

An answer whose body could not be read at all (not JSON) has lost its status too (the SDK
raises before reading it), so it may have been a 404 or a proxy's 502 page. It stays the
transient failure it was, unless the lookup shows the grant is gone, which settles it
whatever the answer was.
"""

from __future__ import annotations

from enum import StrEnum

NOT_FOUND = 404


class GrantLookup(StrEnum):
    """What ``GET /v3/grants/{grant_id}`` answered, if it was asked."""

    NOT_ASKED = "not_asked"
    FOUND = "found"
    NOT_FOUND = "not_found"


class Missing(StrEnum):
    """What a failed grant-scoped call means."""

    NOTHING = "nothing"  # not a "not found": the failure stands as it is
    ASK_GRANT = "ask_grant"  # look the grant up, then decide again
    OBJECT = "object_gone"  # the grant is there: the object of the call is gone
    GRANT = "grant_gone"  # the grant no longer exists at Nylas


def what_is_missing(status: int | None, grant: GrantLookup) -> Missing:
    """Decide what a failed grant-scoped call means.

    ``status`` is the HTTP status of the answer, None when its body could not be read (and so
    the status was lost with it); ``grant`` what the grant lookup answered, if asked.
    """
    if status is not None and status != NOT_FOUND:
        return Missing.NOTHING
    if grant is GrantLookup.NOT_ASKED:
        return Missing.ASK_GRANT
    if grant is GrantLookup.NOT_FOUND:
        return Missing.GRANT
    # The grant is there: a 404 is the object's; an unreadable answer stays what it was.
    return Missing.OBJECT if status == NOT_FOUND else Missing.NOTHING
