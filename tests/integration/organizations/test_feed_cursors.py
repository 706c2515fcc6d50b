"""Each organization's feed takes back only its own cursors, on SQLite and PostgreSQL.

An organization's feed is read below its own horizon, so a position it reached may be past
another organization's changes that are not final yet: followed in that other feed, such a
cursor would skip them. So a cursor says whose feed gave it; another organization's feed
refuses it with 400 (and loses nothing), while a cursor of the whole feed, or one given
before cursors said whose they were, is taken by every feed.
"""

from __future__ import annotations

from typing import Any

from domain.cursors import encode_opaque
from storage.feed import position_from_cursor
from tests.support.email_sync import AUTH, EmailSyncWorld


def in_org(org_id: str) -> dict[str, str]:
    return {**AUTH, "Crmsync-Org": org_id}


def feed_page(world: EmailSyncWorld, org_id: str, **params: Any) -> Any:
    return world.client.get("/v1/changes", params=params, headers=in_org(org_id))


def test_a_cursor_is_taken_back_only_by_the_feed_that_gave_it(world: EmailSyncWorld) -> None:
    for org_id in ("acme", "globex"):
        assert world.api("PUT", f"/v1/orgs/{org_id}", json={"name": org_id}).status_code == 201
        rep = {"email": f"ann@{org_id}.example"}
        answer = world.client.put("/v1/reps/ann", json=rep, headers=in_org(org_id))
        assert answer.status_code == 201

    acme_page = feed_page(world, "acme").json()
    [created] = acme_page["data"]
    for cursor in (acme_page["next_cursor"], created["cursor"]):
        assert feed_page(world, "acme", cursor=cursor).status_code == 200
        refused = feed_page(world, "globex", cursor=cursor)
        assert refused.status_code == 400
        assert refused.json()["error"]["reason"] == "cursor_of_another_feed"
    # The live stream refuses it the same way, before it starts.
    streamed = world.client.get(
        "/v1/changes/stream",
        params={"cursor": acme_page["next_cursor"]},
        headers=in_org("globex"),
    )
    assert streamed.status_code == 400

    # A cursor of before (no owner) or of the whole feed: every feed takes it.
    position = position_from_cursor(acme_page["next_cursor"], "acme")
    assert position is not None
    unowned = encode_opaque({"t": position.txid, "s": position.seq})
    for org_id in ("acme", "globex"):
        assert feed_page(world, org_id, cursor=unowned).status_code == 200


def test_a_cursor_naming_its_owner_in_another_shape_is_refused_as_not_crmsyncs(
    world: EmailSyncWorld,
) -> None:
    for owner in (1, None, ["acme"], {"id": "acme"}):
        forged = encode_opaque({"t": 1, "s": 1, "o": owner})
        answer = feed_page(world, "default", cursor=forged)
        if owner is None:  # "o": null is no owner at all
            assert answer.status_code == 200
        else:
            assert (answer.status_code, answer.json()["error"]["reason"]) == (
                400,
                "invalid_cursor",
            )
