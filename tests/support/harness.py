"""Helpers shared by the integration tests: settings for a test, emptying the shared
PostgreSQL database, and looking into Redis."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import text
from sqlmodel import SQLModel
from starlette.datastructures import Secret

from crmsync.settings import Settings
from domain.outbound_addresses import LOOPBACK_NETWORKS
from storage.engine import create_database_engine, transaction
from storage.organizations import add_default_org
from tests.support.services import REDIS_URL, SECRET_KEY, WEBHOOK_SECRET
from workers.queues import all_queue_names


def settings_for(database_url: str, namespace: str, **overrides: Any) -> Settings:
    """Settings for a test: the real Redis, a namespace of its own, small retry budgets, and
    outbound webhooks allowed to reach loopback, where the tests' subscribers listen."""
    settings = Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_namespace=namespace,
        nylas_api_key=Secret("test-api-key"),
        nylas_webhook_secrets=(Secret(WEBHOOK_SECRET),),
        api_tokens=(Secret("test-api-token"),),
        max_retries=1,
        webhook_allowed_networks=LOOPBACK_NETWORKS,
        refusal_delay_ms=0,  # the tests that need the ingress's pace on 401s set it
        secret_keys=(Secret(SECRET_KEY),),
        org_keys_refresh_ms=100,  # an organization's new webhook secret verifies at once
    )
    return dataclasses.replace(settings, **overrides)


def queue_lengths(client: redis.Redis, namespace: str) -> dict[str, int]:
    """How many messages wait on each of crmsync's queues (delayed and dead letters included)."""
    lengths: dict[str, int] = {}
    for queue in all_queue_names():
        lengths[queue] = int(client.llen(f"{namespace}:{queue}"))
        lengths[queue + ".DQ"] = int(client.llen(f"{namespace}:{queue}.DQ"))
        lengths[queue + ".XQ"] = int(client.zcard(f"{namespace}:{queue}.XQ"))
    return lengths


def nothing_queued(client: redis.Redis, namespace: str) -> bool:
    """True when no queue holds a message and no notification id was marked as seen."""
    no_dedupe_keys = not list(client.scan_iter(match=f"{namespace}:dedupe:*"))
    return not any(queue_lengths(client, namespace).values()) and no_dedupe_keys


def operator_environment(settings: Settings) -> dict[str, str]:
    """The environment an operator command run beside ``settings``' deployment reads."""
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": REDIS_URL,
        "CRMSYNC_REDIS_NAMESPACE": settings.redis_namespace,
        "NYLAS_API_KEY": "test-api-key",
        "NYLAS_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "CRMSYNC_API_TOKENS": "test-api-token",
        "CRMSYNC_WEBHOOK_ALLOWED_NETWORKS": ",".join(str(n) for n in LOOPBACK_NETWORKS),
    }


def empty_database(url: str) -> None:
    """Empty every table of the database at ``url`` (the session's PostgreSQL database, which
    tests share one after another), restarting its sequences, and put back the default
    organization as a migrated database has it."""
    engine = create_database_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    with transaction(engine) as session:
        add_default_org(session, datetime.now(UTC))
    engine.dispose()
