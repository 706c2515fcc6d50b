"""What a failed grant-scoped call means (``domain.not_found``), as a table.

Rows say the status of the answer (None: its body could not be read, so its status was lost)
and what the grant lookup answered; the body's type and message are not inputs at all,
because Nylas gives every missing resource the same type and a hostile peer can send any.
"""

from __future__ import annotations

import pytest

from domain.not_found import GrantLookup, Missing, what_is_missing

L = GrantLookup
M = Missing


@pytest.mark.parametrize(
    ("status", "grant", "missing"),
    [
        pytest.param(404, L.NOT_ASKED, M.ASK_GRANT, id="a 404 asks the grant first"),
        pytest.param(404, L.FOUND, M.OBJECT, id="a 404 of a live grant: the object is gone"),
        pytest.param(404, L.NOT_FOUND, M.GRANT, id="a 404 and no grant: the grant is gone"),
        pytest.param(None, L.NOT_ASKED, M.ASK_GRANT, id="an unreadable answer asks the grant"),
        pytest.param(None, L.FOUND, M.NOTHING, id="unreadable, live grant: stays transient"),
        pytest.param(None, L.NOT_FOUND, M.GRANT, id="unreadable, no grant: the grant is gone"),
        pytest.param(400, L.NOT_ASKED, M.NOTHING, id="a 400 is not a not-found"),
        pytest.param(401, L.NOT_ASKED, M.NOTHING, id="a 401 is an expiry, not a deletion"),
        pytest.param(410, L.NOT_ASKED, M.NOTHING, id="only 404 means not found"),
        pytest.param(500, L.NOT_ASKED, M.NOTHING, id="a 5xx is transient"),
        pytest.param(503, L.NOT_FOUND, M.NOTHING, id="a 5xx is never gone, whatever the grant"),
        pytest.param(200, L.NOT_ASKED, M.NOTHING, id="a success is nothing missing"),
    ],
)
def test_what_a_failed_grant_scoped_call_means(
    status: int | None, grant: GrantLookup, missing: Missing
) -> None:
    assert what_is_missing(status, grant) is missing


def test_the_outcome_word_of_a_gone_grant_is_grant_gone() -> None:
    assert Missing.GRANT.value == "grant_gone"
