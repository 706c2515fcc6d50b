"""The benchmark traffic generator: reproducible, shaped like real mail, matched by the rules.

Matching is judged by the domain's own rules (``match_contacts`` over the parsed message), so
"a share of messages matching My Contacts" means what the workers will decide.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import Counter
from typing import Any

import pytest

from domain.contacts import match_contacts, parse_contact
from domain.messages import parse_message
from domain.notifications import parse_document
from domain.signatures import nylas_signature
from domain.triggers import WorkKind
from simulator import notifications as sim
from simulator.delivery import PLACEHOLDER_ID, StampedBody, deliveries, signed_body
from simulator.traffic import (
    INBOX_FOLDER,
    SENT_FOLDER,
    MailboxTraffic,
    SimMessage,
    SimRep,
    TrafficProfile,
)

NOW = 1_800_000_000
PROFILE = TrafficProfile(reps=4, contacts_per_rep=500, truncated_share=0.02, seed=7)


def traffic(profile: TrafficProfile = PROFILE) -> MailboxTraffic:
    return MailboxTraffic(profile, now=NOW)


@pytest.fixture(scope="module")
def sample() -> tuple[MailboxTraffic, list[SimMessage]]:
    generated = traffic()
    return generated, list(generated.messages(3000))


def rep_of(generated: MailboxTraffic, message: SimMessage) -> SimRep:
    [rep] = [r for r in generated.reps if r.rep_id == message.rep_id]
    return rep


# Reps and contacts ---------------------------------------------------------------------------


def test_reps_alternate_gmail_and_microsoft_with_their_contacts() -> None:
    generated = traffic()

    assert [r.provider for r in generated.reps] == ["google", "microsoft", "google", "microsoft"]
    assert len({r.grant_id for r in generated.reps}) == 4
    assert all(len(r.contacts) == 500 for r in generated.reps)


def test_contact_addresses_are_unique_and_valid_for_the_crm_api() -> None:
    rep = traffic().reps[0]

    contacts = [parse_contact(rep.rep_id, c.to_api()) for c in rep.contacts]

    addresses = [a for c in contacts for a in c.addresses]
    assert len(addresses) == len(set(addresses))
    assert len({c.crm_contact_id for c in contacts}) == len(contacts)


# Messages ------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    first = [sim.encode(m.notification) for m in traffic().messages(50)]
    again = [sim.encode(m.notification) for m in traffic().messages(50)]
    other = TrafficProfile(reps=4, contacts_per_rep=500, truncated_share=0.02, seed=8)

    assert first == again
    assert first != [sim.encode(m.notification) for m in traffic(other).messages(50)]


def test_matching_messages_touch_a_contact_of_their_rep_and_others_touch_none(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    generated, messages = sample
    contacts = {
        rep.rep_id: [parse_contact(rep.rep_id, c.to_api()) for c in rep.contacts]
        for rep in generated.reps
    }

    for message in messages:
        parsed = parse_message(message.message)
        matches = match_contacts(parsed, message.rep_id, contacts[message.rep_id])
        assert bool(matches) is message.matching, message.message_id


def test_a_share_of_the_mail_matches_as_the_profile_says(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample

    share = sum(m.matching for m in messages) / len(messages)

    assert share == pytest.approx(PROFILE.matching_share, abs=0.03)


def test_messages_are_in_the_inbox_or_sent_folder_of_their_provider(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    generated, messages = sample

    for message in messages:
        rep = rep_of(generated, message)
        folders = message.message["folders"]
        assert folders[0] in (INBOX_FOLDER[rep.provider], SENT_FOLDER[rep.provider])
        if rep.provider == "microsoft":
            assert len(folders) == 1  # a Microsoft message sits in exactly one folder
        assert message.notification["source"] == f"/{rep.provider}/emails/realtime"
        assert message.message["grant_id"] == rep.grant_id


def test_body_sizes_run_from_2_to_50_kb_mostly_short(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample

    sizes = [m.body_bytes for m in messages]

    assert min(sizes) >= 2 * 1024
    assert max(sizes) <= 50 * 1024
    # Log-uniform: the median is the geometric mean of the bounds, about 10 KB.
    assert statistics.median(sizes) == pytest.approx(math.sqrt(2 * 50) * 1024, rel=0.1)


def test_a_few_notifications_are_truncated_and_carry_no_body(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample

    truncated = [m for m in messages if m.truncated]

    assert 0 < len(truncated) < 0.05 * len(messages)
    for message in truncated:
        assert message.notification["type"] == "message.created.truncated"
        assert message.notification["data"]["object"]["body"] == ""
        assert message.message["body"]  # what the Messages API serves is whole
    assert all(m.notification["type"] == "message.created" for m in messages if not m.truncated)


def test_notifications_parse_as_message_work_for_their_grant(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample

    for message in messages[:200]:
        [unit] = parse_document(message.notification)
        assert unit.kind is WorkKind.MESSAGES
        assert unit.grant_id == message.grant_id
        assert unit.object_id == message.message_id
        assert unit.notification_id == message.notification_id
    assert len({m.notification_id for m in messages}) == len(messages)
    assert len({(m.rep_id, m.message_id) for m in messages}) == len(messages)


@pytest.mark.parametrize(
    "profile",
    [
        {"reps": 0},
        {"contacts_per_rep": 0},
        {"matching_share": 1.5},
        {"truncated_share": -0.1},
        {"min_body_bytes": 4096, "max_body_bytes": 2048},
        {"max_body_bytes": 10**6},
    ],
)
def test_impossible_profiles_are_refused(profile: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        TrafficProfile(**profile)


# Delivery ------------------------------------------------------------------------------------


def test_without_duplicates_or_reordering_deliveries_are_the_messages_in_order(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample

    delivered = list(deliveries(messages[:100]))

    assert [d.message for d in delivered] == messages[:100]
    assert all(d.attempt == 1 for d in delivered)


def test_duplicates_and_reordering_come_at_the_chosen_rates(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample

    delivered = list(deliveries(messages, duplicate_rate=0.1, reorder_rate=0.2, seed=1))

    firsts = [d.message.notification_id for d in delivered if not d.duplicate]
    assert sorted(firsts) == sorted(m.notification_id for m in messages)  # each exactly once
    retries = [d for d in delivered if d.duplicate]
    assert len(retries) / len(messages) == pytest.approx(0.1, abs=0.03)
    assert all(d.document()["webhook_delivery_attempt"] == 2 for d in retries)
    assert all(d.document()["id"] == d.message.notification_id for d in retries)
    original = {m.notification_id: i for i, m in enumerate(messages)}
    overtaken = sum(original[a] > original[b] for a, b in itertools.pairwise(firsts))
    assert overtaken / len(messages) == pytest.approx(0.2, abs=0.07)


def test_deliveries_are_reproducible_from_the_seed(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample

    def run(seed: int) -> list[tuple[str, int]]:
        stream = deliveries(messages[:500], duplicate_rate=0.05, reorder_rate=0.1, seed=seed)
        return [(d.message.notification_id, d.attempt) for d in stream]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_a_retry_stays_within_the_window() -> None:
    messages = list(traffic().messages(300))
    delivered = list(deliveries(messages, duplicate_rate=1.0, window=5, seed=2))

    positions: dict[str, list[int]] = {}
    for index, delivery in enumerate(delivered):
        positions.setdefault(delivery.message.notification_id, []).append(index)

    assert Counter(len(p) for p in positions.values()) == {2: 300}
    # Each delivery waits at most the window, but waits queue behind each other.
    assert max(later - first for first, later in positions.values()) <= 2 * 5 + 1


# Signed bodies -------------------------------------------------------------------------------


def test_a_stamped_body_is_the_notification_under_the_new_id_correctly_signed(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample
    document = messages[0].notification

    stamped = StampedBody(document, "secret-1").stamp("bench-000042")

    expected = signed_body({**document, "id": "bench-000042"}, "secret-1")
    assert stamped == expected
    assert stamped.signature == nylas_signature(stamped.body, b"secret-1")
    [unit] = parse_document(json.loads(stamped.body))
    assert unit.notification_id == "bench-000042"


def test_a_stamp_that_json_would_escape_is_refused(
    sample: tuple[MailboxTraffic, list[SimMessage]],
) -> None:
    _, messages = sample
    template = StampedBody(messages[0].notification, "s")

    for bad in ('quote"d', "back\\slash", "é"):
        with pytest.raises(ValueError, match="escaping"):
            template.stamp(bad)


def test_a_document_holding_the_placeholder_elsewhere_cannot_be_stamped() -> None:
    document = sim.message_created("g", subject=PLACEHOLDER_ID)

    with pytest.raises(ValueError, match="exactly once"):
        StampedBody(document, "s")
