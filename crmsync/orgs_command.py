"""``crmsync orgs``: the ``/v1/orgs`` admin API from the deployment's host.

The commands call what the API calls (``parse_org``, ``put_org``, ``start_offboarding``,
``issue_token``...) and print what it answers (``org_json`` through the API's own
``shown``, ``token_json``), so the two never disagree on a rule or on what is shown: a
secret is never printed, only whether it is set. Names and ids came from a CRM vendor (a
hostile one, maybe), so each reaches the terminal through ``operator_context.shown``.

Exit status: 0 done, 1 nothing done (unknown organization or token, a refused delete or
write, declined), 2 bad input or configuration (an id or document the API would refuse,
missing secrets, no CRMSYNC_SECRET_KEYS).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from api.inputs import MAX_JSON_BYTES
from api.organizations import shown as org_answer
from crmsync.operator_context import (
    OperatorContext,
    confirmed,
    current_operator,
    err,
    line,
    opened_context,
    out,
    print_json,
    shown,
)
from crmsync.org_tokens_command import run_tokens as run_tokens
from crmsync.org_tokens_command import tokens_table
from domain import answers
from domain.errors import DomainError
from domain.inputs import InvalidInput
from domain.organizations import Organization, parse_org, validate_org_id
from domain.text import nul_location
from storage.engine import transaction
from storage.errors import NotFound, StorageConflict
from storage.offboarding import count_org_rows, org_grants, start_offboarding
from storage.org_health import reps_by_org
from storage.org_tables import OrganizationRow
from storage.org_tokens import list_tokens, token_counts, token_json
from storage.organizations import (
    MissingSecrets,
    list_orgs,
    offboarding_json,
    org_json,
    put_org,
    require_org,
    to_org,
)
from storage.sealing import SecretBox, SecretsUnavailable

PREFIX = "crmsync orgs"
# Organizations read per query by ``list``: a deployment has tens, maybe thousands.
LIST_PAGE = 500


class _Refused(Exception):
    """Input the API would refuse before reading it (a file, its JSON): exit status 2."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def run_refusing(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command``; each refusal the API answers with a 4xx or 503 becomes its reason
    and message on standard error, and exit status 1 (about what is stored) or 2 (about
    what was given or configured)."""
    try:
        return command(args)
    except InvalidInput as error:
        _print_refusal(error.reason, error.message)
        for problem in error.fields:
            err().print(Text.assemble("  ", line(problem.path or "(document)", problem.problem)))
        return 2
    except (DomainError, SecretsUnavailable, _Refused) as error:
        _print_refusal(error.reason, error.message)
        return 2
    except MissingSecrets as missing:
        # The API's 400 missing_secret, in its words.
        needed = ", ".join(missing.paths)
        _print_refusal("missing_secret", f"the organization's Nylas access needs {needed}")
        for path in missing.paths:
            err().print(Text.assemble("  ", line(path, "required: no secret is stored yet")))
        return 2
    except (NotFound, StorageConflict) as error:
        _print_refusal(error.reason, error.message)
        return 1


def run_list(args: argparse.Namespace) -> int:
    """``orgs list``: every organization with its access, reps and tokens counted."""
    with opened_context() as context, Session(context.engine) as session:
        reps = reps_by_org(session)
        tokens = token_counts(session)
        documents = [
            _summary(to_org(row), reps.get(row.id, {}), tokens.get(row.id, (0, 0)))
            for row in _every_org(session)
        ]
    if args.json:
        print_json(documents)
        return 0
    out().print(_orgs_table(documents))
    err().print(f"{len(documents)} organizations")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """``orgs show ORG``: the organization as GET /v1/orgs/{id} answers, and its tokens."""
    org_id = validate_org_id(args.org)
    with opened_context() as context, Session(context.engine) as session:
        row = require_org(session, org_id)
        document = org_answer(session, row, _secret_box(context))
        access = _access_kind(to_org(row))
        tokens = [token_json(token) for token in list_tokens(session, org_id)]
    if args.json:
        print_json({"organization": document, "tokens": tokens})
        return 0
    console = out()
    _print_org(console, document, access)
    console.print(tokens_table(tokens) if tokens else shown("tokens: none"))
    return 0


def run_create(args: argparse.Namespace) -> int:
    """``orgs create ORG``: create or replace it, as PUT /v1/orgs/{id} does."""
    org_id = validate_org_id(args.org)
    document = parse_org(_given_document(args))
    with opened_context() as context, transaction(context.engine) as session:
        result = put_org(session, org_id, document, _secret_box(context), datetime.now(UTC))
        answer = org_json(require_org(session, org_id), result.secrets)
    outcome = "created" if result.created else "replaced" if result.changed else "unchanged"
    if args.json:
        print_json({"outcome": outcome, "organization": answer})
        return 0
    note = "" if result.changed else " (it was already as given)"
    out().print(
        Text.assemble(
            f"{outcome} organization ",
            shown(answer["id"]),
            " (",
            shown(answer["name"]),
            f"), version {answer['version']}{note}",
        )
    )
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """``orgs delete ORG``: offboard it, once confirmed (or ``--yes``); ``--dry-run`` counts
    what would go, as DELETE /v1/orgs/{id}?dry_run=true does."""
    org_id = validate_org_id(args.org)
    with opened_context() as context:
        with Session(context.engine) as session:
            name = require_org(session, org_id).name
            rows = count_org_rows(session, org_id)
            grants = len(org_grants(session, org_id))
        if args.dry_run:
            plan = {"org_id": org_id, "dry_run": True, "grants": grants, "rows": rows}
            if args.json:
                print_json(plan)
            else:
                _print_plan(org_id, grants, rows)
            return 0
        question = (
            f"Offboard organization {org_id} ({name}): disconnect {grants} grants at Nylas "
            f"and delete {sum(rows.values())} rows?"
        )
        if not args.yes and not confirmed(question):
            err().print("nothing deleted")
            return 1
        with transaction(context.engine) as session:
            row = start_offboarding(session, org_id, current_operator(None), datetime.now(UTC))
            started = offboarding_json(row)
    if args.json:
        print_json(started)
    else:
        out().print(
            Text.assemble(
                "offboarding organization ",
                shown(org_id),
                ": its tokens no longer work; the workers remove the rest (orgs show ",
                shown(org_id),
                " follows it)",
            )
        )
    return 0


def _print_plan(org_id: str, grants: int, rows: dict[str, int]) -> None:
    console = out()
    console.print(Text.assemble("dry run: offboarding ", shown(org_id), " would"))
    console.print(f"  disconnect {grants} grants at Nylas")
    for table, count in rows.items():
        if count:
            console.print(f"  delete {count} rows of {table}")
    console.print(f"  delete {sum(rows.values())} rows in all; nothing was changed")


def _secret_box(context: OperatorContext) -> SecretBox:
    """The keys of CRMSYNC_SECRET_KEYS, as the web service builds them (``crmsync.app``)."""
    return SecretBox(tuple(str(key) for key in context.settings.secret_keys))


def _print_refusal(reason: str, message: str) -> None:
    err().print(Text.assemble(shown(PREFIX), ": ", shown(reason), ": ", shown(message)))


def _given_document(args: argparse.Namespace) -> object:
    """The organization document of ``--name`` or ``--file``, refused as the API refuses
    a body: too large, not JSON, or holding a NUL."""
    if args.name is not None:
        return {"name": args.name}
    source = "standard input" if args.file == "-" else args.file
    try:
        if args.file == "-":
            body = sys.stdin.buffer.read(MAX_JSON_BYTES + 1)
        else:
            with Path(args.file).open("rb") as file:
                body = file.read(MAX_JSON_BYTES + 1)
    except OSError as error:
        raise _Refused("unreadable_file", f"cannot read {source}: {error.strerror}") from None
    if len(body) > MAX_JSON_BYTES:
        raise _Refused(
            "payload_too_large", f"an organization document is limited to {MAX_JSON_BYTES} bytes"
        )
    try:
        document: object = json.loads(body)
    except ValueError as error:  # JSONDecodeError, and UnicodeDecodeError for non-UTF-8 bytes
        raise _Refused("malformed_json", f"{source} is not valid JSON: {error}") from None
    where = nul_location(document)
    if where is not None:
        raise _Refused(
            "invalid_text",
            f"{where} contains a NUL character (\\u0000), which crmsync cannot store",
        )
    return document


def _every_org(session: Session) -> Iterator[OrganizationRow]:
    """Every organization in id order, a page at a time (as GET /v1/orgs pages)."""
    after: str | None = None
    while True:
        page = list_orgs(session, after=after, limit=LIST_PAGE)
        yield from page
        if len(page) < LIST_PAGE:
            return
        after = page[-1].id


def _access_kind(org: Organization) -> str:
    """How the organization reaches Nylas: its own application, its own provider apps
    under the deployment's application, or the deployment's application and apps."""
    if org.nylas_application is not None:
        return "nylas_application"
    if org.provider_apps:
        return "provider_apps"
    return "deployment"


def _summary(org: Organization, reps: dict[str, int], tokens: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": org.org_id,
        "name": org.name,
        "access": _access_kind(org),
        "reps": sum(reps.values()),
        "reps_by_account_status": dict(sorted(reps.items())),
        "tokens": tokens[0],
        "revoked_tokens": tokens[1],
    }


def _orgs_table(documents: list[dict[str, Any]]) -> Table:
    table = Table(title="Organizations")
    for header in ("id", "name", "access"):
        table.add_column(header, overflow="fold")
    table.add_column("reps", justify="right")
    table.add_column("by account status", overflow="fold")
    table.add_column("tokens", justify="right")
    table.add_column("revoked", justify="right")
    for d in documents:
        statuses = ", ".join(f"{s} {n}" for s, n in d["reps_by_account_status"].items())
        table.add_row(
            shown(d["id"]),
            shown(d["name"]),
            shown(d["access"]),
            str(d["reps"]),
            shown(statuses or "-"),
            str(d["tokens"]),
            str(d["revoked_tokens"]),
        )
    return table


def _print_org(console: Console, document: answers.Organization, access: str) -> None:
    """The organization's answer as a person reads it: one fact a line."""
    for key in ("id", "name"):
        console.print(line(key, document[key]))
    console.print(line("nylas access", access))
    for provider, app in document["provider_apps"].items():
        console.print(
            Text.assemble(
                "provider app ",
                shown(provider),
                ": client id ",
                shown(app["client_id"]),
                ", client secret ",
                _set_text(app["client_secret_set"]),
                ", credential ",
                shown(app["credential_id"] or "not made yet"),
            )
        )
    own = document["nylas_application"]
    if own is not None:
        webhook_secrets = own["webhook_secrets_set"]
        console.print(
            Text.assemble(
                "nylas application: client id ",
                shown(own["client_id"]),
                ", region ",
                shown(own["region"]),
                " (",
                shown(own["api_uri"]),
                "), api key ",
                _set_text(own["api_key_set"]),
                ", webhook secrets ",
                shown("unknown" if webhook_secrets is None else webhook_secrets),
            )
        )
    for key, value in document["defaults"].items():
        listed = ", ".join(value) if isinstance(value, list) else value
        console.print(line(f"defaults.{key}", "(the deployment's)" if value is None else listed))
    console.print(line("version", document["version"]))
    console.print(line("created", document["created_at"]))
    console.print(line("updated", document["updated_at"]))


def _set_text(value: bool | None) -> Text:
    return shown("unknown" if value is None else "set" if value else "not set")
