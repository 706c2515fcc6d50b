"""Through which Nylas application, and which provider app, an organization's rep connects.

A rep signs in through hosted OAuth. An organization with a Nylas application of its own
connects its reps through that application (its client id, API key and region). One with
provider apps of its own (its Google Cloud or Azure application) connects them through the
deployment's application, naming the Credential its app is registered as under the
deployment's connector for that provider, so the consent screen is the customer's app; the
Credential is made at the first connection that needs it. Any other connects through the
deployment's application and its connectors' own apps.

When an organization has provider apps for several providers and the rep's provider is not
known, the provider must be said: choosing for the rep would send it through an app the
customer did not mean. A provider the organization has no app for (IMAP, say) connects
through the deployment's connector.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import DomainError
from domain.organizations import Organization, OrgSecrets


class ProviderRequired(DomainError):
    """The organization has provider apps for several providers and none was named."""

    def __init__(self, providers: list[str]) -> None:
        super().__init__(
            "provider_required",
            f"the organization connects through its own apps for {', '.join(providers)}: "
            "give the provider",
        )


@dataclass(frozen=True, slots=True)
class OwnApplication:
    """An organization's own Nylas application, as hosted OAuth uses it."""

    client_id: str
    api_key: str
    region: str


@dataclass(frozen=True, slots=True)
class ProviderAppCredential:
    """A customer's provider app as a Credential: its id once made, else what makes it."""

    provider: str
    client_id: str
    client_secret: str
    credential_id: str | None


@dataclass(frozen=True, slots=True)
class ConnectAccess:
    """How one connection of an organization's rep goes through Nylas."""

    org_id: str
    provider: str | None
    application: OwnApplication | None = None  # None: the deployment's application
    credential: ProviderAppCredential | None = None

    @property
    def credential_id(self) -> str | None:
        return self.credential.credential_id if self.credential is not None else None

    def with_credential(self, credential_id: str) -> ConnectAccess:
        """The same access once its provider app's Credential is made."""
        assert self.credential is not None
        made = ProviderAppCredential(
            self.credential.provider,
            self.credential.client_id,
            self.credential.client_secret,
            credential_id,
        )
        return ConnectAccess(self.org_id, self.provider, self.application, made)

    @property
    def needs_credential(self) -> bool:
        """Whether the provider app's Credential must be made before the connection."""
        return self.credential is not None and self.credential.credential_id is None


def application_of(org: Organization, secrets: OrgSecrets) -> OwnApplication | None:
    """The organization's own Nylas application (None: the deployment's), which exchanges
    its connections' codes and deletes its grants.

    Raises:
        DomainError: it has an application of its own whose API key is not stored.
    """
    own = org.nylas_application
    if own is None:
        return None
    if secrets.api_key is None:  # refused when stored: only a damaged row lacks it
        raise DomainError("api_key_missing", "the organization's Nylas API key is not set")
    return OwnApplication(own.client_id, secrets.api_key, own.region)


def connect_access(org: Organization, secrets: OrgSecrets, provider: str | None) -> ConnectAccess:
    """How ``org``'s rep connects a mailbox of ``provider`` (None: unknown, the user picks).

    Raises:
        ProviderRequired: the organization has apps for several providers and none is named.
        DomainError: it has an application of its own whose API key is not stored.
    """
    application = application_of(org, secrets)
    if application is not None:
        return ConnectAccess(org.org_id, provider, application=application)
    apps = sorted(org.provider_apps)
    if provider is None and len(apps) > 1:
        raise ProviderRequired(apps)
    chosen = provider if provider is not None else (apps[0] if apps else None)
    app = org.provider_apps.get(chosen) if chosen is not None else None
    secret = secrets.client_secrets.get(chosen) if chosen is not None else None
    if app is None or secret is None or chosen is None:
        return ConnectAccess(org.org_id, chosen)
    credential = ProviderAppCredential(chosen, app.client_id, secret, app.credential_id)
    return ConnectAccess(org.org_id, chosen, credential=credential)
