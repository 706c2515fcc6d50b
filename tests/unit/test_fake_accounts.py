"""The fake Nylas's accounts side without HTTP: notification builders, hosted-auth codes, the
grant lifecycle and the notifications it queues."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest
from nylas.models.errors import NylasOAuthErrorResponse

from domain.notifications import parse_document
from simulator import folder_presets as mb
from simulator import hosted_auth as auth
from simulator import notifications as sim
from simulator.mailbox import FakeNylas
from tests.support.fake_api import SettableClock

T0 = 1_790_000_000
CALLBACK = "https://crm.example/connect/callback"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def fake(clock: SettableClock) -> FakeNylas:
    return FakeNylas(clock=clock)


def sent(grant_id: str = "grant-1", **fields: Any) -> dict[str, Any]:
    message = sim.message_object(
        grant_id,
        message_id="msg-1",
        sender="rep@sellerco.example",
        to=("alice@customer.example",),
        cc=("bob@customer.example",),
        folders=("SENT",),
        subject="Proposal",
        date=T0 - 60,
    )
    message.update(fields)
    return message


# Builders ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "delivered_type", "code", "extra"),
    [
        (
            sim.grant_created(
                "g1", provider="google", email="a@x.example", scope=["openid"], name="A", at=T0
            ),
            "grant.created",
            25012,
            {"login_id", "scope", "name"},
        ),
        (
            sim.grant_updated(
                "g1", provider="google", email="a@x.example", reauthentication_flag=True, at=T0
            ),
            "grant.updated",
            25014,
            {"reauthentication_flag"},
        ),
        (
            sim.grant_deleted("g1", provider="google", email="a@x.example", at=T0),
            "grant.deleted",
            25013,
            set(),
        ),
        (
            sim.grant_expired("g1", provider="google", email="a@x.example", at=T0),
            "grant.expired",
            25009,
            {"grant_updated_at"},
        ),
    ],
)
def test_grant_notifications_carry_their_code_and_fields(
    document: dict[str, Any], delivered_type: str, code: int, extra: set[str]
) -> None:
    obj = document["data"]["object"]

    assert (document["type"], document["source"], document["time"]) == (
        delivered_type,
        "/nylas/system",
        T0,
    )
    assert obj["code"] == code
    assert set(obj) == {"code", "grant_id", "integration_id", "provider", "email"} | extra
    assert obj["integration_id"] == sim.integration_id("google")
    [parsed] = parse_document(document)
    assert (parsed.trigger, parsed.grant_id) == (delivered_type, "g1")


def test_grant_updated_says_whether_it_was_a_reauthentication() -> None:
    flags = [
        sim.grant_updated("g", provider="microsoft", email=None, reauthentication_flag=flag)[
            "data"
        ]["object"]
        for flag in (True, False)
    ]

    assert [f["reauthentication_flag"] for f in flags] == [True, False]
    assert all("email" not in f for f in flags)


def test_grant_expired_keeps_its_old_defaults() -> None:
    obj = sim.grant_expired("g")["data"]["object"]

    assert obj["provider"] == "google"
    assert obj["grant_updated_at"] < sim.grant_expired("g", at=2**40)["time"]


def test_send_success_has_the_message_and_the_grant_beside_it() -> None:
    document = sim.message_send_success(sent(), at=T0)

    assert (document["type"], document["source"]) == ("message.send_success", "/nylas/send")
    assert document["data"]["grant_id"] == "grant-1"
    assert document["data"]["object"]["id"] == "msg-1"
    assert parse_document(document)[0].object_id == "msg-1"


def test_send_failed_has_a_reason_an_error_and_may_have_no_message() -> None:
    document = sim.message_send_failed(
        None, grant_id="grant-1", reason="Mailbox full", status_code=552, at=T0
    )

    data = document["data"]
    assert data["object"] is None
    assert (data["grant_id"], data["reason"]) == ("grant-1", "Mailbox full")
    assert data["error"] == {
        "type": "api.provider_error",
        "message": "Mailbox full",
        "status_code": 552,
    }
    assert parse_document(document)[0].grant_id == "grant-1"


def test_bounce_detected_mirrors_the_documented_shape() -> None:
    document = sim.message_bounce_detected(sent(), bounced_address="alice@customer.example", at=T0)

    data = document["data"]
    obj = data["object"]
    assert (document["type"], document["source"], data["grant_id"]) == (
        "message.bounce_detected",
        "/nylas/send",
        "grant-1",
    )
    assert set(obj) == {
        "bounce_reason",
        "bounce_date",
        "bounced_addresses",
        "type",
        "code",
        "grant_id",
        "origin",
        "message_id",
    }
    assert (obj["bounced_addresses"], obj["code"], obj["type"]) == (
        "alice@customer.example",
        "550",
        "mailbox_unavailable",
    )
    assert email.utils.parsedate_to_datetime(obj["bounce_date"]).timestamp() == T0
    origin = obj["origin"]
    assert origin["to"] == ["alice@customer.example"]
    assert origin["cc"] == ["bob@customer.example"]
    assert origin["from"] == "rep@sellerco.example"
    assert origin["id"] == "msg-1"
    assert email.utils.parsedate_to_datetime(origin["original_send_at"]).timestamp() == T0 - 60
    [parsed] = parse_document(document)
    assert (parsed.grant_id, parsed.object_id) == ("grant-1", "msg-1")


def test_a_message_notification_carries_the_whole_message() -> None:
    message = sent()

    document = sim.message_notification(message, provider="microsoft", at=T0)

    assert document["source"] == "/microsoft/emails/realtime"
    assert document["data"]["object"] == message
    assert document["data"]["object"] is not message


def test_envelope_data_fields_sit_beside_the_object() -> None:
    document = sim.envelope("x.y", {"id": "1"}, source="/s", data_fields={"grant_id": "g"})

    assert document["data"] == {
        "application_id": sim.APPLICATION_ID,
        "grant_id": "g",
        "object": {"id": "1"},
    }


# Hosted auth: codes and answers ----------------------------------------------------------------


def issue(book: auth.CodeBook, *, at: int = T0) -> str:
    return book.issue(
        grant_id="g1",
        client_id="client",
        redirect_uri=CALLBACK,
        scope=("openid",),
        access_type="online",
        at=at,
    )


def test_a_code_is_redeemed_once() -> None:
    book = auth.CodeBook()
    code = issue(book)

    issued = book.redeem(code, client_id="client", redirect_uri=CALLBACK, now=T0)

    assert (issued.grant_id, issued.scope) == ("g1", ("openid",))
    with pytest.raises(auth.AuthError) as caught:
        book.redeem(code, client_id="client", redirect_uri=CALLBACK, now=T0)
    assert (caught.value.status, caught.value.error) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [("client", "https://evil.example/cb"), ("other-client", CALLBACK)],
)
def test_a_code_for_another_redirect_or_client_is_refused_but_not_used_up(
    client_id: str, redirect_uri: str
) -> None:
    book = auth.CodeBook()
    code = issue(book)

    with pytest.raises(auth.AuthError, match=r"redirect_uri|client_id"):
        book.redeem(code, client_id=client_id, redirect_uri=redirect_uri, now=T0)

    assert book.redeem(code, client_id="client", redirect_uri=CALLBACK, now=T0).grant_id == "g1"


def test_a_code_expires_and_a_deleted_grants_codes_go() -> None:
    book = auth.CodeBook()
    old, other = issue(book), issue(book, at=T0 + 1)
    book.forget_grant("g1")
    fresh = issue(book)

    with pytest.raises(auth.AuthError):
        book.redeem(other, client_id="client", redirect_uri=CALLBACK, now=T0 + 1)
    with pytest.raises(auth.AuthError):
        book.redeem(old, client_id="client", redirect_uri=CALLBACK, now=T0)
    late = T0 + auth.CODE_LIFETIME_SECONDS + 1
    with pytest.raises(auth.AuthError):
        book.redeem(fresh, client_id="client", redirect_uri=CALLBACK, now=late)


def test_an_auth_error_has_the_shape_the_sdk_decodes() -> None:
    body = auth.AuthError(400, "invalid_grant", "used").body()

    decoded = NylasOAuthErrorResponse.from_dict(body)

    assert (decoded.error, decoded.error_code, decoded.error_description) == (
        "invalid_grant",
        400,
        "used",
    )


def test_the_token_answer() -> None:
    grant = {"id": "g1", "email": "a@x.example", "provider": "google"}
    online = auth.IssuedCode("c", "g1", "client", CALLBACK, ("openid", "email"), "online", T0)
    offline = auth.IssuedCode("c", "g1", "client", CALLBACK, (), "offline", T0)

    answer = auth.token_response(online, grant)

    assert answer["scope"] == "openid email"
    assert (answer["grant_id"], answer["email"], answer["provider"]) == (
        "g1",
        "a@x.example",
        "google",
    )
    assert (answer["token_type"], answer["expires_in"]) == ("Bearer", 3600)
    assert answer["id_token"].count(".") == 2
    assert "refresh_token" not in answer
    assert "refresh_token" in auth.token_response(offline, grant)


@pytest.mark.parametrize(
    ("uri", "params", "expected"),
    [
        (
            "https://a.example/cb",
            {"code": "c", "state": "s"},
            "https://a.example/cb?code=c&state=s",
        ),
        (
            "https://a.example/cb?x=1",
            {"code": "c", "state": None},
            "https://a.example/cb?x=1&code=c",
        ),
        ("https://a.example/cb", {"state": "a b&c"}, "https://a.example/cb?state=a+b%26c"),
    ],
)
def test_redirects_add_to_the_query(uri: str, params: dict[str, str | None], expected: str) -> None:
    assert auth.redirect_to(uri, params) == expected


def test_display_names_come_from_the_address() -> None:
    assert auth.display_name("ann.lee@x.example") == "Ann Lee"
    assert auth.display_name("bob_o@x.example") == "Bob O"


# The grant lifecycle in FakeNylas --------------------------------------------------------------


def exchange(fake: FakeNylas, code: str, redirect_uri: str = CALLBACK) -> dict[str, Any]:
    return fake.exchange_code(
        code, client_id=fake.client_id, client_secret=fake.api_key, redirect_uri=redirect_uri
    )


def test_consent_makes_a_mailbox_and_queues_grant_created(fake: FakeNylas) -> None:
    code = fake.authorize("Ann.Lee@Sellerco.example", "microsoft", redirect_uri=CALLBACK)

    token = exchange(fake, code)

    grant = fake.grant(token["grant_id"])
    assert grant is not None
    assert (grant["provider"], grant["email"], grant["grant_status"]) == (
        "microsoft",
        "Ann.Lee@Sellerco.example",
        "valid",
    )
    assert grant["scope"] == list(auth.default_scope("microsoft"))
    assert fake.folder_id(grant["id"], "\\Sent") == mb.MICROSOFT_SENT_ID
    assert "Calendar" in {c["name"] for c in fake.calendars(grant["id"])}
    [created] = fake.drain_notifications()
    assert created["type"] == "grant.created"
    assert created["time"] == T0
    assert created["data"]["object"]["grant_id"] == grant["id"]
    assert created["data"]["object"]["name"] == "Ann Lee"


def test_consent_without_a_login_hint_makes_up_an_address(fake: FakeNylas) -> None:
    token = exchange(fake, fake.authorize(redirect_uri=CALLBACK))

    assert token["email"].endswith("@google.example")
    assert token["provider"] == "google"


def test_reconnecting_an_expired_grant_keeps_its_id_and_says_reauthenticated(
    fake: FakeNylas, clock: SettableClock
) -> None:
    first = exchange(fake, fake.authorize("ann@x.example", redirect_uri=CALLBACK))["grant_id"]
    clock.now += 100
    expired = fake.expire_grant(first)
    clock.now += 100
    again = exchange(fake, fake.authorize("ANN@x.example", redirect_uri=CALLBACK))["grant_id"]
    exchange(fake, fake.authorize("ann@x.example", redirect_uri=CALLBACK))

    kinds = [
        (n["type"], n["data"]["object"].get("reauthentication_flag"))
        for n in fake.drain_notifications()
    ]
    assert again == first
    assert kinds == [
        ("grant.created", None),
        ("grant.expired", None),
        ("grant.updated", True),
        ("grant.updated", False),
    ]
    assert expired["data"]["object"]["grant_updated_at"] == T0
    assert expired["time"] == T0 + 100
    grant = fake.grant(first)
    assert grant is not None
    assert (grant["grant_status"], grant["updated_at"]) == ("valid", T0 + 200)


def test_an_expired_grant_is_invalid(fake: FakeNylas) -> None:
    fake.add_mailbox("g1", "google", "rep@x.example")

    fake.expire_grant("g1")

    grant = fake.grant("g1")
    assert grant is not None
    assert grant["grant_status"] == "invalid"


def test_deleting_a_grant_forgets_it_and_its_codes(fake: FakeNylas) -> None:
    code = fake.authorize("ann@x.example", redirect_uri=CALLBACK)
    grant_id = exchange(fake, fake.authorize("ann@x.example", redirect_uri=CALLBACK))["grant_id"]
    fake.drain_notifications()

    assert fake.delete_grant(grant_id) is True
    assert fake.delete_grant(grant_id) is False

    assert fake.grant(grant_id) is None
    with pytest.raises(KeyError):
        fake.calendars(grant_id)
    with pytest.raises(auth.AuthError):
        exchange(fake, code)
    [deleted] = fake.drain_notifications()
    assert deleted["type"] == "grant.deleted"
    assert deleted["data"]["object"]["email"] == "ann@x.example"


def test_the_exchange_checks_the_client(fake: FakeNylas) -> None:
    code = fake.authorize("ann@x.example", redirect_uri=CALLBACK)

    with pytest.raises(auth.AuthError) as secret:
        fake.exchange_code(
            code, client_id=fake.client_id, client_secret="nope", redirect_uri=CALLBACK
        )
    with pytest.raises(auth.AuthError) as client:
        fake.exchange_code(
            code, client_id="other", client_secret=fake.api_key, redirect_uri=CALLBACK
        )

    assert (secret.value.status, secret.value.error) == (401, "invalid_client")
    assert (client.value.status, client.value.error) == (401, "invalid_client")
    assert exchange(fake, code)["email"] == "ann@x.example"


def test_refusals_are_per_address_until_allowed(fake: FakeNylas) -> None:
    fake.refuse_consent("Ann@x.example", "No thanks")

    assert fake.consent_refusal("ann@x.example") == "No thanks"
    assert fake.consent_refusal("bob@x.example") is None
    assert fake.consent_refusal(None) is None
    fake.allow_consent("ANN@x.example")
    assert fake.consent_refusal("ann@x.example") is None


def test_authorize_refuses_what_hosted_auth_would(fake: FakeNylas) -> None:
    with pytest.raises(ValueError, match="provider"):
        fake.authorize("a@x.example", "hotmail", redirect_uri=CALLBACK)
    with pytest.raises(ValueError, match="access_type"):
        fake.authorize("a@x.example", redirect_uri=CALLBACK, access_type="forever")
