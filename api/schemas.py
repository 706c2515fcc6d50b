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
    "ContactPage": page_of("Contact"),
    "ActionItemPage": page_of("ActionItem"),
    "EmailPage": page_of("Email"),
    "NotificationPage": page_of("Notification"),
    "DeliveryPage": page_of("Delivery"),
    "SubscriptionList": obj({"data": {"type": "array", "items": ref("Subscription")}}, ["data"]),
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
