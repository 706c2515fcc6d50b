"""``/v1/orgs``: the CRM customers this deployment serves, managed with admin tokens.

``PUT /v1/orgs/{org_id}`` takes the whole organization (the id is the vendor's own): its
name, its Nylas access (the customer's own provider apps, or a Nylas application of its
own) and its reps' defaults. Secrets are write-only: stored sealed with
``CRMSYNC_SECRET_KEYS``, never answered; a document that leaves one out keeps it. The
``default`` organization holds what a deployment had before organizations and cannot be
deleted.

``DELETE /v1/orgs/{org_id}`` offboards: its tokens stop at once, and the workers disconnect
its grants at Nylas and delete everything it holds in batches (``storage.offboarding``),
with the progress in ``GET``; ``?dry_run=true`` counts what would go.
"""

from __future__ import annotations

from pydantic import Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import caller_of
from api.context import ApiContext
from api.cursors import cursor_text, encode_cursor
from api.errors import ApiError
from api.inputs import json_body
from api.operations import Answer, Operation
from api.queries import Flag, PageQuery, QueryModel, read_query
from domain import answers
from domain.organizations import OrgInput, OrgSecrets, parse_org, validate_org_id
from storage.offboarding import count_org_rows, org_grants, start_offboarding
from storage.org_tables import OrganizationRow
from storage.organizations import (
    MissingSecrets,
    list_orgs,
    offboarding_json,
    offboarding_of,
    org_json,
    put_org,
    require_org,
    stored_secrets,
)
from storage.sealing import SecretBox, SecretsUnavailable

ORG_ID = "/orgs/{org_id}"
PUT = Operation(
    "PUT",
    ORG_ID,
    "put_org",
    "organizations",
    "Create or replace an organization",
    (Answer(200, "replaced", answers.Organization), Answer(201, "created", answers.Organization)),
    body=OrgInput,
    refusals=(409, 503),
    admin_only=True,
    description=(
        "The whole organization, every time: its name, its Nylas access and its reps' defaults. "
        "Nylas access is either provider_apps (the customer's own Google or Azure apps, used "
        "as Credentials of the deployment's Nylas application) or nylas_application (its own "
        "Nylas application: client id, region, API key, webhook secrets), or neither (the "
        "deployment's). Secrets are write-only: left out, the stored ones are kept; the answer "
        "says which are set. 400 missing_secret names a secret the access needs; 409 "
        "application_in_use when another organization has the Nylas application; 503 "
        "secret_keys_not_configured when secrets are sent and CRMSYNC_SECRET_KEYS is unset."
    ),
)
GET = Operation(
    "GET",
    ORG_ID,
    "get_org",
    "organizations",
    "An organization",
    (Answer(200, "the organization", answers.Organization),),
    admin_only=True,
    description="The organization, its Nylas access (whether each secret is set) and defaults.",
)
LIST = Operation(
    "GET",
    "/orgs",
    "list_orgs",
    "organizations",
    "Organizations, in id order",
    (Answer(200, "a page", answers.OrganizationPage),),
    query=PageQuery,
    admin_only=True,
    description="Every organization, the default one included, a page at a time in id order.",
)


class DeleteOrgQuery(QueryModel):
    dry_run: Flag = Field(False, description="true: count what would go, change nothing")


DELETE = Operation(
    "DELETE",
    ORG_ID,
    "delete_org",
    "organizations",
    "Offboard an organization: everything it holds goes",
    (
        Answer(202, "its offboarding, begun (or the one under way)", answers.Offboarding),
        Answer(200, "with dry_run=true: what would go", answers.OffboardingPlan),
    ),
    query=DeleteOrgQuery,
    refusals=(409,),
    admin_only=True,
    description=(
        "Removes the organization with everything it holds. Its tokens stop working at once "
        "(401) and it is no longer found (404 through Crmsync-Org); then the workers "
        "disconnect each of its grants at Nylas and delete its rows in batches, resumably, "
        "with the progress in GET /v1/orgs/{org_id} until the organization is gone. Asked "
        "again while under way, it answers the same offboarding. dry_run=true counts the "
        "grants and the rows, by table, that would go. The default organization stays "
        "(409 default_org)."
    ),
)
OPERATIONS = (PUT, GET, LIST, DELETE)


def shown(session: Session, row: OrganizationRow, box: SecretBox) -> answers.Organization:
    """The organization's answer; when its secrets cannot be opened it is still shown,
    with what is set unknown, so an operator can see and fix it."""
    secrets: OrgSecrets | None
    try:
        secrets = stored_secrets(row, box)
    except SecretsUnavailable:
        secrets = None
    return org_json(row, secrets, offboarding_of(session, row.id))


def organization_routes(context: ApiContext) -> list[Route]:
    box = context.secret_box

    async def put(request: Request) -> JSONResponse:
        org_id = validate_org_id(request.path_params["org_id"])
        document = parse_org(await json_body(request))

        def write(session: Session) -> tuple[answers.Organization, bool]:
            try:
                result = put_org(session, org_id, document, box, context.clock())
            except MissingSecrets as missing:
                raise ApiError(
                    400,
                    "missing_secret",
                    f"the organization's Nylas access needs {', '.join(missing.paths)}",
                    details={
                        "fields": [
                            {"path": path, "problem": "required: no secret is stored yet"}
                            for path in missing.paths
                        ]
                    },
                ) from None
            row = require_org(session, org_id)
            return org_json(row, result.secrets, offboarding_of(session, org_id)), result.created

        answer, created = await context.in_transaction(write)
        return JSONResponse(answer, status_code=201 if created else 200)

    async def get(request: Request) -> JSONResponse:
        org_id = validate_org_id(request.path_params["org_id"])
        answer = await context.in_transaction(
            lambda session: shown(session, require_org(session, org_id), box)
        )
        return JSONResponse(answer)

    async def listing(request: Request) -> JSONResponse:
        query = read_query(request, PageQuery)
        after = cursor_text(query.cursor, "after") if query.cursor else None

        def read(session: Session) -> list[answers.Organization]:
            rows = list_orgs(session, after=after, limit=query.limit)
            return [shown(session, row, box) for row in rows]

        found = await context.in_transaction(read)
        full = len(found) == query.limit
        page: answers.OrganizationPage = {
            "data": found,
            "next_cursor": encode_cursor({"after": found[-1]["id"]}) if full else None,
        }
        return JSONResponse(page)

    async def delete(request: Request) -> JSONResponse:
        org_id = validate_org_id(request.path_params["org_id"])
        query = read_query(request, DeleteOrgQuery)
        if query.dry_run:

            def count(session: Session) -> answers.OffboardingPlan:
                rows = count_org_rows(session, org_id)
                grants = len(org_grants(session, org_id))
                return {"org_id": org_id, "dry_run": True, "grants": grants, "rows": rows}

            return JSONResponse(await context.in_transaction(count))

        def start(session: Session) -> answers.Offboarding:
            by = caller_of(request).label
            row = start_offboarding(session, org_id, by, context.clock())
            return offboarding_json(row)

        return JSONResponse(await context.in_transaction(start), status_code=202)

    return [PUT.route(put), GET.route(get), LIST.route(listing), DELETE.route(delete)]
