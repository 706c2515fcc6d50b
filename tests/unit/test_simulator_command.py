"""``crmsync simulator``'s options and ``crmsync demo``'s choice of simulator, without a server."""

from __future__ import annotations

import argparse

import pytest

from crmsync.demo import local_simulator
from crmsync.settings import DEV_WEBHOOK_SECRET, SettingsError
from crmsync.simulated_nylas import SIMULATOR_API_KEY
from crmsync.simulator_command import SimulatorOptions
from simulator.hosted_auth import DEFAULT_CLIENT_ID


def arguments(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 8001,
        "api_key": None,
        "webhook_url": None,
        "webhook_secret": None,
    }
    return argparse.Namespace(**{**values, **given})


def test_defaults_are_the_published_simulator_key_and_no_delivery() -> None:
    options = SimulatorOptions.read(arguments(), {})

    assert (options.api_key, options.client_id) == (SIMULATOR_API_KEY, DEFAULT_CLIENT_ID)
    assert (options.webhook_url, options.webhook_secret) == (None, DEV_WEBHOOK_SECRET)
    assert "returned (no --webhook-url)" in options.banner()


def test_the_shared_environment_fills_what_the_command_line_leaves_out() -> None:
    environ = {
        "NYLAS_API_KEY": "shared-key",
        "NYLAS_CLIENT_ID": "shared-client",
        "NYLAS_WEBHOOK_SECRETS": " , new-secret, old-secret",
        "CRMSYNC_SIMULATOR_WEBHOOK_URL": "http://127.0.0.1:8000/webhooks/nylas",
    }

    options = SimulatorOptions.read(arguments(host="0.0.0.0", port=9001), environ)

    assert options.banner() == (
        "crmsync simulator: fake Nylas API at http://127.0.0.1:9001, API key shared-key; "
        "give crmsync NYLAS_API_URI=http://127.0.0.1:9001 NYLAS_API_KEY=shared-key "
        "NYLAS_CLIENT_ID=shared-client; drained notifications are POSTed, signed, to "
        "http://127.0.0.1:8000/webhooks/nylas"
    )
    assert options.webhook_secret == "new-secret"
    assert "new-secret" not in repr(options)


def test_the_command_line_wins_over_the_environment() -> None:
    given = arguments(api_key="k", webhook_url="https://crm.example/hook", webhook_secret="s")

    options = SimulatorOptions.read(given, {"NYLAS_API_KEY": "other", "NYLAS_WEBHOOK_SECRETS": "o"})

    assert (options.api_key, options.webhook_url, options.webhook_secret) == (
        "k",
        "https://crm.example/hook",
        "s",
    )


@pytest.mark.parametrize(
    "given",
    [
        {"webhook_url": "ftp://127.0.0.1/webhooks/nylas"},
        {"webhook_url": "127.0.0.1:8000/webhooks/nylas"},
        {"webhook_url": "http:///webhooks/nylas"},
        {"port": 0},
        {"port": 70_000},
    ],
)
def test_unusable_options_are_refused_by_name(given: dict[str, object]) -> None:
    with pytest.raises(SettingsError, match="--"):
        SimulatorOptions.read(arguments(**given), {})


@pytest.mark.parametrize(
    ("api_uri", "simulator"),
    [
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("http://localhost:8001/", "http://localhost:8001/"),
        ("http://[::1]:8001", "http://[::1]:8001"),
        ("http://127.9.9.9:8001", "http://127.9.9.9:8001"),
        ("https://api.us.nylas.com", None),
        ("http://10.0.0.5:8001", None),
        ("not a url", None),
        ("", None),
        (None, None),
    ],
)
def test_the_demo_takes_nylas_api_uri_as_its_simulator_only_on_this_machine(
    api_uri: str | None, simulator: str | None
) -> None:
    assert local_simulator(api_uri) == simulator
