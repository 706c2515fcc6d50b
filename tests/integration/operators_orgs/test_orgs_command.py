"""``crmsync orgs`` on SQLite and PostgreSQL, run as an operator runs it (``crmsync.cli.main``
with the deployment's environment): organizations created from a file, standard input or a
name, replaced, listed, shown exactly as ``GET /v1/orgs/{id}`` answers, their tokens issued,
listed and revoked, and deleted; refused as the API refuses; secrets never printed, and a
hostile name printed as the characters it holds.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.datastructures import Secret
from starlette.testclient import TestClient

import crmsync.operator_context
from crmsync.app import build_app
from crmsync.cli import main
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.reps import parse_rep
from storage.engine import create_database_engine, transaction
from storage.org_tables import OrganizationRow, OrgTokenRow
from storage.org_tokens import digest_of, holder_of
from storage.reps import get_rep, put_rep
from storage.sealing import SecretBox, new_key
from tests.support.harness import operator_environment, settings_for

AUTH = {"Authorization": "Bearer test-api-token"}
API_KEY = "nyk_v0_globex-own-api-key-91b2"
WEBHOOK_SECRET = "globex-webhook-secret-4c0d"
CLIENT_SECRET = "Vq8Q~acme-azure-client-secret-5e7f"
SECRETS = (API_KEY, WEBHOOK_SECRET, CLIENT_SECRET)
ACME: dict[str, Any] = {
    "name": "Acme Corp",
    "provider_apps": {"microsoft": {"client_id": "azure-acme", "client_secret": CLIENT_SECRET}},
    "defaults": {"lookback_days": 90, "folders": "Inbox;Sent", "calendar_name": "Deals"},
}
GLOBEX: dict[str, Any] = {
    "name": "Globex",
    "nylas_application": {
        "client_id": "app-globex",
        "region": "eu",
        "api_key": API_KEY,
        "webhook_secrets": [WEBHOOK_SECRET],
    },
}
MARKUP_NAME = "[bold red]x[/] [link=https://evil.example]pay here[/link]"
HOSTILE_NAME = "[bold red]x[/]\x1b[2J"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@dataclass
class Orgs:
    """Runs ``crmsync orgs ...`` in this process against one test's database."""

    database_url: str
    key: str
    capsys: pytest.CaptureFixture[str]
    tmp_path: Path
    make_runtime: Callable[[Settings], Runtime]
    redis_namespace: str

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(["orgs", *argv])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)

    def file(self, document: object, name: str = "org.json") -> str:
        path = self.tmp_path / name
        path.write_text(json.dumps(document))
        return str(path)

    def create(self, org_id: str, document: object) -> tuple[int, str, str]:
        return self("create", org_id, "--file", self.file(document))

    def api(self) -> TestClient:
        """The web service over the same database and keys, to compare with its answers."""
        settings = settings_for(
            self.database_url, self.redis_namespace, secret_keys=(Secret(self.key),)
        )
        return TestClient(build_app(runtime=self.make_runtime(settings)))

    @contextmanager
    def session(self) -> Iterator[Session]:
        engine = create_database_engine(self.database_url)
        try:
            with transaction(engine) as session:
                yield session
        finally:
            engine.dispose()


@pytest.fixture
def orgs(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Orgs:
    """The environment of a deployment with a sealing key, on the parametrised database."""
    key = new_key()
    for name, value in operator_environment(settings_for(database_url, redis_namespace)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRMSYNC_SECRET_KEYS", key)
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, for the assertions
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)
    return Orgs(database_url, key, capsys, tmp_path, make_runtime, redis_namespace)


def add_rep(orgs: Orgs, org_id: str, rep_id: str, grant_id: str) -> str:
    """A rep of ``org_id``, stored as the CRM API stores one; its account status."""
    document = parse_rep({"email": f"{rep_id}@acme.example", "grant_id": grant_id})
    with orgs.session() as session:
        put_rep(session, org_id, rep_id, document, NOW)
    with orgs.session() as session:
        rep = get_rep(session, org_id, rep_id)
        assert rep is not None
        return rep.account_status


def assert_no_secret(*outputs: str) -> None:
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output


def test_create_from_a_file_seals_the_secrets_and_show_answers_as_the_api(orgs: Orgs) -> None:
    code, out, err = orgs.create("acme", ACME)
    assert code == 0, err
    assert "created organization acme (Acme Corp), version 1" in out
    code, globex_out, globex_err = orgs.create("globex", GLOBEX)
    assert code == 0, globex_err

    with orgs.session() as session:
        sealed = {r.id: r.sealed_secrets for r in session.exec(select(OrganizationRow))}
    assert sealed["globex"] is not None
    assert_no_secret(sealed["globex"], sealed["acme"] or "")
    assert SecretBox([orgs.key]).open(sealed["globex"])["api_key"] == API_KEY

    api = orgs.api()
    for org_id in ("acme", "globex"):
        shown = orgs.json("show", org_id)
        assert shown["organization"] == api.get(f"/v1/orgs/{org_id}", headers=AUTH).json()
        assert shown["tokens"] == []
    globex = orgs.json("show", "globex")["organization"]
    assert globex["nylas_application"]["api_key_set"] is True
    assert globex["nylas_application"]["webhook_secrets_set"] == 1

    code, acme_text, acme_err = orgs("show", "acme")
    assert code == 0, acme_err
    assert "nylas access: provider_apps" in acme_text
    assert "provider app microsoft: client id azure-acme, client secret set" in acme_text
    assert "defaults.folders: Inbox, Sent" in acme_text
    assert "defaults.calendar_days_after: (the deployment's)" in acme_text
    code, globex_text, globex_text_err = orgs("show", "globex")
    assert code == 0
    assert "nylas access: nylas_application" in globex_text
    assert "api key set, webhook secrets 1" in globex_text
    _, list_text, list_err = orgs("list")
    _, list_json, _ = orgs("list", "--json")
    _, show_json, show_err = orgs("show", "globex", "--json")
    assert_no_secret(
        out, err, globex_out, globex_err, acme_text, acme_err, globex_text, globex_text_err,
        list_text, list_err, list_json, show_json, show_err,
    )  # fmt: skip


def test_create_from_a_name_then_replace_from_standard_input(
    orgs: Orgs, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert orgs.json("create", "initech", "--name", "Initech") == {
        "outcome": "created",
        "organization": orgs.json("show", "initech")["organization"],
    }
    only_a_name = orgs.json("show", "initech")["organization"]
    assert only_a_name["provider_apps"] == {}
    assert only_a_name["nylas_application"] is None

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(ACME).encode())))
    code, out, err = orgs("create", "initech", "--file", "-")
    assert code == 0, err
    assert "replaced organization initech (Acme Corp), version 2" in out
    replaced = orgs.json("show", "initech")["organization"]
    assert replaced["provider_apps"]["microsoft"]["client_secret_set"] is True
    assert replaced["defaults"]["lookback_days"] == 90

    # The same document again changes nothing, and says so.
    code, out, _ = orgs.create("initech", ACME)
    assert code == 0
    assert "unchanged organization initech (Acme Corp), version 2" in out
    # A replacement without the secret keeps the stored one, as PUT does.
    without_secret = {**ACME, "provider_apps": {"microsoft": {"client_id": "azure-acme"}}}
    assert orgs.json("create", "initech", "--file", orgs.file(without_secret))["outcome"] == (
        "unchanged"
    )


@pytest.mark.parametrize(
    "document",
    [
        {
            "name": "X",
            "provider_apps": {"google": {"client_id": "g"}},
            "nylas_application": {"client_id": "a"},
        },
        {"name": "X", "defaults": {"lookback_dayz": 3}},
        {"defaults": {"lookback_days": -1}},
        {"name": "X", "defaults": {"return_url_origins": ["not an origin"]}},
        {"name": "X", "provider_apps": {"google": {"client_id": "gcp-x"}}},
    ],
    ids=["both accesses", "unknown field", "missing name", "bad origin", "missing secret"],
)
def test_a_bad_document_is_refused_with_the_reason_the_api_gives(
    orgs: Orgs, document: dict[str, Any]
) -> None:
    answer = orgs.api().put("/v1/orgs/bad", json=document, headers=AUTH)
    assert answer.status_code == 400
    refusal = answer.json()["error"]

    code, out, err = orgs.create("bad", document)

    assert code == 2
    assert out == ""
    assert f"crmsync orgs: {refusal['reason']}: {refusal['message']}" in err
    for field in refusal.get("fields", []):
        assert f"{field['path']}: {field['problem']}" in err
    assert orgs("show", "bad")[0] == 1


def test_input_refused_before_any_rule(orgs: Orgs) -> None:
    not_json = orgs.tmp_path / "broken.json"
    not_json.write_text('{"name": ')
    code, _, err = orgs("create", "acme", "--file", str(not_json))
    assert code == 2
    assert "malformed_json" in err

    code, _, err = orgs("create", "acme", "--file", str(orgs.tmp_path / "absent.json"))
    assert code == 2
    assert "unreadable_file: cannot read" in err

    code, _, err = orgs("create", "acme", "--file", orgs.file({"name": "A\u0000B"}))
    assert code == 2
    assert "invalid_text: name contains a NUL character" in err

    code, _, err = orgs("create", "-not/an id", "--name", "X")
    assert code == 2
    assert "invalid_org_id" in err
    assert [o["id"] for o in orgs.json("list")] == ["default"]


def test_secrets_without_keys_are_refused_with_the_reason(
    orgs: Orgs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRMSYNC_SECRET_KEYS")

    code, _, err = orgs.create("globex", GLOBEX)

    assert code == 2
    assert "crmsync orgs: secret_keys_not_configured: " in err
    assert "set CRMSYNC_SECRET_KEYS" in err
    assert_no_secret(err)
    # An organization without secrets needs no key.
    assert orgs.json("create", "plain", "--name", "Plain")["outcome"] == "created"


def test_list_counts_reps_by_status_and_tokens(orgs: Orgs) -> None:
    assert orgs.create("acme", ACME)[0] == 0
    assert orgs.create("globex", GLOBEX)[0] == 0
    status = add_rep(orgs, "acme", "rep-ann", "grant-acme-ann")
    add_rep(orgs, "acme", "rep-ben", "grant-acme-ben")
    kept = orgs.json("tokens", "acme", "--issue", "CRM production")
    orgs.json("tokens", "acme", "--issue", "CRM staging")
    dropped = orgs.json("tokens", "globex", "--issue", "old")
    orgs.json("tokens", "globex", "--revoke", dropped["id"])

    listed = orgs.json("list")

    assert listed == [
        {
            "id": "acme",
            "name": "Acme Corp",
            "access": "provider_apps",
            "reps": 2,
            "reps_by_account_status": {status: 2},
            "tokens": 2,
            "revoked_tokens": 0,
        },
        {
            "id": "default",
            "name": "Default organization",
            "access": "deployment",
            "reps": 0,
            "reps_by_account_status": {},
            "tokens": 0,
            "revoked_tokens": 0,
        },
        {
            "id": "globex",
            "name": "Globex",
            "access": "nylas_application",
            "reps": 0,
            "reps_by_account_status": {},
            "tokens": 0,
            "revoked_tokens": 1,
        },
    ]
    code, out, err = orgs("list")
    assert code == 0
    assert "3 organizations" in err
    [acme_row] = [row for row in out.splitlines() if "Acme Corp" in row]
    assert "provider_apps" in acme_row
    assert f"{status} 2" in acme_row
    assert kept["token"] not in out


def test_tokens_are_issued_once_listed_and_revoked(orgs: Orgs) -> None:
    assert orgs.create("acme", ACME)[0] == 0

    code, out, err = orgs("tokens", "acme", "--issue", "CRM production")

    assert code == 0, err
    [token] = [row.split("token: ", 1)[1] for row in out.splitlines() if "token: cso_" in row]
    assert "shown only this once" in err
    with orgs.session() as session:
        [row] = session.exec(select(OrgTokenRow)).all()
        assert row.digest == digest_of(token)
        assert row.name == "CRM production"
        holder = holder_of(session, token.encode(), NOW)
        assert holder is not None
        assert holder.org_id == "acme"
        token_id = row.id
    assert token_id in err

    listed = orgs.json("tokens", "acme")["data"]
    assert [(t["id"], t["name"], t["revoked_at"]) for t in listed] == [
        (token_id, "CRM production", None)
    ]
    assert "token" not in listed[0]
    code, table, _ = orgs("tokens", "acme")
    assert code == 0
    assert token_id in table
    assert token not in table
    shown = orgs.json("show", "acme")["tokens"]
    assert [t["id"] for t in shown] == [token_id]
    _, show_text, _ = orgs("show", "acme")
    assert token not in show_text

    code, out, _ = orgs("tokens", "acme", "--revoke", token_id)
    assert code == 0
    assert f"revoked token {token_id} (CRM production) of acme" in out
    with orgs.session() as session:
        assert holder_of(session, token.encode(), NOW) is None
    code, out, _ = orgs("tokens", "acme", "--revoke", token_id)
    assert code == 0
    assert "token already revoked at" in out
    assert orgs.json("tokens", "acme")["data"][0]["revoked_at"] is not None

    code, _, err = orgs("tokens", "acme", "--revoke", "tok_nope")
    assert code == 1
    assert "unknown_token" in err
    code, _, err = orgs("tokens", "acme", "--issue", "   ")
    assert code == 2
    assert "invalid_token: 'name': must not be blank" in err

    issued = orgs.json("tokens", "acme", "--issue", "scripts")
    assert issued["token"].startswith("cso_")
    assert issued["org_id"] == "acme"


def test_delete_asks_then_offboards_the_organization_and_its_tokens_stop(
    orgs: Orgs, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert orgs.create("globex", GLOBEX)[0] == 0
    orgs.json("tokens", "globex", "--issue", "CRM")
    add_rep(orgs, "globex", "rep-ann", "grant-globex-ann")
    answers = ["n"]
    monkeypatch.setattr("builtins.input", lambda prompt: answers.pop(0))

    plan = orgs.json("delete", "globex", "--dry-run")
    assert (plan["dry_run"], plan["grants"], plan["rows"]["reps"]) == (True, 1, 1)
    assert plan["rows"]["org_tokens"] == 1
    code, _, err = orgs("delete", "globex")
    assert code == 1
    assert "nothing deleted" in err
    assert orgs.json("show", "globex")["organization"]["offboarding"] is None

    code, out, _ = orgs("delete", "globex", "--yes")

    assert code == 0
    assert "offboarding organization globex" in out
    shown = orgs.json("show", "globex")["organization"]["offboarding"]
    assert (shown["state"], shown["grants"]) == ("disconnecting", {"total": 1, "disconnected": 0})
    with orgs.session() as session:
        assert session.exec(select(OrgTokenRow)).all() == []  # they stop at once
    assert answers == []


def test_delete_is_refused_for_the_default_organization(
    orgs: Orgs, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_question(prompt: str) -> str:
        raise AssertionError(f"asked {prompt!r} before refusing")

    monkeypatch.setattr("builtins.input", no_question)

    code, _, err = orgs("delete", "default")
    assert code == 1
    assert "crmsync orgs: default_org: " in err
    code, _, err = orgs("delete", "default", "--dry-run")
    assert code == 1
    assert [o["id"] for o in orgs.json("list")] == ["default"]


@pytest.mark.parametrize(
    "argv",
    [
        ("show", "nobody"),
        ("tokens", "nobody"),
        ("tokens", "nobody", "--issue", "x"),
        ("tokens", "nobody", "--revoke", "tok_x"),
        ("delete", "nobody", "--yes"),
    ],
    ids=["show", "tokens", "issue", "revoke", "delete"],
)
def test_an_unknown_organization_is_exit_status_1(orgs: Orgs, argv: tuple[str, ...]) -> None:
    code, out, err = orgs(*argv)

    assert code == 1
    assert out == ""
    assert "crmsync orgs: unknown_org: no organization 'nobody'" in err


def test_a_name_with_markup_is_printed_literally(orgs: Orgs) -> None:
    code, _, err = orgs("create", "hostile", "--name", MARKUP_NAME)
    assert code == 0, err
    orgs.json("tokens", "hostile", "--issue", MARKUP_NAME)
    assert orgs.json("show", "hostile")["organization"]["name"] == MARKUP_NAME

    for argv in (("list",), ("show", "hostile"), ("tokens", "hostile")):
        code, shown, shown_err = orgs(*argv)
        assert code == 0, shown_err
        assert "[bold red]x[/]" in shown
    _, _, issued_err = orgs("tokens", "hostile", "--issue", MARKUP_NAME)
    assert "[bold red]x[/]" in issued_err


@pytest.mark.parametrize("name", [HOSTILE_NAME, "Acme\nrevoked: all tokens", "A\u202eemca"])
def test_a_name_with_a_control_character_is_refused(orgs: Orgs, name: str) -> None:
    code, out, err = orgs("create", "hostile", "--name", name)
    assert code == 2
    assert "invalid_org" in err
    assert "\x1b" not in out + err
    code, _, err = orgs("create", "plain", "--name", "Plain")
    assert code == 0, err
    code, _, err = orgs("tokens", "plain", "--issue", name)
    assert code == 2
    assert "invalid_token" in err
