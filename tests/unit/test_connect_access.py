"""Through which Nylas application and provider app an organization's rep connects
(``domain.connect_access``), as a table."""

from __future__ import annotations

import pytest

from domain.connect_access import (
    ConnectAccess,
    OwnApplication,
    ProviderAppCredential,
    ProviderRequired,
    connect_access,
)
from domain.errors import DomainError
from domain.organizations import (
    NylasApplication,
    Organization,
    OrgDefaults,
    OrgSecrets,
    ProviderApp,
)


def org(
    apps: dict[str, ProviderApp] | None = None, own: NylasApplication | None = None
) -> Organization:
    return Organization("acme", "Acme", apps or {}, own, OrgDefaults())


GOOGLE = ProviderApp("g-client", "cred-g")
AZURE = ProviderApp("ms-client", None)
SECRETS = OrgSecrets(client_secrets={"google": "g-secret", "microsoft": "ms-secret"})


@pytest.mark.parametrize(
    ("organization", "secrets", "provider", "expected"),
    [
        # No access of its own: the deployment's application and connectors.
        (org(), OrgSecrets(), None, ConnectAccess("acme", None)),
        (org(), OrgSecrets(), "google", ConnectAccess("acme", "google")),
        # Its own provider app, its Credential made: named in the connection.
        (
            org({"google": GOOGLE}),
            SECRETS,
            "google",
            ConnectAccess(
                "acme",
                "google",
                credential=ProviderAppCredential("google", "g-client", "g-secret", "cred-g"),
            ),
        ),
        # One provider app and the rep's provider unknown: that app's provider.
        (
            org({"microsoft": AZURE}),
            SECRETS,
            None,
            ConnectAccess(
                "acme",
                "microsoft",
                credential=ProviderAppCredential("microsoft", "ms-client", "ms-secret", None),
            ),
        ),
        # A provider it has no app for (IMAP): the deployment's connector.
        (org({"google": GOOGLE}), SECRETS, "imap", ConnectAccess("acme", "imap")),
        # Its own Nylas application: its client id, key and region, whatever the provider.
        (
            org(own=NylasApplication("app-acme", "eu")),
            OrgSecrets(api_key="nyk_acme"),
            "google",
            ConnectAccess(
                "acme", "google", application=OwnApplication("app-acme", "nyk_acme", "eu")
            ),
        ),
    ],
)
def test_how_a_rep_connects(
    organization: Organization, secrets: OrgSecrets, provider: str | None, expected: ConnectAccess
) -> None:
    assert connect_access(organization, secrets, provider) == expected


def test_a_credential_not_made_yet_is_made_first() -> None:
    access = connect_access(org({"microsoft": AZURE}), SECRETS, "microsoft")
    assert (access.needs_credential, access.credential_id) == (True, None)
    made = connect_access(org({"google": GOOGLE}), SECRETS, "google")
    assert (made.needs_credential, made.credential_id) == (False, "cred-g")


def test_several_provider_apps_and_no_provider_named_is_refused() -> None:
    with pytest.raises(ProviderRequired, match="google, microsoft"):
        connect_access(org({"google": GOOGLE, "microsoft": AZURE}), SECRETS, None)


def test_an_own_application_without_its_key_is_refused_not_swapped_for_the_deployments() -> None:
    with pytest.raises(DomainError) as refused:
        connect_access(org(own=NylasApplication("app-acme", "us")), OrgSecrets(), None)
    assert refused.value.reason == "api_key_missing"
