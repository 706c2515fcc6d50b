"""``/v1/orgs/{org_id}/tokens``: an organization's bearer tokens, managed with admin tokens.

A token is shown once, in the answer that creates it; crmsync keeps only its digest. It
sees and changes only its organization: another organization's rep, contact, email,
action item or subscription is 404 to it, and the feed and stream carry only its changes.
Revoking it stops it at once, in every web process (each request looks its digest up).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.context import ApiContext
from api.inputs import read_body
from api.operations import Answer, Operation
from domain import answers
from domain.inputs import DisplayName
from domain.organizations import validate_org_id
from storage.org_tokens import issue_token, list_tokens, revoke_token, token_json
from storage.organizations import require_org


class TokenInput(BaseModel):
    """The body of POST /v1/orgs/{org_id}/tokens."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"name": "acme CRM production"}]},
    )

    name: DisplayName = Field(max_length=100, description="what the token is for, for people")


TOKENS = "/orgs/{org_id}/tokens"
CREATE = Operation(
    "POST",
    TOKENS,
    "create_org_token",
    "organizations",
    "A new token of the organization; shown only in this answer",
    (Answer(201, "created", answers.OrgToken),),
    body=TokenInput,
    refusals=(409,),
    admin_only=True,
    description=(
        "A bearer token (cso_...) that sees and changes only this organization: another "
        "organization's objects are 404 to it. Shown only in this answer; crmsync keeps its "
        "SHA-256 digest. 409 org_offboarding while the organization is being removed."
    ),
)
LIST = Operation(
    "GET",
    TOKENS,
    "list_org_tokens",
    "organizations",
    "The organization's tokens",
    (Answer(200, "the list", answers.OrgTokenList),),
    admin_only=True,
    description="Every token of the organization, revoked ones too, with when each was last "
    "used (to the minute); never the tokens themselves.",
)
REVOKE = Operation(
    "DELETE",
    f"{TOKENS}/{{token_id}}",
    "revoke_org_token",
    "organizations",
    "Revoke a token",
    (Answer(204, "revoked"),),
    admin_only=True,
    description="The token stops working at once; it stays listed, with revoked_at.",
)
OPERATIONS = (CREATE, LIST, REVOKE)


def org_token_routes(context: ApiContext) -> list[Route]:
    async def create(request: Request) -> JSONResponse:
        org_id = validate_org_id(request.path_params["org_id"])
        given = await read_body(request, TokenInput, "invalid_token")

        def write(session: Session) -> answers.OrgToken:
            require_org(session, org_id)
            row, token = issue_token(session, org_id, given.name.strip(), context.clock())
            return token_json(row, token)

        return JSONResponse(await context.in_transaction(write), status_code=201)

    async def listing(request: Request) -> JSONResponse:
        org_id = validate_org_id(request.path_params["org_id"])

        def read(session: Session) -> answers.OrgTokenList:
            require_org(session, org_id)
            return {"data": [token_json(row) for row in list_tokens(session, org_id)]}

        return JSONResponse(await context.in_transaction(read))

    async def revoke(request: Request) -> Response:
        org_id = validate_org_id(request.path_params["org_id"])
        token_id = request.path_params["token_id"]
        await context.in_transaction(
            lambda session: revoke_token(session, org_id, token_id, context.clock())
        )
        return Response(status_code=204)

    return [CREATE.route(create), LIST.route(listing), REVOKE.route(revoke)]
