"""Component schemas of the CRM API's answers, as JSON Schema (the dialect of OpenAPI 3.1).

Request bodies and query strings have their schemas generated from their models
(``api.openapi``); the answers listed here are still written as schemas, next to the
``to_json`` that builds them, until each has its typed model.
"""

from __future__ import annotations

from typing import Any

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
                "allOf": [
                    ref("Explanation"),
                    obj(
                        {
                            "decided_by": {
                                "type": ["string", "null"],
                                "description": "the notification_id whose outcome decided",
                            },
                            "notes": {"type": "array", "items": {"type": "string"}},
                        },
                        ["decided_by", "notes"],
                    ),
                ]
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
    "NotificationPage": page_of("Notification"),
}
