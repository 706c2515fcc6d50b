"""crmsync's settings: read once from the environment into one frozen, typed object.

With ``REDIS_URL`` unset, crmsync runs embedded (SQLite file, in-process broker) for trying
and demos; there the webhook secret and API token fall back to published development values.
Anywhere else a missing required setting stops start-up with a message naming it, and so does
a published development value: the README prints them, so in Redis mode (a deployment other
machines reach) they would let anyone call the API or sign notifications. Secrets are wrapped
so that neither a log line nor a repr ever shows them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import Secret

from domain.errors import DomainError
from domain.mailbox_binding import parse_domain
from domain.organizations import API_URIS
from domain.outbound_addresses import LOOPBACK_NETWORKS, IPNetwork, parse_networks
from domain.return_urls import origin_of, parse_origin
from domain.text import whole_number
from storage.sealing import check_key

DEV_WEBHOOK_SECRET = "crmsync-dev-webhook-secret"  # noqa: S105  (published for development)
DEV_API_TOKEN = "crmsync-dev-token"  # noqa: S105  (published for development)
# base64 of "crmsync published development ky": seals secrets in the embedded mode only.
DEV_SECRET_KEY = "Y3Jtc3luYyBwdWJsaXNoZWQgZGV2ZWxvcG1lbnQga3k="  # noqa: S105
DEFAULT_DATABASE_URL = "sqlite:///./crmsync.db"
DEFAULT_NYLAS_API_URI = "https://api.us.nylas.com"


class SettingsError(Exception):
    """Raised when the environment does not describe a usable configuration."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    """Everything crmsync reads from its environment. Build it with :meth:`from_environ`."""

    # URLs may carry passwords: kept out of the repr like every other secret.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    redis_namespace: str = "crmsync"
    nylas_api_key: Secret | None = None
    nylas_api_uri: str = DEFAULT_NYLAS_API_URI
    nylas_webhook_secrets: tuple[Secret, ...] = field(default=(Secret(DEV_WEBHOOK_SECRET),))
    api_tokens: tuple[Secret, ...] = field(default=(Secret(DEV_API_TOKEN),))
    max_body_bytes: int = 4 * 1024 * 1024
    # How long the ingress holds a request whose signature failed before answering 401: one
    # client looping unsigned bodies gets its answers at this pace (Nylas's never fail).
    refusal_delay_ms: int = 1000
    # How often each web process reads the organizations' webhook secrets again: a new or
    # rotated secret verifies notifications within this time.
    org_keys_refresh_ms: int = 5000
    dedupe_ttl_seconds: int = 3 * 24 * 3600
    host: str = "127.0.0.1"
    port: int = 8000
    worker_threads: int = 4
    max_retries: int = 8
    dead_letter_ttl_days: int = 14
    # A worker process silent this long is presumed dead; its unfinished messages go back on
    # their queues at the next beat of a live worker's liveness timer (RELIABILITY.md).
    worker_heartbeat_timeout_ms: int = 15_000
    broker_maintenance_chance: int = 1_000
    change_retention_days: int = 30
    subscription_disable_after_days: int = 5
    raw_notification_retention_days: int = 30
    # How long a message whose folders are not yet known waits for them before one more
    # refresh of its grant's folders decides it (N2).
    folder_park_seconds: int = 300
    log_level: str = "INFO"
    # Connecting mailboxes (hosted OAuth): the Nylas application's client id, the URL where
    # this service is reached from browsers (the OAuth callback is under it), the secrets
    # that sign the OAuth state (derived from the first API token when unset), how far back
    # a new connection's sync reaches, and how long a healthy mailbox may stay silent.
    nylas_client_id: str | None = None
    public_url: str | None = None
    oauth_state_secrets: tuple[Secret, ...] = field(default=(), repr=False)
    sync_lookback_days: int = 30
    silence_after_hours: int = 24
    # Where the OAuth callback may send the browser back (origins, normalised; none: no
    # return_url is accepted), and the domains whose mailboxes a rep of the same domains may
    # connect besides the rep's own address (none: the rep's own address only).
    return_url_origins: tuple[str, ...] = ()
    connect_allowed_domains: tuple[str, ...] = ()
    # Calls to Nylas per grant (A3): per second, and at once (Microsoft serves 4 per mailbox).
    nylas_grant_calls_per_second: int = 20
    nylas_grant_concurrent_calls: int = 4
    # Outbound webhooks (X1): the networks beyond public addresses that deliveries may reach
    # (an on-premises CRM; the embedded mode allows loopback unless told otherwise), how long
    # one attempt may take in all, and the threads `crmsync run` gives deliveries, apart from
    # the ones handling notifications (the Procfile gives them a process type of their own).
    webhook_allowed_networks: tuple[IPNetwork, ...] = ()
    webhook_timeout_seconds: int = 15
    delivery_threads: int = 2
    # What one API client may hold (api.limits): subscriptions in all, and per token live
    # streams and long-polls open at once in each web process.
    max_subscriptions: int = 50
    max_streams_per_token: int = 10
    max_long_polls_per_token: int = 10
    # The keys organizations' secrets are sealed with (storage.sealing): the first seals,
    # every one opens, so a key rotates by putting the new one first. None: no secrets are
    # accepted. The embedded mode falls back to a published development key.
    secret_keys: tuple[Secret, ...] = field(default=(Secret(DEV_SECRET_KEY),), repr=False)
    # The threads each worker shares between organizations when several are active, of
    # which one ahead in worker time may hold its part (workers.org_shares): two per CPU
    # core, as what they compete for is mostly the CPU. One alone, or not ahead, has every
    # thread.
    org_share_threads: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    # Where each Nylas region's API answers, for organizations with an application of their
    # own (their region says which): Nylas's own addresses, or a proxy's or the simulator's.
    nylas_region_uris: Mapping[str, str] = field(default_factory=lambda: dict(API_URIS))

    @property
    def embedded(self) -> bool:
        """True when crmsync runs on its in-process broker (no REDIS_URL): not durable."""
        return self.redis_url is None

    @property
    def uses_dev_secrets(self) -> bool:
        """True when the published development webhook secret or API token is in use."""
        return any(str(s) == DEV_WEBHOOK_SECRET for s in self.nylas_webhook_secrets) or any(
            str(t) == DEV_API_TOKEN for t in self.api_tokens
        )

    def api_token_bytes(self) -> tuple[bytes, ...]:
        """The CRM API tokens as the bearer check compares them."""
        return tuple(str(t).encode() for t in self.api_tokens)

    def state_secret_bytes(self) -> tuple[bytes, ...]:
        """The secrets that sign hosted OAuth ``state``: the configured ones, else one derived
        from the first API token (so a deployment needs no extra secret to connect reps)."""
        if self.oauth_state_secrets:
            return tuple(str(s).encode() for s in self.oauth_state_secrets)
        token = self.api_token_bytes()[0]
        return (hmac.new(token, b"crmsync oauth state", hashlib.sha256).digest(),)

    def webhook_secret_bytes(self) -> tuple[bytes, ...]:
        """The webhook secrets as the bytes the signature check keys with."""
        return tuple(str(s).encode() for s in self.nylas_webhook_secrets)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read settings from ``environ``; every problem is reported at once.

        Raises:
            SettingsError: a required setting is missing or a value is not valid.
        """
        reader = _Reader(environ)
        redis_url = reader.text("REDIS_URL")
        embedded = redis_url is None

        def secrets(name: str, dev_value: str) -> tuple[Secret, ...]:
            values = reader.csv(name)
            if values and dev_value in values and not embedded:
                reader.problems.append(
                    f"{name} holds the published development value, which anyone can read "
                    "in the README; set a secret of your own when REDIS_URL is set"
                )
            if values:
                return tuple(Secret(v) for v in values)
            if embedded:
                return (Secret(dev_value),)
            reader.problems.append(f"{name} is required when REDIS_URL is set")
            return ()

        api_key = reader.text("NYLAS_API_KEY")
        if api_key is None and not embedded:
            reader.problems.append("NYLAS_API_KEY is required when REDIS_URL is set")
        settings = cls(
            database_url=reader.text("DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=redis_url,
            redis_namespace=reader.text("CRMSYNC_REDIS_NAMESPACE") or "crmsync",
            nylas_api_key=Secret(api_key) if api_key else None,
            nylas_api_uri=(reader.text("NYLAS_API_URI") or DEFAULT_NYLAS_API_URI).rstrip("/"),
            nylas_webhook_secrets=secrets("NYLAS_WEBHOOK_SECRETS", DEV_WEBHOOK_SECRET),
            api_tokens=secrets("CRMSYNC_API_TOKENS", DEV_API_TOKEN),
            max_body_bytes=reader.positive_int("CRMSYNC_MAX_BODY_BYTES", 4 * 1024 * 1024),
            refusal_delay_ms=reader.whole_number("CRMSYNC_REFUSAL_DELAY_MS", 1000),
            org_keys_refresh_ms=reader.positive_int("CRMSYNC_ORG_KEYS_REFRESH_MS", 5000),
            dedupe_ttl_seconds=reader.positive_int("CRMSYNC_DEDUPE_TTL_SECONDS", 3 * 24 * 3600),
            host=reader.text("CRMSYNC_HOST") or "127.0.0.1",
            port=reader.positive_int("CRMSYNC_PORT", 8000),
            worker_threads=reader.positive_int("CRMSYNC_WORKER_THREADS", 4),
            max_retries=reader.positive_int("CRMSYNC_MAX_RETRIES", 8),
            dead_letter_ttl_days=reader.positive_int("CRMSYNC_DEAD_LETTER_TTL_DAYS", 14),
            worker_heartbeat_timeout_ms=reader.positive_int(
                "CRMSYNC_WORKER_HEARTBEAT_TIMEOUT_MS", 15_000
            ),
            broker_maintenance_chance=reader.positive_int(
                "CRMSYNC_BROKER_MAINTENANCE_CHANCE", 1_000
            ),
            change_retention_days=reader.positive_int("CRMSYNC_CHANGE_RETENTION_DAYS", 30),
            subscription_disable_after_days=reader.positive_int(
                "CRMSYNC_SUBSCRIPTION_DISABLE_AFTER_DAYS", 5
            ),
            raw_notification_retention_days=reader.positive_int(
                "CRMSYNC_RAW_NOTIFICATION_RETENTION_DAYS", 30
            ),
            folder_park_seconds=reader.positive_int("CRMSYNC_FOLDER_PARK_SECONDS", 300),
            log_level=(reader.text("CRMSYNC_LOG_LEVEL") or "INFO").upper(),
            nylas_client_id=reader.text("NYLAS_CLIENT_ID"),
            public_url=reader.public_url("CRMSYNC_PUBLIC_URL"),
            oauth_state_secrets=tuple(Secret(v) for v in reader.csv("CRMSYNC_OAUTH_STATE_SECRETS")),
            return_url_origins=reader.parsed_csv("CRMSYNC_RETURN_URL_ORIGINS", parse_origin),
            connect_allowed_domains=reader.parsed_csv(
                "CRMSYNC_CONNECT_ALLOWED_DOMAINS", parse_domain
            ),
            sync_lookback_days=reader.positive_int("CRMSYNC_SYNC_LOOKBACK_DAYS", 30),
            silence_after_hours=reader.positive_int("CRMSYNC_SILENCE_AFTER_HOURS", 24),
            nylas_grant_calls_per_second=reader.positive_int(
                "CRMSYNC_NYLAS_GRANT_CALLS_PER_SECOND", 20
            ),
            nylas_grant_concurrent_calls=reader.positive_int(
                "CRMSYNC_NYLAS_GRANT_CONCURRENT_CALLS", 4
            ),
            webhook_allowed_networks=reader.networks(
                "CRMSYNC_WEBHOOK_ALLOWED_NETWORKS", LOOPBACK_NETWORKS if embedded else ()
            ),
            webhook_timeout_seconds=reader.positive_int("CRMSYNC_WEBHOOK_TIMEOUT_SECONDS", 15),
            delivery_threads=reader.positive_int("CRMSYNC_DELIVERY_THREADS", 2),
            max_subscriptions=reader.positive_int("CRMSYNC_MAX_SUBSCRIPTIONS", 50),
            max_streams_per_token=reader.positive_int("CRMSYNC_MAX_STREAMS_PER_TOKEN", 10),
            max_long_polls_per_token=reader.positive_int("CRMSYNC_MAX_LONG_POLLS_PER_TOKEN", 10),
            secret_keys=reader.secret_keys("CRMSYNC_SECRET_KEYS", embedded),
            nylas_region_uris=reader.region_uris("CRMSYNC_NYLAS_REGION_URIS"),
            org_share_threads=reader.positive_int(
                "CRMSYNC_ORG_SHARE_THREADS", 2 * (os.cpu_count() or 1)
            ),
        )
        if reader.problems:
            raise SettingsError(reader.problems)
        return settings


def worker_settings(environ: Mapping[str, str]) -> Settings:
    """The settings of a separate worker process (``crmsync worker``), which needs Redis.

    Raises:
        SettingsError: the environment is not a usable configuration, or names no Redis.
    """
    settings = Settings.from_environ(environ)
    if settings.embedded:
        raise SettingsError(
            ["REDIS_URL is required for separate worker processes; `crmsync run` runs embedded"]
        )
    return settings


class _Reader:
    """Reads and checks environment values, collecting problems instead of stopping at one."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def csv(self, name: str) -> list[str]:
        return [part.strip() for part in (self.text(name) or "").split(",") if part.strip()]

    def networks(self, name: str, default: tuple[IPNetwork, ...]) -> tuple[IPNetwork, ...]:
        """Comma-separated networks in CIDR form; ``none`` for none at all; unset: ``default``."""
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() == "none":
            return ()
        try:
            return parse_networks(self.csv(name))
        except ValueError as error:
            self.problems.append(f"{name}: {error}")
            return default

    def public_url(self, name: str) -> str | None:
        """An absolute http(s) base URL (a path prefix allowed), without its trailing slash:
        the callback and every redirect crmsync builds start with it, never with a
        request's ``Host`` header."""
        raw = (self.text(name) or "").rstrip("/")
        if not raw:
            return None
        parts = urlsplit(raw)
        if origin_of(raw) is None or parts.query or parts.fragment:
            self.problems.append(f"{name} must be an http(s) URL such as https://sync.example.com")
            return None
        return raw

    def parsed_csv(self, name: str, parse: Callable[[str], str]) -> tuple[str, ...]:
        """The comma-separated values of ``name``, each through ``parse`` (which raises a
        DomainError for a bad one), without duplicates, in the order given."""
        values: list[str] = []
        for part in self.csv(name):
            try:
                value = parse(part)
            except DomainError as error:
                self.problems.append(f"{name}: {error.message}")
                continue
            if value not in values:
                values.append(value)
        return tuple(values)

    def secret_keys(self, name: str, embedded: bool) -> tuple[Secret, ...]:
        """Keys that seal stored secrets; a value that is not one is named by position
        only (it is a secret, even when wrong). Unset: the development key when embedded,
        else none (organizations' secrets are then refused, 503)."""
        keys: list[Secret] = []
        for position, part in enumerate(self.csv(name), start=1):
            if part == DEV_SECRET_KEY and not embedded:
                self.problems.append(
                    f"{name}: key {position} is the published development key; make one "
                    "with crmsync secret-key"
                )
                continue
            try:
                keys.append(Secret(check_key(part)))
            except ValueError as error:
                self.problems.append(f"{name}: key {position}: {error}")
        if not keys and embedded and not self.csv(name):
            return (Secret(DEV_SECRET_KEY),)
        return tuple(keys)

    def region_uris(self, name: str) -> dict[str, str]:
        """``us=URL,eu=URL``: each region named replaces Nylas's own address for it."""
        uris = dict(API_URIS)
        for part in self.csv(name):
            region, _, uri = part.partition("=")
            region, uri = region.strip().lower(), uri.strip().rstrip("/")
            if region not in API_URIS or origin_of(uri) is None:
                self.problems.append(
                    f"{name}: {part!r} is not REGION=URL with a region of "
                    f"{', '.join(API_URIS)} and an http(s) URL"
                )
                continue
            uris[region] = uri
        return uris

    def whole_number(self, name: str, default: int) -> int:
        """A number of 0 or more (ASCII digits only)."""
        raw = self.text(name)
        if raw is None:
            return default
        value = whole_number(raw, 9)
        if value is None:
            self.problems.append(f"{name} must be a whole number from 0, not {raw!r}")
            return default
        return value

    def positive_int(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        value = int(raw) if raw.isascii() and raw.isdigit() else 0
        if value <= 0:
            self.problems.append(f"{name} must be a positive whole number, not {raw!r}")
            return default
        return value
