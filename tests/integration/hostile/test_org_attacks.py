"""Attacks across organizations, on SQLite and PostgreSQL with the real Redis and workers.

The attacker is an organization's people (they hold their own Nylas application's webhook
secret and their own `cso_` token, and so can sign or send anything with them) or anyone on
the internet who knows the ingress URLs. What is tried:

- the per-organization ingress URL with hostile ids, and whether its answers, or the work
  done before answering, tell which organizations exist;
- the deployment's URL with bodies whose ``data.application_id`` is odd, duplicated, or
  names another application than the secret that signed it; v2, gzip and large bodies;
- notifications about another organization's grant, and notification ids another
  organization already used;
- offboarding: organization tokens trying it, junk ``dry_run`` values, two deletes at once,
  a token issued or a notification handled while or after it runs, and whether another
  organization's rows with the same ids are touched;
- tokens and the ``Crmsync-Org`` header; operator commands given hostile organization ids.

Attacks that are repelled are ordinary tests; a defect found is a test marked
``xfail(strict=True)`` until it is fixed (none is left: the five this review found are).

Nothing here needs an organization's own Nylas application to answer API calls: its
notifications are either out of its scope (no call is made) or of a kind no handler fetches.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import threading
import time
import types
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, or_, text
from sqlmodel import SQLModel, col, select

import crmsync.operator_context
import webhooks.signature
from crmsync.cli import main
from domain.notifications import Notification, parse_document
from simulator import folder_presets as mailbox
from simulator import notifications as sim
from storage.engine import transaction
from storage.offboarding import start_offboarding
from storage.org_tables import OffboardingRow
from storage.tables import RawNotification
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.harness import operator_environment, settings_for
from tests.support.services import WEBHOOK_SECRET, wait_for
from workers.actors.offboarding import offboard_org
from workers.context import WorkerContext
from workers.dispatch import OFFBOARDINGS, dispatch_recorded
from workers.queues import NOTIFICATION_QUEUES, OFFBOARDING_QUEUE

GLOBEX_SECRET = "globex-hostile-webhook-secret-1"
HOOLI_SECRET = "hooli-hostile-webhook-secret-1"
APP_GLOBEX = "app-globex-hostile"
APP_HOOLI = "app-hooli-hostile"
SECRETS = {"globex": GLOBEX_SECRET, "hooli": HOOLI_SECRET}
WRONG_SIGNATURE = "0" * 64
BOB = "bob@customer.example"


def as_admin_in(org_id: str) -> dict[str, str]:
    return {**AUTH, "Crmsync-Org": org_id}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def own_application(name: str, client_id: str, secret: str) -> dict[str, Any]:
    return {
        "name": name,
        "nylas_application": {
            "client_id": client_id,
            "region": "us",
            "api_key": f"nyk_{name.lower()}",
            "webhook_secrets": [secret],
        },
    }


def probe(notification_id: str | None = None) -> dict[str, Any]:
    """A notification of a trigger crmsync does not handle, about no grant: queued on
    ``notifications.other`` and kept as ``not_handled``, with no Nylas call."""
    return sim.envelope(
        "crmsync.probe", None, source="/probe", notification_id=notification_id or new_id()
    )


def new_id() -> str:
    return f"n-{uuid.uuid4().hex[:12]}"


def anns_message(message_id: str, application_id: str | None = None) -> dict[str, Any]:
    """A message of the default organization's rep ann that would be stored for her (bob is
    her contact, INBOX is synced): carried whole, so handling it needs no Nylas fetch."""
    document = sim.message_created(
        GMAIL_GRANT,
        message_id=message_id,
        sender=BOB,
        to=("ann@acme.example",),
        folders=(mailbox.GMAIL_INBOX_ID,),
        subject="ann's deal",
    )
    if application_id is None:
        del document["data"]["application_id"]
    else:
        document["data"]["application_id"] = application_id
    return document


def signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_raw(
    world: EmailSyncWorld,
    path: str,
    body: bytes,
    sig: str | None,
    extra: dict[str, str] | None = None,
) -> Any:
    headers = {"Content-Type": "application/json", **(extra or {})}
    if sig is not None:
        headers["X-Nylas-Signature"] = sig
    return world.client.post(path, content=body, headers=headers)


def post(world: EmailSyncWorld, path: str, document: dict[str, Any], secret: str) -> Any:
    body = sim.encode(document)
    return post_raw(world, path, body, signature(body, secret))


def stored(
    world: EmailSyncWorld, notification_id: str, via_org: str | None = None
) -> RawNotification | None:
    """The stored notification of that id (that came through ``via_org``, "" for the
    deployment's application, when given)."""
    with transaction(world.runtime.engine) as session:
        query = select(RawNotification).where(RawNotification.notification_id == notification_id)
        if via_org is not None:
            query = query.where(RawNotification.via_org == via_org)
        row = session.exec(query).first()
        if row is not None:
            session.expunge(row)
        return row


def handled(world: EmailSyncWorld, notification_id: str) -> RawNotification:
    wait_for(lambda: stored(world, notification_id) is not None, what=f"{notification_id} kept")
    row = stored(world, notification_id)
    assert row is not None
    return row


def marked_seen(world: EmailSyncWorld, notification_id: str) -> bool:
    """Whether any dedupe mark (the deployment's or an organization's) names the id."""
    client = world.runtime.broker.client
    pattern = f"{world.runtime.settings.redis_namespace}:dedupe:*{notification_id}"
    return any(True for _ in client.scan_iter(match=pattern))


def queues_drained(world: EmailSyncWorld) -> bool:
    """No notification waits, runs or waits to be retried: everything queued was handled
    (a Dramatiq message stays in ``<queue>.msgs`` until it is acknowledged)."""
    client = world.runtime.broker.client
    namespace = world.runtime.settings.redis_namespace
    for spec in NOTIFICATION_QUEUES.values():
        key = f"{namespace}:{spec.queue_name}"
        if client.llen(key) or client.hlen(key + ".msgs"):
            return False
        if client.llen(key + ".DQ") or client.hlen(key + ".DQ.msgs"):
            return False
    return True


def accepted_soon(world: EmailSyncWorld, org_id: str) -> None:
    """Once the web process has read ``org_id``'s secrets (CRMSYNC_ORG_KEYS_REFRESH_MS is 100
    in the tests), its URL takes what its secret signs."""

    def accepted() -> bool:
        answer = post(world, f"/webhooks/nylas/{org_id}", probe(), SECRETS[org_id])
        return bool(answer.status_code == 200)

    wait_for(accepted, what=f"{org_id}'s secret to verify")


@pytest.fixture
def orgs(world: EmailSyncWorld) -> EmailSyncWorld:
    """``default`` with ann on the Gmail grant; ``globex`` and ``hooli``, each with a Nylas
    application of its own and no rep; ``initech`` on the deployment's application with ben
    on the Microsoft grant. ann and ben both have bob as a contact."""
    for org_id, client_id in (("globex", APP_GLOBEX), ("hooli", APP_HOOLI)):
        document = own_application(org_id.capitalize(), client_id, SECRETS[org_id])
        made = world.api("PUT", f"/v1/orgs/{org_id}", json=document)
        assert made.status_code == 201, made.text
    assert world.api("PUT", "/v1/orgs/initech", json={"name": "Initech"}).status_code == 201
    world.put_rep("ann", email="ann@acme.example", grant_id=GMAIL_GRANT, provider="google")
    world.put_contacts("ann", [{"id": "c-bob", "email": BOB}])
    rep = {"email": "ben@acme.example", "grant_id": MICROSOFT_GRANT, "provider": "microsoft"}
    in_initech = as_admin_in("initech")
    assert world.client.put("/v1/reps/ben", json=rep, headers=in_initech).status_code == 201
    contacts = {"contacts": [{"id": "c-bob", "emails": [BOB]}]}
    answer = world.client.put("/v1/reps/ben/contacts", json=contacts, headers=in_initech)
    assert answer.status_code == 200
    accepted_soon(world, "globex")
    accepted_soon(world, "hooli")
    return world


def run_offboardings(world: EmailSyncWorld) -> None:
    """What the dispatcher of a worker process does: queue the offboardings to run."""
    actor = world.runtime.broker.get_actor(OFFBOARDING_QUEUE.actor_name)
    dispatch_recorded(WorkerContext(engine=world.runtime.engine), OFFBOARDINGS, actor.send)


def offboarded(world: EmailSyncWorld, org_id: str) -> OffboardingRow:
    """Offboard ``org_id`` as an admin and the workers do; its finished audit record."""
    assert world.api("DELETE", f"/v1/orgs/{org_id}").status_code == 202
    run_offboardings(world)
    wait_for(
        lambda: world.api("GET", f"/v1/orgs/{org_id}").status_code == 404,
        what=f"{org_id} offboarded",
    )
    with transaction(world.runtime.engine) as session:
        [row] = session.exec(select(OffboardingRow).where(OffboardingRow.org_id == org_id)).all()
        session.expunge(row)
    return row


def answer_of(response: Any) -> tuple[int, bytes, tuple[tuple[str, str], ...]]:
    """Everything a client sees of an answer but its date."""
    headers = tuple(sorted((k, v) for k, v in response.headers.items() if k.lower() != "date"))
    return response.status_code, response.content, headers


# The per-organization URL ---------------------------------------------------------------------

# Ids that are not globex once the path is decoded, yet look like it, or like a path trick.
HOSTILE_IDS = (
    "GLOBEX",
    "globex%20",
    "%20globex",
    "gl%C3%B6bex",  # glöbex
    "globex%E2%80%8B",  # a zero-width space after it
    "globex%00",
    "%2E%2E",  # ..
    "globex.",
    "globex%09",
    "x" * 10_000,
    "%F0%9F%92%A5" * 100,  # emoji
)


def test_hostile_ids_on_an_organizations_url_are_refused_as_a_bad_signature(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    for org_id in HOSTILE_IDS:
        for secret in (GLOBEX_SECRET, WEBHOOK_SECRET):
            document = anns_message(new_id(), APP_GLOBEX)
            answer = post(world, f"/webhooks/nylas/{org_id}", document, secret)
            assert answer.status_code == 401, (org_id[:40], answer.text)
            assert answer.json()["error"]["reason"] == "bad_signature"
            assert not marked_seen(world, document["id"])
    # A percent-encoded letter is the same id once decoded: globex itself, and only globex.
    document = probe()
    assert post(world, "/webhooks/nylas/glo%62ex", document, GLOBEX_SECRET).status_code == 200
    assert handled(world, document["id"]).via_org == "globex"
    # A slash, encoded or not, reaches no organization, whether the id before it exists or not.
    for suffix in ("%2Fx", "/x", "%2F..%2Fhooli", "/../hooli"):
        existing = post(world, f"/webhooks/nylas/globex{suffix}", probe(), GLOBEX_SECRET)
        absent = post(world, f"/webhooks/nylas/nobody{suffix}", probe(), GLOBEX_SECRET)
        assert existing.status_code != 200, suffix
        assert answer_of(existing) == answer_of(absent), suffix
    assert world.emails() == []


def gzip_body(document: dict[str, Any]) -> bytes:
    return gzip.compress(sim.encode(document))


def test_an_organizations_url_answers_alike_whether_it_exists_has_no_application_or_not(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    limit = world.runtime.settings.max_body_bytes
    large = sim.encode({**probe(), "padding": "p" * 100_000})
    cases: dict[str, tuple[bytes, str | None, dict[str, str]]] = {
        "unsigned": (sim.encode(probe("n-same-1")), None, {}),
        "malformed signature": (sim.encode(probe("n-same-2")), "not-hex", {}),
        "wrong signature": (sim.encode(probe("n-same-3")), WRONG_SIGNATURE, {}),
        "not json": (b"{nope", WRONG_SIGNATURE, {}),
        "gzip": (gzip_body(probe("n-same-4")), WRONG_SIGNATURE, {"Content-Encoding": "gzip"}),
        "not gzip": (b"plain", WRONG_SIGNATURE, {"Content-Encoding": "gzip"}),
        "large": (large, WRONG_SIGNATURE, {}),
        "oversized": (b" " * (limit + 1), WRONG_SIGNATURE, {}),
    }
    for case, (body, sig, extra) in cases.items():
        answers = {
            org_id: answer_of(post_raw(world, f"/webhooks/nylas/{org_id}", body, sig, extra))
            for org_id in ("globex", "hooli", "initech", "default", "nobody")
        }
        assert len(set(answers.values())) == 1, (case, answers)
        assert answers["globex"][0] in (401, 413), case


def test_refusing_a_large_body_costs_the_same_whether_or_not_the_organization_exists(
    orgs: EmailSyncWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = orgs
    hashed: list[int] = []

    class CountingMac:
        def __init__(self, key: bytes, digestmod: Any) -> None:
            self._mac = hmac.new(key, digestmod=digestmod)

        def update(self, piece: bytes) -> None:
            hashed.append(len(piece))
            self._mac.update(piece)

        def hexdigest(self) -> str:
            return self._mac.hexdigest()

    counting = types.SimpleNamespace(new=CountingMac, compare_digest=hmac.compare_digest)
    monkeypatch.setattr(webhooks.signature, "hmac", counting)
    body = sim.encode({**probe(), "padding": "p" * (1024 * 1024)})

    work: dict[str, int] = {}
    elapsed: dict[str, float] = {}
    for org_id in ("globex", "initech", "nobody"):
        hashed.clear()
        started = time.perf_counter()
        answer = post_raw(world, f"/webhooks/nylas/{org_id}", body, WRONG_SIGNATURE)
        elapsed[org_id] = time.perf_counter() - started
        assert answer.status_code == 401
        work[org_id] = sum(hashed)

    assert work["globex"] == work["initech"] == work["nobody"], (work, elapsed)


# The deployment's URL and application ids ----------------------------------------------------


def with_application(application_id: object) -> dict[str, Any]:
    document = anns_message(new_id())
    document["data"]["application_id"] = application_id
    return document


def test_an_odd_application_id_never_chooses_whose_secrets_verify(orgs: EmailSyncWorld) -> None:
    world = orgs
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("int", with_application(12345), GLOBEX_SECRET),
        ("list", with_application([APP_GLOBEX]), GLOBEX_SECRET),
        ("object", with_application({"id": APP_GLOBEX}), GLOBEX_SECRET),
        ("null", with_application(None), GLOBEX_SECRET),
        ("trailing space", with_application(APP_GLOBEX + " "), GLOBEX_SECRET),
        ("leading space", with_application(" " + APP_GLOBEX), GLOBEX_SECRET),
        ("upper case", with_application(APP_GLOBEX.upper()), GLOBEX_SECRET),
        ("with a nul", with_application(APP_GLOBEX + "\x00"), GLOBEX_SECRET),
        ("huge", with_application("a" * 60_000), GLOBEX_SECRET),
        ("the deployment's", with_application(sim.APPLICATION_ID), GLOBEX_SECRET),
        ("hooli's, signed by globex", with_application(APP_HOOLI), GLOBEX_SECRET),
        ("globex's, signed by hooli", with_application(APP_GLOBEX), HOOLI_SECRET),
        ("globex's, signed by nobody", with_application(APP_GLOBEX), "some-other-secret"),
    ]
    top_level = anns_message(new_id())
    top_level["application_id"] = APP_GLOBEX
    refused.append(("at the top level", top_level, GLOBEX_SECRET))
    in_object = anns_message(new_id())
    in_object["data"]["object"]["application_id"] = APP_GLOBEX
    refused.append(("in the object", in_object, GLOBEX_SECRET))
    deep = anns_message(new_id())
    deep["data"]["application_id"] = APP_GLOBEX
    deep["data"]["nested"] = [[[[{"application_id": APP_HOOLI}]]]]
    refused.append(("named by globex, signed by hooli, hooli's nested", deep, HOOLI_SECRET))

    for case, document, secret in refused:
        answer = post(world, "/webhooks/nylas", document, secret)
        assert answer.status_code == 401, (case, answer.text)
        assert not marked_seen(world, document["id"]), case
    assert world.emails() == []


def test_duplicate_keys_never_make_the_peek_and_the_parsed_body_disagree(
    orgs: EmailSyncWorld,
) -> None:
    """orjson keeps the last of duplicate keys, in the peek at ``data.application_id`` and in
    the parse alike: either the body names globex's application in its last ``data`` and is
    globex's (and acts on no one else's grant), or it does not and globex's secret signs
    nothing for it."""
    world = orgs
    ann = sim.encode(anns_message("m-dup")["data"]["object"]).decode()

    def body(notification_id: str, *datas: str) -> bytes:
        fields = [
            '"specversion":"1.0"',
            '"type":"message.created"',
            '"source":"/google/emails/realtime"',
            f'"id":"{notification_id}"',
            f'"time":{int(time.time())}',
            *(f'"data":{data}' for data in datas),
        ]
        return ("{" + ",".join(fields) + "}").encode()

    named = f'{{"application_id":"{APP_GLOBEX}","object":{ann}}}'
    unnamed = f'{{"object":{ann}}}'
    deployments = f'{{"application_id":"{sim.APPLICATION_ID}","object":{ann}}}'
    twice_named = (
        f'{{"application_id":"{APP_GLOBEX}","application_id":"{sim.APPLICATION_ID}",'
        f'"object":{ann}}}'
    )
    twice_named_globex_last = (
        f'{{"application_id":"{sim.APPLICATION_ID}","application_id":"{APP_GLOBEX}",'
        f'"object":{ann}}}'
    )
    refused = [(named, unnamed), (named, deployments), (twice_named,)]
    taken = [(unnamed, named), (deployments, named), (twice_named_globex_last,)]

    for datas in refused:
        raw = body(new_id(), *datas)
        assert post_raw(
            world, "/webhooks/nylas", raw, signature(raw, GLOBEX_SECRET)
        ).status_code == (401), datas
    for datas in taken:
        notification_id = new_id()
        raw = body(notification_id, *datas)
        answer = post_raw(world, "/webhooks/nylas", raw, signature(raw, GLOBEX_SECRET))
        assert answer.status_code == 200, (datas, answer.text)
        row = handled(world, notification_id)
        assert (row.via_org, row.org_id, row.outcome) == (
            "globex",
            "globex",
            "other_organization",
        )
    assert world.emails() == []


def test_bodies_an_organization_signs_in_every_shape_act_only_for_it(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    v2 = sim.v2_body(
        sim.v2_message_delta(GMAIL_GRANT, "m-v2-a"), sim.v2_message_delta(GMAIL_GRANT, "m-v2-b")
    )
    v2_ids = [n.notification_id for n in parse_document(v2)]
    large = anns_message(new_id(), APP_GLOBEX)
    large["data"]["object"]["body"] = "<p>" + "x" * 100_000 + "</p>"
    compressed = anns_message(new_id(), APP_GLOBEX)
    decompressed = anns_message(new_id(), APP_GLOBEX)

    plain_v2 = sim.encode(v2)
    plain_large = sim.encode(large)
    zipped = gzip_body(compressed)
    zipped_too = gzip_body(decompressed)
    gz = {"Content-Encoding": "gzip"}
    bodies = [
        (plain_v2, signature(plain_v2, GLOBEX_SECRET), {}, v2_ids),
        (plain_large, signature(plain_large, GLOBEX_SECRET), {}, [large["id"]]),
        (zipped, signature(zipped, GLOBEX_SECRET), gz, [compressed["id"]]),
        (zipped_too, signature(sim.encode(decompressed), GLOBEX_SECRET), gz, [decompressed["id"]]),
    ]
    # To the deployment's URL, globex's secret signs none of them: a v2 body names no
    # application, and a large or compressed one is not read before it authenticates.
    for raw, sig, extra, ids in bodies:
        answer = post_raw(world, "/webhooks/nylas", raw, sig, extra)
        assert answer.status_code == 401, answer.text
        assert not any(marked_seen(world, i) for i in ids)
    # To globex's own URL each is globex's, and acts on none of the default organization's.
    for raw, sig, extra, ids in bodies:
        answer = post_raw(world, "/webhooks/nylas/globex", raw, sig, extra)
        assert answer.status_code == 200, answer.text
        assert answer.json()["queued"] == len(ids)
        for notification_id in ids:
            row = handled(world, notification_id)
            assert (row.via_org, row.org_id, row.outcome) == (
                "globex",
                "globex",
                "other_organization",
            )
    assert world.emails() == []


def test_one_organizations_application_never_acts_on_another_organizations_rep(
    orgs: EmailSyncWorld,
) -> None:
    """Hooli's people sign, with hooli's secret, a notification about initech's rep and
    one about the default organization's: both are kept as other_organization."""
    world = orgs
    bens = sim.message_created(
        MICROSOFT_GRANT,
        message_id="m-ben",
        sender=BOB,
        to=("ben@acme.example",),
        folders=(mailbox.MICROSOFT_INBOX_ID,),
    )
    bens["data"]["application_id"] = APP_HOOLI
    expired = sim.grant_expired(GMAIL_GRANT)
    expired["data"]["application_id"] = APP_HOOLI
    for document, path in ((bens, "/webhooks/nylas"), (expired, "/webhooks/nylas/hooli")):
        assert post(world, path, document, HOOLI_SECRET).status_code == 200
        row = handled(world, document["id"])
        assert (row.via_org, row.org_id, row.outcome) == ("hooli", "hooli", "other_organization")
    assert world.emails() == []
    ann = world.api("GET", "/v1/reps/ann").json()
    assert ann["account_status"] != "invalid-credentials"


def test_a_notification_id_is_seen_once_per_organization_and_never_for_another(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    notification_id = new_id()
    through: dict[str, Any] = {}
    for org_id in ("globex", "hooli", "globex", "hooli"):
        answer = post(world, f"/webhooks/nylas/{org_id}", probe(notification_id), SECRETS[org_id])
        through.setdefault(org_id, []).append(answer.json())
    assert [a["queued"] for a in through["globex"]] == [1, 0]
    assert [a["queued"] for a in through["hooli"]] == [1, 0]
    # The deployment's application's notification of that id is queued too.
    answer = post(world, "/webhooks/nylas", probe(notification_id), WEBHOOK_SECRET)
    assert answer.json()["queued"] == 1


def test_another_organizations_notification_under_a_known_id_leaves_the_stored_one_alone(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    legitimate = anns_message("m-legit", sim.APPLICATION_ID)
    world.notify(legitimate)
    before = stored(world, legitimate["id"], "")
    assert before is not None
    assert (before.org_id, before.via_org, before.outcome) == ("default", "", "stored")

    forged = probe(legitimate["id"])
    assert post(world, "/webhooks/nylas/globex", forged, GLOBEX_SECRET).json()["queued"] == 1
    wait_for(lambda: queues_drained(world), what="globex's notification handled")

    after = stored(world, legitimate["id"], "")
    assert after is not None
    assert (after.org_id, after.via_org, after.outcome, after.attempts) == (
        "default",
        "",
        "stored",
        1,
    )
    with transaction(world.runtime.engine) as session:
        globex_rows = session.exec(
            select(RawNotification).where(RawNotification.via_org == "globex")
        ).all()
        assert legitimate["id"] in {row.notification_id for row in globex_rows}


# Organization tokens and the Crmsync-Org header ----------------------------------------------


def token_of(world: EmailSyncWorld, org_id: str) -> str:
    issued = world.api("POST", f"/v1/orgs/{org_id}/tokens", json={"name": "crm"})
    assert issued.status_code == 201, issued.text
    token: str = issued.json()["token"]
    return token


def test_an_organization_token_can_neither_offboard_nor_see_organizations(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    initech = bearer(token_of(world, "initech"))
    tries = [
        ("DELETE", "/v1/orgs/initech", {}),
        ("DELETE", "/v1/orgs/initech", {"dry_run": "true"}),
        ("DELETE", "/v1/orgs/initech", {"dry_run": "junk"}),
        ("DELETE", "/v1/orgs/globex", {}),
        ("DELETE", "/v1/orgs/nobody", {}),
        ("DELETE", "/v1/orgs/default", {}),
        ("GET", "/v1/orgs", {}),
        ("GET", "/v1/orgs/initech", {}),
        ("PUT", "/v1/orgs/initech", {}),
        ("POST", "/v1/orgs/initech/tokens", {}),
    ]
    answers = set()
    for method, path, params in tries:
        answer = world.client.request(
            method, path, params=params, headers=initech, json={"name": "x"}
        )
        assert answer.status_code == 404, (method, path, answer.text)
        answers.add(answer.content)
    assert len(answers) == 1  # the same 404 whether the organization exists or not
    with transaction(world.runtime.engine) as session:
        assert session.exec(select(OffboardingRow)).all() == []
    # initech still works, with the same token.
    assert world.client.get("/v1/reps/ben", headers=initech).status_code == 200


def test_the_crmsync_org_header_never_takes_a_token_into_another_organization(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    initech = bearer(token_of(world, "initech"))
    existing = world.client.get("/v1/reps/ann", headers={**initech, "Crmsync-Org": "default"})
    absent = world.client.get("/v1/reps/ann", headers={**initech, "Crmsync-Org": "nobody0"})
    assert existing.status_code == absent.status_code == 404
    # Alike but for the id it names (same length, so the same Content-Length).
    assert existing.content.replace(b"default", b"nobody0") == absent.content
    for hostile in ("default ", "DEFAULT", "../default", "default,initech", "x" * 10_000, "dé"):
        raw_headers = [
            (b"Authorization", initech["Authorization"].encode()),
            (b"Crmsync-Org", hostile.encode()),
        ]
        answer = world.client.get("/v1/reps", headers=raw_headers)
        assert answer.status_code in (400, 404), hostile[:20]
        assert b"ann" not in answer.content
    # Two headers, in either order, never reach the default organization's rep.
    for pair in (("initech", "default"), ("default", "initech")):
        headers = [
            ("Authorization", initech["Authorization"]),
            ("Crmsync-Org", pair[0]),
            ("Crmsync-Org", pair[1]),
        ]
        answer = world.client.get("/v1/reps", headers=headers)
        assert b"ann@acme.example" not in answer.content, pair
    # An admin naming an organization being removed finds nothing there.
    assert world.api("DELETE", "/v1/orgs/initech").status_code == 202
    for method, path in (("GET", "/v1/reps/ben"), ("PUT", "/v1/reps/carl")):
        answer = world.client.request(
            method, path, headers=as_admin_in("initech"), json={"email": "carl@acme.example"}
        )
        assert answer.status_code == 404, (method, path)
    assert world.client.get("/v1/reps/ben", headers=initech).status_code == 401
    refused = world.api("PUT", "/v1/orgs/initech", json={"name": "Initech again"})
    assert (refused.status_code, refused.json()["error"]["reason"]) == (409, "org_offboarding")


# Offboarding ---------------------------------------------------------------------------------


def test_junk_dry_run_values_are_refused_and_offboard_nothing(orgs: EmailSyncWorld) -> None:
    world = orgs
    for value in ("yes", "1", "0", "", "on", "true,false", "tru e", "tru\u0435"):  # a Cyrillic e
        answer = world.api("DELETE", "/v1/orgs/initech", params={"dry_run": value})
        assert answer.status_code == 400, (value, answer.text)
        assert answer.json()["error"]["reason"] == "invalid_dry_run"
    for params in ({"dry-run": "true"}, {"DRY_RUN": "true"}, {"dryrun": "true"}):
        assert world.api("DELETE", "/v1/orgs/initech", params=params).status_code == 400
    dry = world.api("DELETE", "/v1/orgs/initech", params={"dry_run": "TRUE"})
    assert (dry.status_code, dry.json()["dry_run"], dry.json()["grants"]) == (200, True, 1)
    with transaction(world.runtime.engine) as session:
        assert session.exec(select(OffboardingRow)).all() == []
    assert world.api("GET", "/v1/orgs/initech").json()["offboarding"] is None


def waiting_on_a_lock(world: EmailSyncWorld) -> bool:
    with world.runtime.engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%FOR UPDATE%'"
            )
        ).scalar_one()
    return bool(waiting)


def test_two_deletes_at_once_start_one_offboarding(orgs: EmailSyncWorld) -> None:
    world = orgs
    engine = world.runtime.engine
    now = datetime.now(UTC)
    second: list[int | None] = []
    errors: list[BaseException] = []

    def delete_again() -> None:
        try:
            with transaction(engine) as session:
                second.append(start_offboarding(session, "initech", "token-2", now).id)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    with transaction(engine) as session:
        first = start_offboarding(session, "initech", "token-1", now).id
        thread = threading.Thread(target=delete_again)
        thread.start()
        if engine.dialect.name == "postgresql":
            wait_for(lambda: waiting_on_a_lock(world), what="the second delete to wait")
        else:
            time.sleep(0.3)  # SQLite: it waits in BEGIN IMMEDIATE for this one to commit
    thread.join(timeout=20)
    assert not errors, errors
    with transaction(engine) as session:
        under_way = session.exec(
            select(OffboardingRow).where(OffboardingRow.org_id == "initech")
        ).all()
        assert [row.id for row in under_way] == [first]
    assert second == [first]


def test_a_token_cannot_be_issued_for_or_act_in_an_organization_being_removed(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    world.fake.add_mailbox("grant-late", "google", "late@acme.example")
    assert world.api("DELETE", "/v1/orgs/initech").status_code == 202

    issued = world.api("POST", "/v1/orgs/initech/tokens", json={"name": "provisioning"})
    late = None
    if issued.status_code == 201:
        token = bearer(issued.json()["token"])
        rep = {"email": "late@acme.example", "grant_id": "grant-late", "provider": "google"}
        late = world.client.put("/v1/reps/late", json=rep, headers=token)
    run_offboardings(world)
    wait_for(
        lambda: world.api("GET", "/v1/orgs/initech").status_code == 404,
        what="initech offboarded",
    )

    assert issued.status_code in (404, 409), issued.text
    assert late is None or late.status_code == 401
    if late is not None and late.status_code == 201:
        assert world.fake.grant("grant-late") is None, "a grant it connected is still live"


def rows_naming(world: EmailSyncWorld, org_id: str, grants: list[str]) -> list[str]:
    """Stored notifications that are the organization's by the offboarding's own plan."""
    with transaction(world.runtime.engine) as session:
        rows = session.exec(
            select(RawNotification).where(
                or_(
                    col(RawNotification.org_id) == org_id,
                    col(RawNotification.via_org) == org_id,
                    col(RawNotification.grant_id).in_(grants or ["-"]),
                )
            )
        ).all()
        return [f"{row.notification_id} {row.type} {row.grant_id} {row.org_id}" for row in rows]


@pytest.mark.parametrize("path", ["its own url", "the deployment's url"])
def test_nothing_handled_after_an_offboarding_is_kept_as_the_removed_organizations(
    orgs: EmailSyncWorld, path: str
) -> None:
    world = orgs
    if path == "its own url":
        audit = offboarded(world, "globex")
        late: list[Notification] = [
            replace(n, via_org="globex")
            for n in parse_document(sim.grant_expired("grant-globex-rep"))
        ]
        assert [o.queued for o in world.runtime.enqueuer.enqueue(late)] == [True]
    else:
        audit = offboarded(world, "initech")
        assert audit.grants == [MICROSOFT_GRANT]
        assert world.fake.grant(MICROSOFT_GRANT) is None  # disconnected at Nylas
        message = sim.message_created(
            MICROSOFT_GRANT,
            message_id="m-after",
            sender=BOB,
            to=("ben@acme.example",),
            folders=(mailbox.MICROSOFT_INBOX_ID,),
            subject="initech's confidential pricing",
        )
        deleted = sim.grant_deleted(MICROSOFT_GRANT, provider="microsoft", email="ben@acme.example")
        for document in (message, deleted):
            assert post(world, "/webhooks/nylas", document, WEBHOOK_SECRET).status_code == 200
    wait_for(lambda: queues_drained(world), what="the late notifications handled")
    # The offboarding's last pass, a few minutes on, deletes what came in so late.
    later = WorkerContext(
        engine=world.runtime.engine, clock=lambda: datetime.now(UTC) + timedelta(minutes=6)
    )
    assert audit.id is not None
    offboard_org(later, audit.id, lambda again: None)

    assert rows_naming(world, audit.org_id, list(audit.grants)) == []


def org_rows(world: EmailSyncWorld, org_id: str) -> dict[str, int]:
    """The organization's rows in each table that names an organization."""
    counts: dict[str, int] = {}
    with transaction(world.runtime.engine) as session:
        for table in SQLModel.metadata.sorted_tables:
            if "org_id" in table.c and table.name != "offboardings":
                statement = (
                    select(func.count()).select_from(table).where(table.c["org_id"] == org_id)
                )
                counts[table.name] = int(session.exec(statement).one())
    return counts


def test_offboarding_never_touches_another_organizations_rows_with_the_same_ids(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    item = {
        "title": "Call",
        "start": "2026-12-10T10:00:00Z",
        "end": "2026-12-10T10:30:00Z",
        "changed_at": "2026-12-01T00:00:00Z",
    }
    for org_id in ("default", "initech"):
        headers = as_admin_in(org_id)
        rep = {"email": "same@acme.example"}
        assert world.client.put("/v1/reps/same", json=rep, headers=headers).status_code == 201
        contacts = {"contacts": [{"id": "c-same", "emails": ["same@customer.example"]}]}
        answer = world.client.put("/v1/reps/same/contacts", json=contacts, headers=headers)
        assert answer.status_code == 200
        answer = world.client.put("/v1/reps/same/action-items/i-same", json=item, headers=headers)
        assert answer.status_code == 201
    world.notify(anns_message("m-ann", sim.APPLICATION_ID))
    world.notify(
        sim.message_created(
            MICROSOFT_GRANT,
            message_id="m-ann",  # the same Nylas message id as ann's
            sender=BOB,
            to=("ben@acme.example",),
            folders=(mailbox.MICROSOFT_INBOX_ID,),
        )
    )
    assert {(e.org_id, e.message_id) for e in world.emails()} == {
        ("default", "m-ann"),
        ("initech", "m-ann"),
    }
    paths = ("/v1/reps/same", "/v1/reps/same/contacts", "/v1/reps/same/action-items/i-same")
    before = {p: world.api("GET", p).json() for p in paths}
    before_rows = org_rows(world, "default")
    assert world.api("DELETE", "/v1/orgs/initech", params={"dry_run": "true"}).json()["grants"] == 1

    offboarded(world, "initech")

    assert org_rows(world, "initech") == dict.fromkeys(before_rows, 0)
    assert org_rows(world, "default") == before_rows
    assert {p: world.api("GET", p).json() for p in paths} == before
    assert [(e.org_id, e.rep_id) for e in world.emails()] == [("default", "ann")]
    assert world.fake.grant(GMAIL_GRANT) is not None


def test_a_notification_during_the_offboarding_leaves_nothing_behind(
    orgs: EmailSyncWorld,
) -> None:
    """Handled while the offboarding waits to run, a notification for initech's rep stores
    an email as usual; the offboarding's passes find it and the organization goes whole."""
    world = orgs
    assert world.api("DELETE", "/v1/orgs/initech").status_code == 202
    world.notify(
        sim.message_created(
            MICROSOFT_GRANT,
            message_id="m-during",
            sender=BOB,
            to=("ben@acme.example",),
            folders=(mailbox.MICROSOFT_INBOX_ID,),
        )
    )
    assert [e.org_id for e in world.emails()] == ["initech"]
    offboarded(world, "initech")
    assert world.emails() == []
    assert set(org_rows(world, "initech").values()) == {0}
    assert rows_naming(world, "initech", [MICROSOFT_GRANT]) == []


# Operator commands given hostile organization ids --------------------------------------------


@pytest.fixture
def operator(database_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment an operator's command reads, beside this test's database."""
    for name, value in operator_environment(settings_for(database_url, redis_namespace)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)


HOSTILE_ARGUMENTS = (
    "[bold red]x[/]",
    "x\x1b[2Jy",
    "x\x1b]0;owned\x07y",
    "default\u202egnp.exe",
    "%",
    "_",
    "' OR '1'='1",
    "",
)


EXPECTED_EXIT = {"status": 1, "dlq": 0, "orgs": 2}  # unknown; nothing matches; not an id


@pytest.mark.parametrize(
    "argv",
    [
        ("status", "--org"),
        ("dlq", "list", "--org"),
        ("dlq", "audit", "--org"),
        ("dlq", "replay", "--dry-run", "--org"),
        ("orgs", "show"),
        ("orgs", "delete", "--yes"),
        ("orgs", "tokens", "--issue", "x"),
    ],
    ids=["status", "dlq-list", "dlq-audit", "dlq-replay", "orgs-show", "orgs-delete", "orgs-issue"],
)
def test_hostile_organization_arguments_reach_no_terminal_and_match_nothing(
    operator: None, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    for hostile in HOSTILE_ARGUMENTS:
        code = main([*argv, hostile])
        captured = capsys.readouterr()
        output = captured.out + captured.err
        assert code == EXPECTED_EXIT[argv[0]], (hostile, output)
        for unsafe in ("\x1b", "\x07", "\u202e"):
            assert unsafe not in output, hostile
        assert "Traceback" not in output, output
        if argv[:2] == ("dlq", "list"):
            assert "0 of 0 matching dead letters" in output, output
    code = main(["status", "--org", HOSTILE_ARGUMENTS[0]])
    assert "no organization [bold red]x[/]" in capsys.readouterr().err


def test_a_dry_run_given_twice_with_two_values_is_refused_and_offboards_nothing(
    orgs: EmailSyncWorld,
) -> None:
    world = orgs
    for params in ("dry_run=true&dry_run=false", "dry_run=false&dry_run=true"):
        answer = world.client.delete(f"/v1/orgs/initech?{params}", headers=AUTH)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["reason"] == "duplicate_parameter"
    assert world.api("GET", "/v1/orgs/initech").json()["offboarding"] is None
    same = world.client.delete("/v1/orgs/initech?dry_run=true&dry_run=true", headers=AUTH)
    assert (same.status_code, same.json()["dry_run"]) == (200, True)
