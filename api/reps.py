"""``/v1/reps``: register a rep with its mailbox and settings (E1), read it, count activity.

``PUT /v1/reps/{rep_id}`` takes the whole rep; the id is the CRM's own. The answer is the
rep as stored, with its account status explained, 201 when it was created.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.errors import ApiError
from api.inputs import json_body
from api.operations import Answer, Operation
from api.queries import QueryModel, Time, read_query
from domain import answers
from domain.accounts import DEFAULT_SILENCE_AFTER
from domain.email_rules import DEFAULT_LOOKBACK
from domain.organizations import lookback_of
from domain.reps import Rep, RepInput, parse_rep, validate_rep_id
from domain.times import format_time
from storage.email_reads import activity_counts
from storage.errors import NotFound
from storage.organizations import org_defaults
from storage.reps import PutRepResult, get_rep, put_rep

MAX_ACTIVITY_PERIOD = timedelta(days=366)


class ActivityQuery(QueryModel):
    since: Time | None = Field(
        None, alias="from", description="the period's start (default: 30 days before its end)"
    )
    until: Time | None = Field(None, alias="to", description="the period's end (default: now)")


PUT_REP = Operation(
    "PUT",
    "/reps/{rep_id}",
    "put_rep",
    "reps",
    "Register or replace a rep",
    (Answer(200, "replaced", answers.Rep), Answer(201, "created", answers.Rep)),
    body=RepInput,
    refusals=(409,),
    description=(
        "The whole rep, every time; the id is the CRM's own. Left-out settings take the "
        "defaults: email and calendar sync on, folders the inbox and sent ones, action items up "
        "to 30 days after today, sync-from 30 days before registration (kept on later updates "
        "unless sent). A grant belongs to one rep (409 grant_in_use)."
    ),
)
GET_REP = Operation(
    "GET",
    "/reps/{rep_id}",
    "get_rep",
    "reps",
    "A rep",
    (Answer(200, "the rep", answers.Rep),),
    description=(
        "The rep, its settings, and its account status with what it means and what to do next, "
        "in plain words; `silent` when a healthy mailbox has not been heard from for "
        "CRMSYNC_SILENCE_AFTER_HOURS."
    ),
)
GET_ACTIVITY = Operation(
    "GET",
    "/reps/{rep_id}/activity",
    "get_activity",
    "emails",
    "Synced and system-generated email counts over a period",
    (Answer(200, "the counts", answers.Activity),),
    query=ActivityQuery,
    description=(
        "E10: the rep's synced and system-generated emails dated in [from, to), by default the "
        "last 30 days, at most 366; hidden emails are not counted."
    ),
)
OPERATIONS = (PUT_REP, GET_REP, GET_ACTIVITY)


def require_rep(session: Session, org_id: str, rep_id: str) -> Rep:
    """The organization's rep ``rep_id``.

    Raises:
        NotFound: no such rep in the organization (another's is not there).
    """
    rep = get_rep(session, org_id, validate_rep_id(rep_id))
    if rep is None:
        raise NotFound("unknown_rep", f"no rep {rep_id!r}; register it with PUT /v1/reps/{{id}}")
    return rep


def rep_routes(
    context: ApiContext, silence_after: timedelta = DEFAULT_SILENCE_AFTER
) -> list[Route]:
    async def put(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = validate_rep_id(request.path_params["rep_id"])
        body = await json_body(request)

        def write(session: Session) -> PutRepResult:
            defaults = org_defaults(session, org_id)
            document = parse_rep(body, defaults)
            lookback = lookback_of(defaults, DEFAULT_LOOKBACK)
            return put_rep(session, org_id, rep_id, document, context.clock(), lookback)

        result = await context.in_transaction(write)
        shown = result.rep.to_json(context.clock(), silence_after)
        return JSONResponse(shown, status_code=201 if result.created else 200)

    async def get(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        rep = await context.in_transaction(lambda session: require_rep(session, org_id, rep_id))
        return JSONResponse(rep.to_json(context.clock(), silence_after))

    async def activity(request: Request) -> JSONResponse:
        """E10: synced and system-generated emails dated in [from, to); hidden ones excluded."""
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        query = read_query(request, ActivityQuery)
        end = query.until or context.clock()
        try:
            start = query.since or end - timedelta(days=30)
        except OverflowError:  # 'to' in January of year 1: 30 days before is no time
            start = end
        if start >= end or end - start > MAX_ACTIVITY_PERIOD:
            raise ApiError(
                400, "invalid_period", "'from' must be before 'to', at most 366 days apart"
            )

        def count(session: Session) -> dict[str, int]:
            require_rep(session, org_id, rep_id)
            return activity_counts(session, org_id, rep_id, start, end)

        counts = await context.in_transaction(count)
        counted: answers.Activity = {
            "rep_id": rep_id,
            "from": format_time(start),
            "to": format_time(end),
            "emails": {
                "synced": counts["synced"],
                "system_generated": counts["system"],
                "total": counts["synced"] + counts["system"],
            },
        }
        return JSONResponse(counted)

    return [PUT_REP.route(put), GET_REP.route(get), GET_ACTIVITY.route(activity)]
