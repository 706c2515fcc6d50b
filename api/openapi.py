"""``/openapi.json``: the CRM API described for clients and code generators (OpenAPI 3.1).

Request bodies read through a model (``domain.inputs``) have their schema generated from it
(:func:`model_schemas`); the rest is still written here, next to the endpoints, until each
has its model. The test suite keeps the two honest (the document is validated, and
schemathesis calls every operation with generated input and checks each answer against it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain.reps import RepInput

Schema = dict[str, Any]

ID = {"type": "string", "minLength": 1, "maxLength": 255}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TEXT = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
CURSOR = {"type": "string", "description": "opaque; pass back as given"}


REF_TEMPLATE = "#/components/schemas/{model}"


def ref(name: str) -> Schema:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required is not None:
        schema["required"] = required
    return schema


def model_schemas(*models: type[BaseModel]) -> dict[str, Schema]:
    """The components of request models, generated from them (pydantic's JSON Schema, the
    dialect OpenAPI 3.1 uses): each model and the models it holds, by name."""
    _, generated = models_json_schema(
        [(model, "validation") for model in models], ref_template=REF_TEMPLATE
    )
    return dict(generated.get("$defs", {}))


def page_of(item: str) -> Schema:
    return obj(
        {
            "data": {"type": "array", "items": ref(item)},
            "next_cursor": {"type": ["string", "null"]},
        },
        ["data", "next_cursor"],
    )


SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "array",
                        "description": "for a body of the wrong shape: each field that is "
                        "wrong (reason unknown_field: each key the document does not have)",
                        "items": obj(
                            {"path": {"type": "string"}, "problem": {"type": "string"}},
                            ["path", "problem"],
                        ),
                    },
                },
                ["reason", "message"],
            )
        },
        ["error"],
    ),
    **model_schemas(RepInput),
    "Rep": obj(
        {
            "id": {"type": "string"},
            "email": {"type": "string"},
            "grant_id": NULLABLE_TEXT,
            "provider": NULLABLE_TEXT,
            "settings": obj(
                {
                    "email_sync": {"type": "boolean"},
                    "folders": {"type": "array", "items": {"type": "string"}},
                    "calendar_sync": {"type": "boolean"},
                    "calendar_name": NULLABLE_TEXT,
                    "calendar_days_after": {"type": "integer"},
                    "sync_from": TIME,
                },
                [
                    "email_sync",
                    "folders",
                    "calendar_sync",
                    "calendar_name",
                    "calendar_days_after",
                    "sync_from",
                ],
            ),
            "account_status": obj(
                {
                    "status": {
                        "type": "string",
                        "description": "initializing, downloading, running, valid, partial, "
                        "invalid, invalid-credentials, sync-error, exception or stopped",
                    },
                    "meaning": NULLABLE_TEXT,
                    "next_action": NULLABLE_TEXT,
                    "since": NULLABLE_TIME,
                    "connected_at": NULLABLE_TIME,
                    "last_activity_at": NULLABLE_TIME,
                    "silent": {
                        "type": "boolean",
                        "description": "healthy, but not heard from for "
                        "CRMSYNC_SILENCE_AFTER_HOURS (not in changes)",
                    },
                },
                ["status", "meaning", "next_action"],
            ),
        },
        ["id", "email", "grant_id", "provider", "settings", "account_status"],
    ),
    "ConnectInput": obj(
        {
            "provider": {
                "type": "string",
                "enum": ["google", "microsoft", "imap", "icloud", "yahoo", "ews"],
            },
            "login_hint": {"type": "string", "description": "defaults to the rep's email"},
            "return_url": {
                "type": "string",
                "maxLength": 2048,
                "description": "where the callback sends the browser, with "
                "rep_id=&status=connected|failed[&error=] added to the query (before any "
                "#fragment); its origin must be in CRMSYNC_RETURN_URL_ORIGINS (else 400 "
                "return_url_not_allowed). error=mailbox_mismatch: the rep signed in with a "
                "mailbox other than the rep's own address",
            },
        }
    ),
    "SendInput": obj(
        {
            "send_key": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._:-]{1,64}$",
                "description": "the CRM's id for this send, unique per rep: a retry with the "
                "same key sends nothing more",
            },
            "to": {"type": "array", "items": ref("Recipient")},
            "cc": {"type": "array", "items": ref("Recipient")},
            "bcc": {"type": "array", "items": ref("Recipient")},
            "subject": {"type": "string", "maxLength": 998},
            "body": {"type": "string", "description": "HTML or plain text"},
            "reply_to_message_id": NULLABLE_TEXT,
            "reference": obj(
                {
                    "lead_id": {"type": "string"},
                    "contact_id": {"type": "string"},
                    "account_ref": {"type": "string"},
                }
            ),
        },
        ["send_key", "subject", "body"],
    ),
    "Recipient": obj({"email": {"type": "string"}, "name": NULLABLE_TEXT}, ["email"]),
    "ConnectUrl": obj({"url": {"type": "string"}, "expires_at": TIME}, ["url", "expires_at"]),
    "Disconnected": obj(
        {
            "rep": ref("Rep"),
            "grant_id": NULLABLE_TEXT,
            "grant_destroyed": {"type": ["boolean", "null"]},
            "grant_error": NULLABLE_TEXT,
        },
        ["rep", "grant_id", "grant_destroyed", "grant_error"],
    ),
    "Backfill": obj(
        {
            "id": {"type": "integer"},
            "rep_id": {"type": "string"},
            "kind": {"type": "string", "enum": ["mailbox", "contact"]},
            "state": {
                "type": "string",
                "enum": ["pending", "running", "done", "failed", "cancelled"],
            },
            "addresses": {"type": "array", "items": {"type": "string"}},
            "since": TIME,
            "until": TIME,
            "progress": obj(
                {
                    "percent": {"type": "number"},
                    "windows_total": {"type": "integer"},
                    "windows_done": {"type": "integer"},
                    "windows_left": {"type": "integer"},
                    "pages_done": {"type": "integer"},
                    "messages_scanned": {"type": "integer"},
                    "emails_stored": {"type": "integer"},
                    "messages_failed": {"type": "integer"},
                }
            ),
            "error": NULLABLE_TEXT,
            "created_at": TIME,
            "started_at": NULLABLE_TIME,
            "finished_at": NULLABLE_TIME,
        },
        ["id", "rep_id", "kind", "state", "progress"],
    ),
    "BackfillStatus": obj(
        {
            "mailbox": {"oneOf": [ref("Backfill"), {"type": "null"}]},
            "contacts": {"type": "array", "items": ref("Backfill")},
        },
        ["mailbox", "contacts"],
    ),
    "Activity": obj(
        {
            "rep_id": {"type": "string"},
            "from": TIME,
            "to": TIME,
            "emails": obj(
                {
                    "synced": {"type": "integer"},
                    "system_generated": {"type": "integer"},
                    "total": {"type": "integer"},
                },
                ["synced", "system_generated", "total"],
            ),
        },
        ["rep_id", "from", "to", "emails"],
    ),
    "ContactInput": obj(
        {
            "id": {"type": ["string", "integer"]},
            "emails": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
            "email": {"type": "string"},
            "name": NULLABLE_TEXT,
            "account_ref": NULLABLE_TEXT,
            "lead_ref": NULLABLE_TEXT,
        }
    ),
    "Contact": obj(
        {
            "id": {"type": "string"},
            "rep_id": {"type": "string"},
            "name": NULLABLE_TEXT,
            "emails": {"type": "array", "items": {"type": "string"}},
            "account_ref": NULLABLE_TEXT,
            "lead_ref": NULLABLE_TEXT,
        },
        ["id", "rep_id", "name", "emails", "account_ref", "lead_ref"],
    ),
    "ContactsReplaced": obj(
        {k: {"type": "integer"} for k in ("added", "updated", "removed", "unchanged")}
        | {"rep_id": {"type": "string"}},
        ["rep_id", "added", "updated", "removed", "unchanged"],
    ),
    "ActionItemInput": obj(
        {
            "title": {"type": "string", "maxLength": 1024},
            "description": {"type": "string"},
            "location": {"type": "string"},
            "start": TIME,
            "end": TIME,
            "timezone": {"type": "string", "description": "IANA zone"},
            "all_day": {"type": "boolean"},
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
            "participants": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
            "sync": {"type": "boolean"},
            "notify_participants": {"type": "boolean"},
            "changed_at": TIME,
        },
        ["title", "changed_at"],
    ),
    "ActionItem": obj(
        {
            "id": {"type": "string"},
            "rep_id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "location": {"type": "string"},
            "when": {"type": "object"},
            "participants": {"type": "array", "items": {"type": "string"}},
            "sync": {"type": "boolean"},
            "notify_participants": {"type": "boolean"},
            "changed_at": TIME,
            "changed_by": {"type": "string", "enum": ["crm", "calendar"]},
            "deleted": {"type": "boolean"},
            "calendar": obj(
                {
                    "status": {
                        "type": "string",
                        "enum": [
                            "linked",
                            "pending_push",
                            "push_failed",
                            "unlinked",
                            "not_synced",
                            "pending_delete",
                            "deleted",
                        ],
                    },
                    "event_id": NULLABLE_TEXT,
                    "calendar_id": NULLABLE_TEXT,
                    "last_pushed_at": NULLABLE_TIME,
                    "last_push_error": NULLABLE_TEXT,
                    "deleted_in_calendar_at": NULLABLE_TIME,
                },
                ["status", "event_id", "calendar_id", "last_pushed_at", "last_push_error"],
            ),
            "version": {"type": "integer"},
        },
        ["id", "rep_id", "title", "when", "sync", "changed_at", "deleted", "calendar"],
    ),
    "Email": obj(
        {
            "id": {"type": "integer"},
            "rep_id": {"type": "string"},
            "message_id": {
                "type": ["string", "null"],
                "description": "null only for a sent email Nylas has not accepted yet",
            },
            "grant_id": NULLABLE_TEXT,
            "thread_id": NULLABLE_TEXT,
            "source": {"type": "string", "enum": ["synced", "system"]},
            "subject": {"type": "string"},
            "snippet": {"type": "string"},
            "from": {"type": "array", "items": {"type": "object"}},
            "to": {"type": "array", "items": {"type": "object"}},
            "cc": {"type": "array", "items": {"type": "object"}},
            "bcc": {"type": "array", "items": {"type": "object"}},
            "date": TIME,
            "folders": {"type": "array", "items": {"type": "string"}},
            "folder_ids": {"type": "array", "items": {"type": "string"}},
            "unread": {"type": ["boolean", "null"]},
            "starred": {"type": ["boolean", "null"]},
            "attachments": {"type": "array", "items": {"type": "object"}},
            "contacts": {"type": "array", "items": {"type": "object"}},
            "hidden": {"type": "boolean"},
            "mailbox_deleted": {"type": "boolean"},
            "delivery": {
                "oneOf": [
                    {"type": "null"},
                    obj(
                        {
                            "state": {
                                "type": "string",
                                "enum": ["queued", "sent", "failed", "bounced"],
                            },
                            "error": NULLABLE_TEXT,
                            "send_key": {"type": "string"},
                            "reference": {"type": "object"},
                        },
                        ["state", "error", "send_key", "reference"],
                    ),
                ],
                "description": "for emails the CRM sent through crmsync; null otherwise",
            },
            "version": {"type": "integer"},
            "created_at": TIME,
            "updated_at": TIME,
            "body": NULLABLE_TEXT,
        },
        ["id", "rep_id", "message_id", "subject", "date", "hidden", "version"],
    ),
    "Change": obj(
        {
            "id": {"type": "string"},
            "seq": {"type": "integer"},
            "type": {"type": "string"},
            "entity": {"type": "string"},
            "entity_id": {"type": "string"},
            "rep_id": NULLABLE_TEXT,
            "operation": {"type": "string", "enum": ["create", "update", "delete"]},
            "entity_version": {"type": "integer"},
            "created_at": TIME,
            "cursor": CURSOR,
            "payload": {"type": "object"},
        },
        [
            "id",
            "seq",
            "type",
            "entity",
            "entity_id",
            "rep_id",
            "operation",
            "entity_version",
            "created_at",
            "cursor",
            "payload",
        ],
    ),
    "ChangePage": obj(
        {
            "data": {"type": "array", "items": ref("Change")},
            "next_cursor": CURSOR,
            "has_more": {"type": "boolean"},
        },
        ["data", "next_cursor", "has_more"],
    ),
    "Cursor": obj({"cursor": CURSOR, "at": TIME}, ["cursor"]),
    "SubscriptionInput": obj(
        {
            "url": {"type": "string", "format": "uri"},
            "event_types": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
            "description": {"type": "string", "maxLength": 500},
            "status": {"type": "string", "enum": ["active", "disabled"]},
        }
    ),
    "Subscription": obj(
        {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "event_types": {"type": "array", "items": {"type": "string"}},
            "description": NULLABLE_TEXT,
            "status": {"type": "string", "enum": ["active", "disabled"]},
            "disabled_reason": NULLABLE_TEXT,
            "disabled_at": NULLABLE_TIME,
            "failing_since": NULLABLE_TIME,
            "previous_secret_until": NULLABLE_TIME,
            "created_at": TIME,
            "updated_at": TIME,
            "secret": {"type": "string", "description": "only when just created or rotated"},
        },
        ["id", "url", "event_types", "status", "created_at", "updated_at"],
    ),
    "Explanation": obj(
        {
            "outcome": {
                "type": "string",
                "description": "the outcome in a word (stored, no_contact, folder_not_synced, "
                "before_sync_from, email_sync_off, hidden, never_seen, failed, ...)",
            },
            "rule": {"type": "string", "description": "the rule that decided (E2 folder, ...)"},
            "sentence": {"type": "string"},
            "would_change": {"type": "string"},
        },
        ["outcome", "rule", "sentence", "would_change"],
    ),
    "Notification": obj(
        {
            "id": {"type": "integer"},
            "notification_id": {"type": "string"},
            "api_version": {"type": "string", "enum": ["v3", "v2"]},
            "type": {"type": "string"},
            "trigger": {"type": "string"},
            "grant_id": NULLABLE_TEXT,
            "object_id": {
                "type": ["string", "null"],
                "description": "what it is about: for a message notification, the message id",
            },
            "occurred_at": NULLABLE_TIME,
            "received_at": TIME,
            "handled_at": NULLABLE_TIME,
            "state": {"type": "string"},
            "attempts": {"type": "integer"},
            "last_error": NULLABLE_TEXT,
            "explanation": ref("Explanation"),
            "payload": {
                "type": "object",
                "description": "as Nylas sent it; only with include_payload=true",
            },
        },
        [
            "id",
            "notification_id",
            "type",
            "trigger",
            "grant_id",
            "received_at",
            "state",
            "explanation",
        ],
    ),
    "MessageDecision": obj(
        {
            "rep_id": {"type": "string"},
            "message_id": {"type": "string"},
            "decision": {
                "allOf": [ref("Explanation")],
                "properties": {
                    "decided_by": {
                        "type": ["string", "null"],
                        "description": "the notification_id whose outcome decided",
                    },
                    "notes": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["decided_by", "notes"],
            },
            "grant_ids": {"type": "array", "items": {"type": "string"}},
            "notifications": {"type": "array", "items": ref("Notification")},
            "notifications_omitted": {"type": "integer", "minimum": 0},
            "email": {"oneOf": [ref("Email"), {"type": "null"}]},
            "parked": {
                "oneOf": [
                    obj(
                        {
                            "parked_at": TIME,
                            "decide_by": TIME,
                            "folder_ids": {"type": "array", "items": {"type": "string"}},
                            "unknown_folder_ids": {
                                "type": "array",
                                "items": {"type": "string"},
                            },
                        },
                        ["parked_at", "decide_by", "folder_ids", "unknown_folder_ids"],
                    ),
                    {"type": "null"},
                ],
                "description": "when the message waits for its folders (folder_pending): since "
                "when, when it is decided at the latest, and which of its folder ids are not "
                "yet known for the mailbox",
            },
            "sync": obj(
                {
                    "email_sync": {"type": "boolean"},
                    "folders": {"type": "array", "items": {"type": "string"}},
                    "sync_from": TIME,
                    "mailbox_backfill": {"type": ["object", "null"]},
                },
                ["email_sync", "folders", "sync_from", "mailbox_backfill"],
            ),
        },
        [
            "rep_id",
            "message_id",
            "decision",
            "grant_ids",
            "notifications",
            "notifications_omitted",
            "email",
            "parked",
            "sync",
        ],
    ),
    "Delivery": obj(
        {
            "id": {"type": "integer"},
            "change_id": {"type": "string"},
            "type": {"type": "string"},
            "state": {
                "type": "string",
                "enum": ["pending", "delivered", "failed", "exhausted", "cancelled"],
            },
            "attempts": {"type": "array", "items": {"type": "object"}},
            "next_attempt_at": NULLABLE_TIME,
            "delivered_at": NULLABLE_TIME,
        },
        ["id", "change_id", "type", "state", "attempts"],
    ),
}


def answer(description: str, schema: Schema | None = None) -> Schema:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = ref("Error")
REFUSALS = {
    "400": answer("bad input; `error.reason` names what", ERROR),
    "401": answer("no valid bearer token", ERROR),
    "404": answer("no such entity, or no such path (an id holding '/')", ERROR),
}


def operation(
    summary: str,
    responses: dict[str, Schema],
    *,
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    refusals: tuple[str, ...] = (),
) -> Schema:
    op: Schema = {"summary": summary, "responses": {**responses, **REFUSALS}}
    for status in refusals:
        op["responses"][status] = answer(_REFUSAL_TEXT[status], ERROR)
        if status == "429":
            op["responses"][status]["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"]["413"] = answer("the body is too large", ERROR)
    return op


def body_optional(op: Schema) -> Schema:
    """``op`` with its request body optional (every field of it has a default)."""
    op["requestBody"]["required"] = False
    return op


_REFUSAL_TEXT = {
    "409": "conflict",
    "410": "the cursor has expired",
    "429": "a limit is reached (CRMSYNC_MAX_SUBSCRIPTIONS, or this token's open streams or "
    "long-polls); `error.reason` names which",
    "503": "Nylas is not configured (NYLAS_API_KEY, NYLAS_CLIENT_ID)",
}


def path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def query(name: str, schema: Schema, description: str = "") -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


LIMIT = query("limit", {"type": "integer", "minimum": 1, "maximum": 200})
CURSOR_PARAM = query("cursor", {"type": "string"})
REP = path_param("rep_id")
CONTACT = path_param("contact_id")
SUBSCRIPTION = path_param("subscription_id")
EMAIL = {
    "name": "email_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
FEED_FILTERS = [
    query("types", {"type": "string"}, "comma-separated change types or families (email.*)"),
    query("rep_id", {"type": "string"}),
]

PATHS: dict[str, Schema] = {
    "/v1/reps/{rep_id}": {
        "parameters": [REP],
        "put": operation(
            "Register or replace a rep",
            {"200": answer("replaced", ref("Rep")), "201": answer("created", ref("Rep"))},
            body=ref("RepInput"),
            refusals=("409",),
        ),
        "get": operation("A rep", {"200": answer("the rep", ref("Rep"))}),
    },
    "/v1/reps/{rep_id}/connect": {
        "parameters": [REP],
        "post": body_optional(
            operation(
                "Start connecting the rep's mailbox: a hosted OAuth URL for its browser",
                {"200": answer("the URL, valid until expires_at", ref("ConnectUrl"))},
                body=ref("ConnectInput"),
                refusals=("503",),
            )
        ),
    },
    "/v1/reps/{rep_id}/disconnect": {
        "parameters": [REP],
        "post": operation(
            "Disconnect the rep's mailbox: the grant is destroyed, stored emails stay",
            {"200": answer("the rep, stopped", ref("Disconnected"))},
        ),
    },
    "/v1/reps/{rep_id}/backfill": {
        "parameters": [REP],
        "post": operation(
            "Read the rep's mail since its sync-from again (replaces a running backfill)",
            {"202": answer("recorded; it starts within a second", ref("Backfill"))},
            refusals=("409",),
        ),
        "get": operation(
            "The rep's latest mailbox backfill and its running contact backfills",
            {"200": answer("progress", ref("BackfillStatus"))},
        ),
    },
    "/v1/reps/{rep_id}/emails": {
        "parameters": [REP],
        "post": operation(
            "Send an email from the rep's mailbox; stored at once as system-generated",
            {
                "202": answer("stored and queued for sending", ref("Email")),
                "200": answer("this send_key was used before: the email it made", ref("Email")),
            },
            body=ref("SendInput"),
            refusals=("409",),
        ),
    },
    "/v1/reps/{rep_id}/activity": {
        "parameters": [REP],
        "get": operation(
            "Synced and system-generated email counts over a period",
            {"200": answer("the counts", ref("Activity"))},
            parameters=[query("from", TIME), query("to", TIME)],
        ),
    },
    "/v1/reps/{rep_id}/contacts": {
        "parameters": [REP],
        "put": operation(
            "Replace the rep's whole contact list",
            {"200": answer("what changed", ref("ContactsReplaced"))},
            body=obj({"contacts": {"type": "array", "items": ref("ContactInput")}}, ["contacts"]),
        ),
        "get": operation(
            "The rep's contacts, in id order",
            {"200": answer("a page", page_of("Contact"))},
            parameters=[
                query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                CURSOR_PARAM,
            ],
        ),
    },
    "/v1/reps/{rep_id}/contacts/{contact_id}": {
        "parameters": [REP, CONTACT],
        "put": operation(
            "Add or update one contact",
            {"200": answer("updated", ref("Contact")), "201": answer("added", ref("Contact"))},
            body=ref("ContactInput"),
        ),
        "get": operation("One contact", {"200": answer("the contact", ref("Contact"))}),
        "delete": operation("Remove one contact", {"204": answer("removed")}),
    },
    "/v1/reps/{rep_id}/action-items": {
        "parameters": [REP],
        "get": operation(
            "The rep's action items, in id order",
            {"200": answer("a page", page_of("ActionItem"))},
            parameters=[LIMIT, CURSOR_PARAM],
        ),
    },
    "/v1/reps/{rep_id}/action-items/{item_id}": {
        "parameters": [REP, path_param("item_id")],
        "put": operation(
            "Create or update an action item (last writer wins against the calendar)",
            {
                "200": answer("updated", ref("ActionItem")),
                "201": answer("created", ref("ActionItem")),
            },
            body=ref("ActionItemInput"),
        ),
        "get": operation(
            "One action item and its calendar sync state",
            {"200": answer("the item", ref("ActionItem"))},
        ),
        "delete": operation(
            "Delete an action item in the CRM; its event is deleted, the item kept, marked",
            {"200": answer("the item, deleted", ref("ActionItem"))},
            parameters=[query("changed_at", TIME)],
        ),
    },
    "/v1/emails": {
        "get": operation(
            "Emails by rep, contact or account, newest first (at least one filter)",
            {"200": answer("a page", page_of("Email"))},
            parameters=[
                query("rep_id", {"type": "string"}),
                query("contact_id", {"type": "string"}),
                query("account_ref", {"type": "string"}),
                query("include_hidden", {"type": "string", "enum": ["true", "false"]}),
                LIMIT,
                CURSOR_PARAM,
            ],
        ),
    },
    "/v1/emails/{email_id}": {
        "parameters": [EMAIL],
        "get": operation("One email with its body", {"200": answer("the email", ref("Email"))}),
    },
    "/v1/emails/{email_id}/hide": {
        "parameters": [EMAIL],
        "post": operation(
            "Hide an email in the CRM only",
            {"200": answer("the email, hidden", ref("Email"))},
        ),
    },
    "/v1/reps/{rep_id}/messages/{message_id}": {
        "parameters": [
            REP,
            {
                "name": "message_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
            },
        ],
        "get": operation(
            "Why a Nylas message is or is not in the CRM: the decision, every notification "
            "seen for it, the stored email",
            {"200": answer("the decision", ref("MessageDecision"))},
        ),
    },
    "/v1/notifications": {
        "get": operation(
            "A rep's (or a grant's) stored notifications, newest first, outcomes explained",
            {"200": answer("a page", page_of("Notification"))},
            parameters=[
                query("rep_id", {"type": "string"}, "rep_id or grant_id (or both) is required"),
                query("grant_id", {"type": "string"}, "a mailbox grant, held by a rep or not"),
                query("outcome", {"type": "string"}, "only this outcome word (or state)"),
                query("since", TIME, "received at or after"),
                query(
                    "include_payload",
                    {"type": "string", "enum": ["true", "false"]},
                    "with what Nylas sent (then limit is at most 20)",
                ),
                LIMIT,
                CURSOR_PARAM,
            ],
        ),
    },
    "/v1/changes": {
        "get": operation(
            "Changes after a cursor, in feed order; long-polls with wait",
            {"200": answer("a page", ref("ChangePage"))},
            parameters=[
                CURSOR_PARAM,
                query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                query("wait", {"type": "integer", "minimum": 0, "maximum": 30}),
                *FEED_FILTERS,
            ],
            refusals=("410", "429"),
        ),
    },
    "/v1/changes/latest": {
        "get": operation("A cursor at the head", {"200": answer("the cursor", ref("Cursor"))}),
    },
    "/v1/changes/cursor": {
        "get": operation(
            "A cursor before the first change recorded at or after a time",
            {"200": answer("the cursor", ref("Cursor"))},
            parameters=[{**query("at", TIME), "required": True}],
        ),
    },
    "/v1/changes/stream": {
        "get": {
            **operation(
                "The feed as Server-Sent Events; resume with Last-Event-ID",
                {
                    "200": {
                        "description": "an endless event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                },
                parameters=[
                    CURSOR_PARAM,
                    query("heartbeat", {"type": "integer", "minimum": 1, "maximum": 60}),
                    *FEED_FILTERS,
                ],
                refusals=("410", "429"),
            ),
        },
    },
    "/v1/subscriptions": {
        "post": operation(
            "Subscribe an endpoint; the secret is shown only in this answer",
            {"201": answer("created", ref("Subscription"))},
            body=ref("SubscriptionInput"),
            refusals=("429",),
        ),
        "get": operation(
            "Every subscription",
            {
                "200": answer(
                    "the list",
                    obj({"data": {"type": "array", "items": ref("Subscription")}}, ["data"]),
                )
            },
        ),
    },
    "/v1/subscriptions/{subscription_id}": {
        "parameters": [SUBSCRIPTION],
        "get": operation("One subscription", {"200": answer("it", ref("Subscription"))}),
        "patch": operation(
            "Change or re-enable a subscription",
            {"200": answer("changed", ref("Subscription"))},
            body=ref("SubscriptionInput"),
        ),
        "delete": operation("Delete a subscription", {"204": answer("deleted")}),
    },
    "/v1/subscriptions/{subscription_id}/rotate-secret": {
        "parameters": [SUBSCRIPTION],
        "post": operation(
            "A new secret; the old one signs beside it for the overlap",
            {"200": answer("with the new secret", ref("Subscription"))},
        )
        | {
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": obj(
                            {"overlap_hours": {"type": "integer", "minimum": 0, "maximum": 168}}
                        )
                    }
                },
            }
        },
    },
    "/v1/subscriptions/{subscription_id}/deliveries": {
        "parameters": [SUBSCRIPTION],
        "get": operation(
            "The delivery log, newest first",
            {"200": answer("a page", page_of("Delivery"))},
            parameters=[LIMIT, CURSOR_PARAM],
        ),
    },
}


# Each operation's id (the name a generated client gives its call) and its tag (the module).
OPERATION_IDS: dict[tuple[str, str], tuple[str, str]] = {
    ("/v1/reps/{rep_id}", "put"): ("put_rep", "reps"),
    ("/v1/reps/{rep_id}", "get"): ("get_rep", "reps"),
    ("/v1/reps/{rep_id}/connect", "post"): ("connect_rep", "accounts"),
    ("/v1/reps/{rep_id}/disconnect", "post"): ("disconnect_rep", "accounts"),
    ("/v1/reps/{rep_id}/backfill", "post"): ("start_backfill", "accounts"),
    ("/v1/reps/{rep_id}/backfill", "get"): ("get_backfill", "accounts"),
    ("/v1/reps/{rep_id}/emails", "post"): ("send_email", "emails"),
    ("/v1/reps/{rep_id}/activity", "get"): ("get_activity", "emails"),
    ("/v1/reps/{rep_id}/contacts", "put"): ("replace_contacts", "contacts"),
    ("/v1/reps/{rep_id}/contacts", "get"): ("list_contacts", "contacts"),
    ("/v1/reps/{rep_id}/contacts/{contact_id}", "put"): ("put_contact", "contacts"),
    ("/v1/reps/{rep_id}/contacts/{contact_id}", "get"): ("get_contact", "contacts"),
    ("/v1/reps/{rep_id}/contacts/{contact_id}", "delete"): ("delete_contact", "contacts"),
    ("/v1/reps/{rep_id}/action-items", "get"): ("list_action_items", "action_items"),
    ("/v1/reps/{rep_id}/action-items/{item_id}", "put"): ("put_action_item", "action_items"),
    ("/v1/reps/{rep_id}/action-items/{item_id}", "get"): ("get_action_item", "action_items"),
    ("/v1/reps/{rep_id}/action-items/{item_id}", "delete"): ("delete_action_item", "action_items"),
    ("/v1/emails", "get"): ("list_emails", "emails"),
    ("/v1/emails/{email_id}", "get"): ("get_email", "emails"),
    ("/v1/emails/{email_id}/hide", "post"): ("hide_email", "emails"),
    ("/v1/reps/{rep_id}/messages/{message_id}", "get"): ("explain_message", "notifications"),
    ("/v1/notifications", "get"): ("list_notifications", "notifications"),
    ("/v1/changes", "get"): ("list_changes", "changes"),
    ("/v1/changes/latest", "get"): ("latest_cursor", "changes"),
    ("/v1/changes/cursor", "get"): ("cursor_at", "changes"),
    ("/v1/changes/stream", "get"): ("stream_changes", "changes"),
    ("/v1/subscriptions", "post"): ("create_subscription", "subscriptions"),
    ("/v1/subscriptions", "get"): ("list_subscriptions", "subscriptions"),
    ("/v1/subscriptions/{subscription_id}", "get"): ("get_subscription", "subscriptions"),
    ("/v1/subscriptions/{subscription_id}", "patch"): ("update_subscription", "subscriptions"),
    ("/v1/subscriptions/{subscription_id}", "delete"): ("delete_subscription", "subscriptions"),
    ("/v1/subscriptions/{subscription_id}/rotate-secret", "post"): (
        "rotate_subscription_secret",
        "subscriptions",
    ),
    ("/v1/subscriptions/{subscription_id}/deliveries", "get"): ("list_deliveries", "subscriptions"),
}


def _named(paths: dict[str, Schema]) -> dict[str, Schema]:
    for (path, method), (operation_id, tag) in OPERATION_IDS.items():
        paths[path][method]["operationId"] = operation_id
        paths[path][method]["tags"] = [tag]
    return paths


def openapi_document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crmsync CRM API",
            "version": "1",
            "description": "Reps, contacts, synced emails, and the change feed, stream and "
            "webhooks through which a CRM follows everything crmsync stores.",
        },
        "security": [{"bearer": []}],
        "paths": _named(PATHS),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def query_parameters(path: str, method: str) -> frozenset[str]:
    """The query parameters the document allows for ``method`` on ``path``.

    Raises:
        KeyError: the document does not describe this operation.
    """
    item = PATHS[path]
    operation_parameters = item[method.lower()].get("parameters", [])
    return frozenset(
        p["name"]
        for p in [*item.get("parameters", []), *operation_parameters]
        if p["in"] == "query"
    )


def openapi_routes() -> list[Route]:
    document = openapi_document()

    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return [Route("/openapi.json", serve, methods=["GET"])]
