"""What a broken or hostile CRM client sends the `/v1` API as a body, on SQLite and PostgreSQL.

Every endpoint reads a small body by default; only the bulk contact replace takes a large
one, and that one is parsed off the event loop. A body over its endpoint's limit is 413 with
the limit named, whatever its declared length says, and nothing is stored.
"""

from __future__ import annotations

import orjson
import pytest

from api.inputs import BULK_JSON_BYTES, MAX_JSON_BYTES
from tests.integration.conftest import GMAIL_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld

REP = {"email": "ann@acme.example", "grant_id": GMAIL_GRANT, "provider": "google"}


def padded_rep(size: int) -> bytes:
    """A rep document of exactly ``size`` bytes: valid JSON, padded with whitespace."""
    document = (
        b'{"email": "ann@acme.example", "grant_id": "' + GMAIL_GRANT.encode() + b'",'
        b' "provider": "google"}'
    )
    return document[:-1] + b" " * (size - len(document)) + b"}"


def test_a_small_document_over_its_limit_is_413_naming_the_limit(world: EmailSyncWorld) -> None:
    at_limit = world.api("PUT", "/v1/reps/rep-ann", content=padded_rep(MAX_JSON_BYTES))
    over = world.api("PUT", "/v1/reps/rep-bob", content=padded_rep(MAX_JSON_BYTES + 1))

    assert at_limit.status_code == 201
    assert over.status_code == 413
    assert over.json()["error"]["reason"] == "payload_too_large"
    assert str(MAX_JSON_BYTES) in over.json()["error"]["message"]
    assert world.api("GET", "/v1/reps/rep-bob").status_code == 404


@pytest.mark.parametrize(
    "declared",
    ["99999999999999999999999999", str(MAX_JSON_BYTES + 1)],
    ids=["a length of 26 digits", "just over"],
)
def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
    world: EmailSyncWorld, declared: str
) -> None:
    response = world.client.put(
        "/v1/reps/rep-ann", content=b"{}", headers={**AUTH, "Content-Length": declared}
    )

    assert response.status_code == 413


def test_the_bulk_replace_takes_a_body_far_over_the_default_limit(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    contacts = [{"id": f"c-{n}", "email": f"person{n}@example.com"} for n in range(5_000)]
    assert len(orjson.dumps({"contacts": contacts})) > 3 * MAX_JSON_BYTES  # parsed in a thread

    answer = world.put_contacts("rep-ann", contacts)

    assert answer["added"] == 5_000


def test_the_bulk_replace_over_its_own_limit_is_413(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    body = b'{"contacts": [' + b" " * BULK_JSON_BYTES + b"]}"

    response = world.api("PUT", "/v1/reps/rep-ann/contacts", content=body)

    assert response.status_code == 413
    assert str(BULK_JSON_BYTES) in response.json()["error"]["message"]
