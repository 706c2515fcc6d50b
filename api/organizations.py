"""``/v1/orgs``: the CRM customers this deployment serves, managed with admin tokens.

``PUT /v1/orgs/{org_id}`` takes the whole organization (the id is the vendor's own): its
name, its Nylas access (the customer's own provider apps, or a Nylas application of its
own) and its reps' defaults. Secrets are write-only: stored sealed with
``CRMSYNC_SECRET_KEYS``, never answered; a document that leaves one out keeps it. The
``default`` organization holds what a deployment had before organizations and cannot be
deleted.
"""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.context import ApiContext
from api.cursors import cursor_text, encode_cursor
from api.errors import ApiError
from api.inputs import json_body
from api.operations import Answer, Operation
from api.queries import PageQuery, read_query
from domain import answers
from domain.organizations import OrgInput, OrgSecrets, parse_org, validate_org_id
from storage.org_tables import OrganizationRow
from storage.organizations import (
    MissingSecrets,
    delete_org,
    list_orgs,
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
DELETE = Operation(
    "DELETE",
    ORG_ID,
    "delete_org",
    "organizations",
    "Delete an organization",
    (Answer(204, "deleted"),),
    refusals=(409,),
    admin_only=True,
    description="Deletes the organization; the default one stays (409 default_org).",
)
OPERATIONS = (PUT, GET, LIST, DELETE)


def shown(row: OrganizationRow, box: SecretBox) -> answers.Organization:
    """The organization's answer; when its secrets cannot be opened it is still shown,
    with what is set unknown, so an operator can see and fix it."""
    secrets: OrgSecrets | None
    try:
        secrets = stored_secrets(row, box)
    except SecretsUnavailable:
        secrets = None
    return org_json(row, secrets)


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
            return org_json(row, result.secrets), result.created

        answer, created = await context.in_transaction(write)
        return JSONResponse(answer, status_code=201 if created else 200)

    async def get(request: Request) -> JSONResponse:
        org_id = validate_org_id(request.path_params["org_id"])
        answer = await context.in_transaction(
            lambda session: shown(require_org(session, org_id), box)
        )
        return JSONResponse(answer)

    async def listing(request: Request) -> JSONResponse:
        query = read_query(request, PageQuery)
        after = cursor_text(query.cursor, "after") if query.cursor else None

        def read(session: Session) -> list[answers.Organization]:
            return [shown(row, box) for row in list_orgs(session, after=after, limit=query.limit)]

        found = await context.in_transaction(read)
        full = len(found) == query.limit
        page: answers.OrganizationPage = {
            "data": found,
            "next_cursor": encode_cursor({"after": found[-1]["id"]}) if full else None,
        }
        return JSONResponse(page)

    async def delete(request: Request) -> Response:
        org_id = validate_org_id(request.path_params["org_id"])
        await context.in_transaction(lambda session: delete_org(session, org_id))
        return Response(status_code=204)

    return [PUT.route(put), GET.route(get), LIST.route(listing), DELETE.route(delete)]
