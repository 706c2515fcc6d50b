"""Several Nylas applications in one fake Nylas, without HTTP: keys, grant ownership, hosted
auth per application, connector credentials and per-application webhook secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator import hosted_auth as auth
from simulator.applications import Applications, notification_grant
from simulator.credentials import MAX_NAME_CHARS, CredentialError, credential_fields
from simulator.mailbox import FakeNylas
from simulator.notification_push import WebhookTarget, signing_secret
from simulator.notifications import APPLICATION_ID
from tests.support.fake_api import SettableClock

T0 = 1_790_000_000
CALLBACK = "https://crm.example/connect/callback"
B_CLIENT = "org-b-client"
B_KEY = "org-b-api-key"
B_HOOK_SECRET = "org-b-webhook-secret"
GOOGLE_APP = {"client_id": "1234-org-b.apps.googleusercontent.com", "client_secret": "GOCSPX-b"}


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def fake(clock: SettableClock) -> FakeNylas:
    fake = FakeNylas(clock=clock)
    fake.add_application(B_CLIENT, B_KEY, webhook_secret=B_HOOK_SECRET)
    return fake


def connector(name: str = "Org B Google app", **data: Any) -> dict[str, Any]:
    return {
        "name": name,
        "credential_type": "connector",
        "credential_data": {**GOOGLE_APP, **data},
    }


def exchange(fake: FakeNylas, code: str, client_id: str, secret: str) -> dict[str, Any]:
    return fake.exchange_code(
        code, client_id=client_id, client_secret=secret, redirect_uri=CALLBACK
    )


# Applications ------------------------------------------------------------------------------


def test_the_default_is_one_application_made_of_the_constructor_arguments() -> None:
    fake = FakeNylas(api_key="k", client_id="c")

    [only] = fake.applications.all()

    assert (only.client_id, only.api_key, only.webhook_secret) == ("c", "k", None)
    assert fake.applications.first is only
    fake.add_grant("g1", "google", "a@x.example")
    assert fake.applications.owner("g1") == "c"


@pytest.mark.parametrize(
    ("client_id", "api_key", "problem"),
    [
        ("fake-client-id", "another-key", "client_id"),
        ("new-client", "fake-nylas-api-key", "api_key"),
        ("", "k2", "client_id"),
        ("c2", "", "api_key"),
    ],
)
def test_client_ids_and_keys_are_unique_and_non_empty(
    client_id: str, api_key: str, problem: str
) -> None:
    fake = FakeNylas()

    with pytest.raises(ValueError, match=problem):
        fake.add_application(client_id, api_key)

    assert len(fake.applications.all()) == 1


def test_a_bearer_key_says_which_application_calls(fake: FakeNylas) -> None:
    apps = fake.applications

    first = apps.authenticate(f"Bearer {fake.api_key}")
    second = apps.authenticate(f"Bearer {B_KEY}".encode())

    assert first is not None
    assert first.client_id == fake.client_id
    assert second is not None
    assert second.client_id == B_CLIENT
    for wrong in ("", B_KEY, f"Bearer {B_KEY}x", f"bearer {B_KEY}", "Bearer \xe9\xff"):
        assert apps.authenticate(wrong) is None
    assert apps.authenticate(b"Bearer \xff\xfe") is None


def test_secrets_stay_out_of_reprs(fake: FakeNylas) -> None:
    [application] = [a for a in fake.applications.all() if a.client_id == B_CLIENT]
    fake.applications.create_credential(B_CLIENT, "google", connector())

    assert B_KEY not in repr(application)
    assert B_HOOK_SECRET not in repr(application)
    assert "GOCSPX" not in repr(fake.applications._credentials)


def test_the_token_exchange_checks_the_secret_of_the_named_application(fake: FakeNylas) -> None:
    apps = fake.applications

    assert apps.check_client(B_CLIENT, B_KEY).client_id == B_CLIENT
    for client_id, secret in [
        (B_CLIENT, fake.api_key),  # the other application's key
        (B_CLIENT, "nope"),
        ("unknown", B_KEY),
        (B_CLIENT, "\ud800"),  # JSON can carry a lone surrogate: refused, not a crash
    ]:
        with pytest.raises(auth.AuthError) as refused:
            apps.check_client(client_id, secret)
        assert (refused.value.status, refused.value.error) == (401, "invalid_client")


# Grants per application ------------------------------------------------------------------


def test_grants_belong_to_the_application_named_or_the_first(fake: FakeNylas) -> None:
    fake.add_mailbox("ga", "google", "ann@x.example")
    fake.add_mailbox("gb", "microsoft", "ben@x.example", application=B_CLIENT)

    assert fake.applications.owner("ga") == fake.client_id
    assert fake.applications.owner("gb") == B_CLIENT
    assert fake.applications.owns(B_CLIENT, "gb")
    assert not fake.applications.owns(B_CLIENT, "ga")
    assert not fake.applications.owns(None, "ga")
    with pytest.raises(ValueError, match="client_id"):
        fake.add_grant("gx", "google", "x@x.example", application="nobody")
    assert fake.grant("gx") is None


def test_hosted_auth_keeps_one_grant_per_address_per_application(fake: FakeNylas) -> None:
    code_a = fake.authorize("ann@x.example", redirect_uri=CALLBACK)
    code_b = fake.authorize("ann@x.example", redirect_uri=CALLBACK, client_id=B_CLIENT)
    again_b = fake.authorize("ANN@x.example", redirect_uri=CALLBACK, client_id=B_CLIENT)

    grant_a = exchange(fake, code_a, fake.client_id, fake.api_key)["grant_id"]
    grant_b = exchange(fake, code_b, B_CLIENT, B_KEY)["grant_id"]

    assert grant_a != grant_b
    assert exchange(fake, again_b, B_CLIENT, B_KEY)["grant_id"] == grant_b
    assert fake.applications.owner(grant_a) == fake.client_id
    assert fake.applications.owner(grant_b) == B_CLIENT
    kinds = [n["type"] for n in fake.drain_notifications()]
    assert kinds == ["grant.created", "grant.created", "grant.updated"]


def test_a_code_is_redeemed_only_by_its_application(fake: FakeNylas) -> None:
    code = fake.authorize("ann@x.example", redirect_uri=CALLBACK, client_id=B_CLIENT)

    with pytest.raises(auth.AuthError) as wrong_secret:
        exchange(fake, code, B_CLIENT, fake.api_key)
    with pytest.raises(auth.AuthError) as other_client:
        exchange(fake, code, fake.client_id, fake.api_key)

    assert wrong_secret.value.error == "invalid_client"
    assert (other_client.value.status, other_client.value.error) == (400, "invalid_grant")
    assert exchange(fake, code, B_CLIENT, B_KEY)["email"] == "ann@x.example"


def test_authorize_refuses_an_unknown_application(fake: FakeNylas) -> None:
    with pytest.raises(ValueError, match="client_id"):
        fake.authorize("a@x.example", redirect_uri=CALLBACK, client_id="nobody")

    assert fake.grants() == []
    assert fake.drain_notifications() == []


# Connector credentials ---------------------------------------------------------------------


def test_a_credential_answers_its_public_fields_and_never_its_data(
    fake: FakeNylas, clock: SettableClock
) -> None:
    created = fake.applications.create_credential(B_CLIENT, "google", connector())

    assert set(created) == {
        "id",
        "name",
        "credential_type",
        "hashed_data",
        "created_at",
        "updated_at",
    }
    assert (created["name"], created["credential_type"]) == ("Org B Google app", "connector")
    assert created["created_at"] == created["updated_at"] == T0
    shown = json.dumps(created)
    assert GOOGLE_APP["client_secret"] not in shown
    assert GOOGLE_APP["client_id"] not in shown
    assert fake.applications.credential(B_CLIENT, "google", created["id"]) == created


def test_the_same_parameters_give_the_same_credential_and_names_are_unique(
    fake: FakeNylas,
) -> None:
    apps = fake.applications
    first = apps.create_credential(B_CLIENT, "google", connector())

    again = apps.create_credential(B_CLIENT, "google", connector())
    with pytest.raises(CredentialError) as taken:
        apps.create_credential(B_CLIENT, "google", connector(client_secret="other"))
    same_name_elsewhere = apps.create_credential(B_CLIENT, "microsoft", connector())
    other_app = apps.create_credential(fake.client_id, "google", connector())

    assert again == first
    assert (taken.value.status, taken.value.error_type) == (400, "invalid_request_error")
    assert len({first["id"], same_name_elsewhere["id"], other_app["id"]}) == 3
    assert [c["id"] for c in apps.credentials(B_CLIENT, "google")] == [first["id"]]


def test_credentials_are_scoped_to_their_application_and_connector(fake: FakeNylas) -> None:
    apps = fake.applications
    google = apps.create_credential(B_CLIENT, "google", connector())

    assert apps.credentials(fake.client_id, "google") == []
    assert apps.credentials(B_CLIENT, "microsoft") == []
    for client_id, provider in [
        (fake.client_id, "google"),
        (B_CLIENT, "microsoft"),
        (None, "google"),
    ]:
        with pytest.raises(CredentialError) as missing:
            apps.credential(client_id, provider, google["id"])
        assert (missing.value.status, missing.value.error_type) == (404, "not_found_error")
        with pytest.raises(CredentialError):
            apps.delete_credential(client_id, provider, google["id"])
    assert apps.credential(B_CLIENT, "google", google["id"]) == google


def test_a_deleted_credential_is_gone(fake: FakeNylas) -> None:
    apps = fake.applications
    created = apps.create_credential(B_CLIENT, "google", connector())

    apps.delete_credential(B_CLIENT, "google", created["id"])

    with pytest.raises(CredentialError):
        apps.credential(B_CLIENT, "google", created["id"])
    with pytest.raises(CredentialError):
        apps.delete_credential(B_CLIENT, "google", created["id"])
    assert apps.credentials(B_CLIENT, "google") == []


def test_listing_sorts_and_pages(fake: FakeNylas, clock: SettableClock) -> None:
    apps = fake.applications
    for name in ("b", "c", "a"):
        apps.create_credential(B_CLIENT, "google", connector(name, client_secret=name))
        clock.now += 10

    def names(**options: Any) -> list[str]:
        return [c["name"] for c in apps.credentials(B_CLIENT, "google", **options)]

    assert names() == ["b", "c", "a"]
    assert names(sort_by="name") == ["a", "b", "c"]
    assert names(sort_by="created_at", order_by="desc") == ["a", "c", "b"]
    assert names(limit=1, offset=1) == ["c"]
    assert names(offset=5) == []
    for options in ({"sort_by": "credential_data"}, {"order_by": "sideways"}):
        with pytest.raises(CredentialError):
            names(**options)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": "n", "credential_type": "connector"}, "credential_data"),
        ({**connector(), "credential_data": "secret"}, "credential_data"),
        ({**connector(), "credential_data": {"client_id": "x"}}, "client_secret"),
        ({**connector(), "credential_data": {"client_id": "x", "client_secret": 7}}, "secret"),
        ({**connector(), "credential_data": {**GOOGLE_APP, "nested": {"a": 1}}}, "scalar"),
        ({**connector(), "credential_type": "serviceaccount"}, "not simulated"),
        ({**connector(), "credential_type": "oauth"}, "credential_type"),
        ({**connector(), "credential_type": None}, "credential_type"),
        ({**connector(), "name": ""}, "name"),
        ({**connector(), "name": "   "}, "name"),
        ({**connector(), "name": 42}, "name"),
        ({**connector(), "name": "x" * 100_000}, str(MAX_NAME_CHARS)),
        ({**connector(), "name": "\ud800"}, "Unicode"),
        (
            {**connector(), "credential_data": {**GOOGLE_APP, "client_secret": "s" * 5000}},
            "at most",
        ),
    ],
)
def test_malformed_credentials_are_400_invalid_request_errors(
    fake: FakeNylas, body: dict[str, Any], problem: str
) -> None:
    with pytest.raises(CredentialError) as refused:
        fake.applications.create_credential(B_CLIENT, "google", body)

    assert (refused.value.status, refused.value.error_type) == (400, "invalid_request_error")
    assert problem in refused.value.message
    assert len(refused.value.message) < 300
    assert fake.applications.credentials(B_CLIENT, "google") == []


@pytest.mark.parametrize("provider", ["imap", "icloud", "aol", "", "google/../x", "G" * 10_000])
def test_only_google_and_microsoft_connectors_hold_credentials(
    fake: FakeNylas, provider: str
) -> None:
    with pytest.raises(CredentialError) as refused:
        fake.applications.create_credential(B_CLIENT, provider, connector())
    with pytest.raises(CredentialError) as listed:
        fake.applications.credentials(B_CLIENT, provider)

    assert refused.value.status == listed.value.status == 400
    assert len(refused.value.message) < 300


def test_credential_fields_keep_extra_provider_settings() -> None:
    name, kind, data = credential_fields(connector(tenant="common"))

    assert (name, kind) == ("Org B Google app", "connector")
    assert data == {**GOOGLE_APP, "tenant": "common"}


def test_hashed_data_depends_on_the_data_and_not_only_on_it() -> None:
    one = Applications("c", "k", clock=lambda: T0, salt=b"1" * 32)
    two = Applications("c", "k", clock=lambda: T0, salt=b"2" * 32)

    first = one.create_credential("c", "google", connector())["hashed_data"]
    changed = one.create_credential("c", "google", connector("n2", client_secret="x"))
    elsewhere = two.create_credential("c", "google", connector())["hashed_data"]

    assert first != changed["hashed_data"]
    assert first != elsewhere  # keyed per process: the hash is no oracle for the secret


# Hosted auth through a credential ----------------------------------------------------------


def test_a_consent_through_a_credential_is_recorded_on_the_code_and_the_grant(
    fake: FakeNylas,
) -> None:
    credential = fake.applications.create_credential(B_CLIENT, "google", connector())

    code = fake.authorize(
        "ann@x.example", redirect_uri=CALLBACK, client_id=B_CLIENT, credential_id=credential["id"]
    )

    issued = fake.issued_code(code)
    assert issued is not None
    assert (issued.client_id, issued.credential_id) == (B_CLIENT, credential["id"])
    grant_id = exchange(fake, code, B_CLIENT, B_KEY)["grant_id"]
    assert fake.issued_code(code) is None  # used up
    assert fake.credential_of_grant(grant_id) == credential["id"]
    grant = fake.grant(grant_id)
    assert grant is not None
    assert grant["credential_id"] == credential["id"]


def test_reconnecting_without_the_credential_goes_back_to_the_default_app(
    fake: FakeNylas,
) -> None:
    credential = fake.applications.create_credential(B_CLIENT, "google", connector())
    fake.authorize(
        "ann@x.example", redirect_uri=CALLBACK, client_id=B_CLIENT, credential_id=credential["id"]
    )

    code = fake.authorize("ann@x.example", redirect_uri=CALLBACK, client_id=B_CLIENT)

    grant_id = exchange(fake, code, B_CLIENT, B_KEY)["grant_id"]
    assert fake.credential_of_grant(grant_id) is None
    assert "credential_id" not in (fake.grant(grant_id) or {})
    with pytest.raises(KeyError):
        fake.credential_of_grant("no-such-grant")


def test_grants_without_a_credential_have_none(fake: FakeNylas) -> None:
    fake.add_mailbox("g1", "google", "a@x.example")

    assert fake.credential_of_grant("g1") is None
    assert "credential_id" not in (fake.grant("g1") or {})


@pytest.mark.parametrize(
    ("client_id", "provider", "owner", "owner_provider"),
    [
        (B_CLIENT, "google", "fake-client-id", "google"),  # another application's
        (B_CLIENT, "google", B_CLIENT, "microsoft"),  # another connector's
    ],
)
def test_authorize_refuses_a_credential_it_cannot_use(
    fake: FakeNylas, client_id: str, provider: str, owner: str, owner_provider: str
) -> None:
    credential = fake.applications.create_credential(owner, owner_provider, connector())

    with pytest.raises(ValueError, match="credential_id"):
        fake.authorize(
            "a@x.example",
            provider,
            redirect_uri=CALLBACK,
            client_id=client_id,
            credential_id=credential["id"],
        )
    with pytest.raises(ValueError, match="credential_id"):
        fake.authorize(
            "a@x.example", redirect_uri=CALLBACK, client_id=client_id, credential_id="../x"
        )

    assert fake.grants() == []


# Webhook secrets -------------------------------------------------------------------------


def test_notifications_are_signed_with_their_grants_application_secret(fake: FakeNylas) -> None:
    target = WebhookTarget("http://crm.invalid/webhooks/nylas", "deployment-secret")
    fake.add_mailbox("ga", "google", "ann@x.example")
    fake.add_mailbox("gb", "google", "ben@x.example", application=B_CLIENT)
    fake.create_folder("ga", "A")
    fake.create_folder("gb", "B")
    fake.delete_grant("gb")  # grant.deleted is still the application's

    notifications = fake.drain_notifications()

    secrets_used = [(notification_grant(n), signing_secret(fake, target, n)) for n in notifications]
    assert secrets_used == [
        ("ga", "deployment-secret"),
        ("gb", B_HOOK_SECRET),
        ("gb", B_HOOK_SECRET),
    ]
    assert signing_secret(fake, target, {"data": "not an object"}) == "deployment-secret"


def test_an_added_applications_notifications_name_it_as_their_application(
    fake: FakeNylas,
) -> None:
    fake.add_mailbox("ga", "google", "ann@x.example")
    code = fake.authorize("ben@x.example", redirect_uri=CALLBACK, client_id=B_CLIENT)
    grant_b = exchange(fake, code, B_CLIENT, B_KEY)["grant_id"]
    fake.create_folder("ga", "A")
    fake.create_folder(grant_b, "B")
    fake.api_send_message(grant_b, {"to": [{"email": "cy@customer.example"}]})

    stamped = [
        (notification_grant(n), n["data"]["application_id"]) for n in fake.drain_notifications()
    ]

    assert stamped == [
        (grant_b, B_CLIENT),  # grant.created
        ("ga", APPLICATION_ID),  # the first application's: as before
        (grant_b, B_CLIENT),  # folder.created
        (grant_b, B_CLIENT),  # message.created
    ]
