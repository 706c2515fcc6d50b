"""Settings read from the environment: embedded defaults, required production values, secrecy."""

from __future__ import annotations

import dataclasses

import pytest

from crmsync.settings import (
    DEFAULT_DATABASE_URL,
    DEFAULT_NYLAS_API_URI,
    DEV_API_TOKEN,
    DEV_WEBHOOK_SECRET,
    Settings,
    SettingsError,
)

REDIS = "redis://redis.internal:6379/0"
API_KEY = "nyk_v0_ApiKeyZebraQuartz7741"
WEBHOOK_SECRET = "whsec-CurrentMangoOtter2291"
PREVIOUS_WEBHOOK_SECRET = "whsec-PreviousLemonHeron5530"
API_TOKEN = "crm-token-VioletWalrus8812"

PRODUCTION: dict[str, str] = {
    "REDIS_URL": REDIS,
    "NYLAS_API_KEY": API_KEY,
    "NYLAS_WEBHOOK_SECRETS": f"{WEBHOOK_SECRET},{PREVIOUS_WEBHOOK_SECRET}",
    "CRMSYNC_API_TOKENS": API_TOKEN,
}


def test_an_empty_environment_runs_embedded_with_development_defaults() -> None:
    settings = Settings.from_environ({})

    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///./crmsync.db"
    assert settings.redis_url is None
    assert settings.redis_namespace == "crmsync"
    assert settings.nylas_api_key is None
    assert settings.nylas_api_uri == DEFAULT_NYLAS_API_URI == "https://api.us.nylas.com"
    assert settings.webhook_secret_bytes() == (b"crmsync-dev-webhook-secret",)
    assert [str(token) for token in settings.api_tokens] == ["crmsync-dev-token"]
    assert settings.max_body_bytes == 4 * 1024 * 1024
    assert settings.dedupe_ttl_seconds == 3 * 24 * 3600
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.worker_threads == 4
    assert settings.max_retries == 8
    assert settings.dead_letter_ttl_days == 14
    assert settings.log_level == "INFO"
    assert settings.embedded is True
    assert settings.uses_dev_secrets is True


def test_a_blank_redis_url_still_means_embedded() -> None:
    settings = Settings.from_environ({"REDIS_URL": "   "})

    assert settings.redis_url is None
    assert settings.embedded is True


def test_a_complete_production_environment_uses_no_development_secret() -> None:
    settings = Settings.from_environ(PRODUCTION)

    assert settings.redis_url == REDIS
    assert settings.embedded is False
    assert settings.uses_dev_secrets is False
    assert settings.nylas_api_key is not None
    assert str(settings.nylas_api_key) == API_KEY
    assert settings.webhook_secret_bytes() == (
        WEBHOOK_SECRET.encode(),
        PREVIOUS_WEBHOOK_SECRET.encode(),
    )
    assert [str(token) for token in settings.api_tokens] == [API_TOKEN]


def test_redis_without_secrets_reports_every_missing_variable_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({"REDIS_URL": REDIS})

    problems = refused.value.problems
    assert len(problems) == 3
    for name in ("NYLAS_WEBHOOK_SECRETS", "CRMSYNC_API_TOKENS", "NYLAS_API_KEY"):
        assert sum(name in problem for problem in problems) == 1, name
        assert name in str(refused.value)


@pytest.mark.parametrize(
    "missing", ["NYLAS_WEBHOOK_SECRETS", "CRMSYNC_API_TOKENS", "NYLAS_API_KEY"]
)
def test_redis_with_one_required_variable_missing_names_only_that_one(missing: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}

    with pytest.raises(SettingsError) as refused:
        Settings.from_environ(environ)

    assert len(refused.value.problems) == 1
    assert missing in refused.value.problems[0]


def test_a_secret_list_of_only_commas_counts_as_missing() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({**PRODUCTION, "NYLAS_WEBHOOK_SECRETS": " , ,, "})

    assert len(refused.value.problems) == 1
    assert "NYLAS_WEBHOOK_SECRETS" in refused.value.problems[0]


def test_comma_separated_secrets_are_trimmed_and_empty_entries_dropped() -> None:
    settings = Settings.from_environ(
        {
            "NYLAS_WEBHOOK_SECRETS": f"  {WEBHOOK_SECRET} ,, {PREVIOUS_WEBHOOK_SECRET}\t,",
            "CRMSYNC_API_TOKENS": f" {API_TOKEN} , second-token ",
        }
    )

    assert settings.webhook_secret_bytes() == (
        WEBHOOK_SECRET.encode(),
        PREVIOUS_WEBHOOK_SECRET.encode(),
    )
    assert [str(token) for token in settings.api_tokens] == [API_TOKEN, "second-token"]


def test_embedded_mode_keeps_a_development_value_that_was_not_replaced() -> None:
    settings = Settings.from_environ({"NYLAS_WEBHOOK_SECRETS": WEBHOOK_SECRET})

    assert [str(token) for token in settings.api_tokens] == [DEV_API_TOKEN]
    assert settings.uses_dev_secrets is True


def test_embedded_mode_with_both_values_replaced_uses_no_development_secret() -> None:
    settings = Settings.from_environ(
        {"NYLAS_WEBHOOK_SECRETS": WEBHOOK_SECRET, "CRMSYNC_API_TOKENS": API_TOKEN}
    )

    assert settings.webhook_secret_bytes() == (WEBHOOK_SECRET.encode(),)
    assert DEV_WEBHOOK_SECRET.encode() not in settings.webhook_secret_bytes()
    assert settings.uses_dev_secrets is False


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "4MiB"])
def test_a_bad_body_limit_is_reported_by_name(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({"CRMSYNC_MAX_BODY_BYTES": value})

    assert len(refused.value.problems) == 1
    assert "CRMSYNC_MAX_BODY_BYTES" in refused.value.problems[0]
    assert repr(value) in refused.value.problems[0]


def test_several_bad_integers_are_reported_together() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({"CRMSYNC_PORT": "http", "CRMSYNC_WORKER_THREADS": "0"})

    problems = refused.value.problems
    assert len(problems) == 2
    assert any("CRMSYNC_PORT" in problem for problem in problems)
    assert any("CRMSYNC_WORKER_THREADS" in problem for problem in problems)


def test_integers_are_read_with_surrounding_whitespace() -> None:
    settings = Settings.from_environ(
        {"CRMSYNC_MAX_BODY_BYTES": " 2097152 ", "CRMSYNC_DEDUPE_TTL_SECONDS": "3600"}
    )

    assert settings.max_body_bytes == 2 * 1024 * 1024
    assert settings.dedupe_ttl_seconds == 3600


def test_log_level_is_upper_cased() -> None:
    assert Settings.from_environ({"CRMSYNC_LOG_LEVEL": "debug"}).log_level == "DEBUG"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://api.eu.nylas.com/", "https://api.eu.nylas.com"),
        ("http://127.0.0.1:8123//", "http://127.0.0.1:8123"),
        ("https://api.us.nylas.com", "https://api.us.nylas.com"),
    ],
)
def test_nylas_api_uri_loses_its_trailing_slash(value: str, expected: str) -> None:
    assert Settings.from_environ({"NYLAS_API_URI": value}).nylas_api_uri == expected


def test_neither_repr_nor_str_shows_a_secret() -> None:
    settings = Settings.from_environ(PRODUCTION)

    for text in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        for secret in (API_KEY, WEBHOOK_SECRET, PREVIOUS_WEBHOOK_SECRET, API_TOKEN):
            assert secret not in text
        assert "nylas_api_uri=" in text  # the check looks at the right text


def test_repr_does_not_show_passwords_inside_connection_urls() -> None:
    settings = Settings.from_environ(
        {
            **PRODUCTION,
            "REDIS_URL": "redis://:redis-pw-KiwiBadger4410@redis.internal:6379/0",
            "DATABASE_URL": "postgresql+psycopg://crm:pg-pw-TulipMoose9023@db.internal/crm",
        }
    )

    text = repr(settings)
    assert "redis-pw-KiwiBadger4410" not in text
    assert "pg-pw-TulipMoose9023" not in text


def test_settings_are_frozen() -> None:
    settings = Settings.from_environ({})

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.redis_url = REDIS  # type: ignore[misc]


@pytest.mark.parametrize("value", ["1_000", "+5", " 12 3", "١٢"])
def test_numbers_are_plain_digits(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({"CRMSYNC_MAX_BODY_BYTES": value})

    assert "CRMSYNC_MAX_BODY_BYTES" in str(refused.value)


def test_account_and_recovery_settings_have_their_documented_defaults() -> None:
    settings = Settings.from_environ(PRODUCTION)

    assert settings.nylas_client_id is None  # connecting answers 503 until it is set
    assert settings.public_url is None
    assert settings.sync_lookback_days == 30
    assert settings.silence_after_hours == 24
    assert settings.nylas_grant_calls_per_second == 20
    assert settings.nylas_grant_concurrent_calls == 4
    assert settings.worker_heartbeat_timeout_ms == 15_000
    assert settings.broker_maintenance_chance == 1_000


def test_account_and_recovery_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_environ(
        {
            **PRODUCTION,
            "NYLAS_CLIENT_ID": "client-123",
            "CRMSYNC_PUBLIC_URL": "https://sync.example.com/",
            "CRMSYNC_SYNC_LOOKBACK_DAYS": "90",
            "CRMSYNC_SILENCE_AFTER_HOURS": "6",
            "CRMSYNC_NYLAS_GRANT_CALLS_PER_SECOND": "50",
            "CRMSYNC_NYLAS_GRANT_CONCURRENT_CALLS": "2",
            "CRMSYNC_WORKER_HEARTBEAT_TIMEOUT_MS": "5000",
            "CRMSYNC_BROKER_MAINTENANCE_CHANCE": "100000",
        }
    )

    assert settings.nylas_client_id == "client-123"
    assert settings.public_url == "https://sync.example.com"
    assert (settings.sync_lookback_days, settings.silence_after_hours) == (90, 6)
    assert (settings.nylas_grant_calls_per_second, settings.nylas_grant_concurrent_calls) == (50, 2)
    assert settings.worker_heartbeat_timeout_ms == 5000
    assert settings.broker_maintenance_chance == 100_000


def test_the_oauth_state_secret_is_derived_from_the_api_token_unless_configured() -> None:
    derived = Settings.from_environ(PRODUCTION).state_secret_bytes()
    rotated = Settings.from_environ(
        {**PRODUCTION, "CRMSYNC_OAUTH_STATE_SECRETS": "state-new, state-old"}
    ).state_secret_bytes()

    assert len(derived) == 1
    assert API_TOKEN.encode() not in derived[0]  # a derivation, not the token itself
    assert rotated == (b"state-new", b"state-old")


def test_oauth_state_secrets_stay_out_of_the_repr() -> None:
    settings = Settings.from_environ({**PRODUCTION, "CRMSYNC_OAUTH_STATE_SECRETS": "s3cr3t-state"})

    assert "s3cr3t-state" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "networks"),
    [
        pytest.param(PRODUCTION, (), id="production: none"),
        pytest.param({}, ("127.0.0.0/8", "::1/128"), id="embedded: loopback"),
        pytest.param({"CRMSYNC_WEBHOOK_ALLOWED_NETWORKS": "none"}, (), id="embedded, told none"),
        pytest.param(
            {**PRODUCTION, "CRMSYNC_WEBHOOK_ALLOWED_NETWORKS": " 10.1.2.0/24, fd00::/64 ,"},
            ("10.1.2.0/24", "fd00::/64"),
            id="production, an on-premises CRM",
        ),
    ],
)
def test_outbound_webhooks_reach_only_the_networks_allowed(
    environ: dict[str, str], networks: tuple[str, ...]
) -> None:
    settings = Settings.from_environ(environ)

    assert tuple(str(n) for n in settings.webhook_allowed_networks) == networks
    assert settings.webhook_timeout_seconds == 15


@pytest.mark.parametrize("value", ["10.1.2.3/24", "localhost", "10.0.0.0/8;192.168.0.0/16"])
def test_an_allowed_network_that_is_not_cidr_is_reported_by_name(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({**PRODUCTION, "CRMSYNC_WEBHOOK_ALLOWED_NETWORKS": value})

    assert any("CRMSYNC_WEBHOOK_ALLOWED_NETWORKS" in p for p in refused.value.problems)


def test_connect_allow_lists_are_empty_unless_configured() -> None:
    settings = Settings.from_environ(PRODUCTION)

    assert settings.return_url_origins == ()  # no return_url is accepted
    assert settings.connect_allowed_domains == ()  # the rep's own address only


def test_connect_allow_lists_are_read_normalised_and_without_duplicates() -> None:
    settings = Settings.from_environ(
        {
            **PRODUCTION,
            "CRMSYNC_RETURN_URL_ORIGINS": "https://CRM.example/, http://localhost:3000,"
            " https://crm.example:443",
            "CRMSYNC_CONNECT_ALLOWED_DOMAINS": "Acme.example, @acme-sales.example",
        }
    )

    assert settings.return_url_origins == ("https://crm.example", "http://localhost:3000")
    assert settings.connect_allowed_domains == ("acme.example", "acme-sales.example")


def test_bad_connect_allow_list_entries_and_public_url_are_all_reported() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environ(
            {
                **PRODUCTION,
                "CRMSYNC_RETURN_URL_ORIGINS": "https://crm.example/path,crm.example",
                "CRMSYNC_CONNECT_ALLOWED_DOMAINS": "acme.example,ann@acme.example",
                "CRMSYNC_PUBLIC_URL": "sync.example.com",
            }
        )

    problems = raised.value.problems
    assert sum("CRMSYNC_RETURN_URL_ORIGINS" in p for p in problems) == 2
    assert sum("CRMSYNC_CONNECT_ALLOWED_DOMAINS" in p for p in problems) == 1
    assert sum("CRMSYNC_PUBLIC_URL" in p for p in problems) == 1


@pytest.mark.parametrize(
    "value", ["https://sync.example.com", "https://sync.example.com/crmsync", "http://[::1]:8000"]
)
def test_a_public_url_may_carry_a_path_prefix(value: str) -> None:
    settings = Settings.from_environ({**PRODUCTION, "CRMSYNC_PUBLIC_URL": value})

    assert settings.public_url == value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CRMSYNC_API_TOKENS", DEV_API_TOKEN),
        ("CRMSYNC_API_TOKENS", f"{API_TOKEN}, {DEV_API_TOKEN}"),
        ("NYLAS_WEBHOOK_SECRETS", DEV_WEBHOOK_SECRET),
        ("NYLAS_WEBHOOK_SECRETS", f" {DEV_WEBHOOK_SECRET} ,{WEBHOOK_SECRET}"),
    ],
    ids=["the dev token", "the dev token beside another", "the dev secret", "the dev secret first"],
)
def test_redis_mode_refuses_a_published_development_value_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({**PRODUCTION, name: value})

    [problem] = refused.value.problems
    assert problem.startswith(f"{name} holds the published development value")
    assert "README" in problem
    assert DEV_API_TOKEN not in problem
    assert DEV_WEBHOOK_SECRET not in problem


def test_redis_mode_names_both_development_values_at_once() -> None:
    environ = {
        **PRODUCTION,
        "CRMSYNC_API_TOKENS": DEV_API_TOKEN,
        "NYLAS_WEBHOOK_SECRETS": DEV_WEBHOOK_SECRET,
    }

    with pytest.raises(SettingsError) as refused:
        Settings.from_environ(environ)

    assert [p.split()[0] for p in refused.value.problems] == [
        "NYLAS_WEBHOOK_SECRETS",
        "CRMSYNC_API_TOKENS",
    ]


def test_embedded_mode_still_accepts_the_development_values_given_explicitly() -> None:
    settings = Settings.from_environ(
        {"CRMSYNC_API_TOKENS": DEV_API_TOKEN, "NYLAS_WEBHOOK_SECRETS": DEV_WEBHOOK_SECRET}
    )

    assert settings.uses_dev_secrets is True


def test_client_limits_default_and_are_read_from_the_environment() -> None:
    defaults = Settings.from_environ({})
    chosen = Settings.from_environ(
        {
            "CRMSYNC_MAX_SUBSCRIPTIONS": "5",
            "CRMSYNC_MAX_STREAMS_PER_TOKEN": "3",
            "CRMSYNC_MAX_LONG_POLLS_PER_TOKEN": "2",
        }
    )

    assert (
        defaults.max_subscriptions,
        defaults.max_streams_per_token,
        defaults.max_long_polls_per_token,
    ) == (50, 10, 10)
    assert (
        chosen.max_subscriptions,
        chosen.max_streams_per_token,
        chosen.max_long_polls_per_token,
    ) == (5, 3, 2)


def test_the_refusal_delay_is_a_whole_number_of_milliseconds_from_zero() -> None:
    assert Settings.from_environ(PRODUCTION).refusal_delay_ms == 1000
    assert (
        Settings.from_environ({**PRODUCTION, "CRMSYNC_REFUSAL_DELAY_MS": "0"}).refusal_delay_ms == 0
    )
    for value in ("-1", "²", "1.5", "9" * 12):
        with pytest.raises(SettingsError) as refused:
            Settings.from_environ({**PRODUCTION, "CRMSYNC_REFUSAL_DELAY_MS": value})
        assert any("CRMSYNC_REFUSAL_DELAY_MS" in p for p in refused.value.problems)
