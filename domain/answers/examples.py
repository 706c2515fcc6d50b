"""An example of each answer an operation gives, as a CRM developer reads it in
``/openapi.json``; the test suite checks that each one is valid by its own schema."""

from __future__ import annotations

from typing import Any

GRANT = "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
CURSOR = "eyJ0IjoxMjAzNCwicyI6ODh9"
PAGE_CURSOR = "eyJhZnRlciI6ImMtMiJ9"

REP: dict[str, Any] = {
    "id": "rep-ann",
    "email": "ann@crm-customer.example",
    "grant_id": GRANT,
    "provider": "google",
    "settings": {
        "email_sync": True,
        "folders": ["INBOX", "SENT"],
        "calendar_sync": True,
        "calendar_name": None,
        "calendar_days_after": 30,
        "sync_from": "2026-10-21T00:00:00Z",
    },
    "account_status": {
        "status": "valid",
        "meaning": "The mailbox is connected and syncing.",
        "next_action": "Nothing.",
        "since": "2026-11-20T08:00:00Z",
        "connected_at": "2026-11-20T08:00:00Z",
        "last_activity_at": "2026-11-20T08:30:02Z",
        "silent": False,
    },
}
CONTACT: dict[str, Any] = {
    "id": "c-1",
    "rep_id": "rep-ann",
    "name": "Dana",
    "emails": ["dana@acme.example"],
    "account_ref": "A-9",
    "lead_ref": None,
}
EMAIL: dict[str, Any] = {
    "id": 4711,
    "rep_id": "rep-ann",
    "message_id": "18c2f0a9b3d4e5f6",
    "grant_id": GRANT,
    "thread_id": "18c2f0a9b3d4e000",
    "source": "synced",
    "subject": "Re: the renewal",
    "snippet": "Thanks Ann, see you Monday",
    "from": [{"email": "dana@acme.example", "name": "Dana"}],
    "to": [{"email": "ann@crm-customer.example", "name": None}],
    "cc": [],
    "bcc": [],
    "date": "2026-11-20T08:30:00Z",
    "folders": ["INBOX"],
    "folder_ids": ["INBOX"],
    "unread": True,
    "starred": False,
    "attachments": [
        {
            "id": "att-1",
            "filename": "quote.pdf",
            "content_type": "application/pdf",
            "size": 48213,
            "is_inline": False,
        }
    ],
    "contacts": [{"id": "c-1", "account_ref": "A-9", "lead_ref": None, "roles": ["from"]}],
    "hidden": False,
    "mailbox_deleted": False,
    "delivery": None,
    "version": 1,
    "created_at": "2026-11-20T08:30:02Z",
    "updated_at": "2026-11-20T08:30:02Z",
}
BACKFILL: dict[str, Any] = {
    "id": 12,
    "rep_id": "rep-ann",
    "kind": "mailbox",
    "state": "running",
    "addresses": [],
    "since": "2026-10-21T00:00:00Z",
    "until": "2026-11-20T08:00:00Z",
    "progress": {
        "percent": 40.0,
        "windows_total": 30,
        "windows_done": 12,
        "windows_left": 18,
        "pages_done": 25,
        "messages_scanned": 2480,
        "emails_stored": 312,
        "messages_failed": 0,
    },
    "error": None,
    "created_at": "2026-11-20T08:00:00Z",
    "started_at": "2026-11-20T08:00:01Z",
    "finished_at": None,
}
ACTION_ITEM: dict[str, Any] = {
    "id": "task-7",
    "rep_id": "rep-ann",
    "title": "Call Dana about the renewal",
    "description": "",
    "location": "",
    "when": {"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:30:00Z", "timezone": None},
    "participants": ["dana@acme.example"],
    "sync": True,
    "notify_participants": False,
    "changed_at": "2026-11-20T08:30:00Z",
    "changed_by": "crm",
    "deleted": False,
    "calendar": {
        "status": "linked",
        "event_id": "evt-93",
        "calendar_id": "primary",
        "last_pushed_at": "2026-11-20T08:30:03Z",
        "last_push_error": None,
        "deleted_in_calendar_at": None,
    },
    "version": 2,
}
EXPLANATION: dict[str, Any] = {
    "outcome": "stored",
    "rule": "E2 contact",
    "sentence": "Stored: the message is with the rep's contact.",
    "would_change": "Hiding it (POST /v1/emails/{id}/hide) keeps it out of the CRM.",
}
NOTIFICATION: dict[str, Any] = {
    "id": 901,
    "notification_id": "ntf-5d1c",
    "api_version": "v3",
    "type": "message.created",
    "trigger": "message.created",
    "grant_id": GRANT,
    "object_id": "18c2f0a9b3d4e5f6",
    "occurred_at": "2026-11-20T08:30:00Z",
    "received_at": "2026-11-20T08:30:01Z",
    "handled_at": "2026-11-20T08:30:02Z",
    "state": "handled",
    "attempts": 1,
    "last_error": None,
    "explanation": EXPLANATION,
}
CHANGE: dict[str, Any] = {
    "id": "chg_7d1f0c",
    "seq": 88,
    "type": "email.stored",
    "entity": "email",
    "entity_id": "4711",
    "rep_id": "rep-ann",
    "operation": "create",
    "entity_version": 1,
    "created_at": "2026-11-20T08:30:02Z",
    "cursor": CURSOR,
    "payload": {"id": 4711, "subject": "Re: the renewal"},
}
SUBSCRIPTION: dict[str, Any] = {
    "id": "sub_3f2a",
    "url": "https://crm.example/hooks/crmsync",
    "event_types": ["email.*"],
    "description": "CRM production",
    "status": "active",
    "disabled_reason": None,
    "disabled_at": None,
    "failing_since": None,
    "previous_secret_until": None,
    "created_at": "2026-11-20T08:00:00Z",
    "updated_at": "2026-11-20T08:00:00Z",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
DELIVERY: dict[str, Any] = {
    "id": 77,
    "change_id": "chg_7d1f0c",
    "type": "email.stored",
    "state": "delivered",
    "attempts": [
        {
            "attempt": 1,
            "at": "2026-11-20T08:30:03Z",
            "status_code": 200,
            "latency_ms": 41,
            "error": None,
        }
    ],
    "next_attempt_at": None,
    "delivered_at": "2026-11-20T08:30:03Z",
}

ORGANIZATION: dict[str, Any] = {
    "id": "acme",
    "name": "Acme Corp",
    "provider_apps": {
        "microsoft": {
            "client_id": "5a7c1e2f-0b3d-4c8e-9f6a-1b2c3d4e5f60",
            "client_secret_set": True,
            "credential_id": None,
        }
    },
    "nylas_application": None,
    "defaults": {
        "lookback_days": 90,
        "folders": None,
        "calendar_name": None,
        "calendar_days_after": None,
        "return_url_origins": ["https://acme.crm.example"],
        "connect_allowed_domains": ["acme.example"],
    },
    "version": 1,
    "created_at": "2026-11-20T08:00:00Z",
    "updated_at": "2026-11-20T08:00:00Z",
    "offboarding": None,
}

OFFBOARDING: dict[str, Any] = {
    "org_id": "acme",
    "state": "deleting",
    "requested_by": "token-1",
    "requested_at": "2026-12-04T09:00:00Z",
    "grants": {"total": 200, "disconnected": 200},
    "deleted": {"email_contacts": 412000, "contact_addresses": 31000, "contacts": 30500},
    "finished_at": None,
}

ORG_TOKEN: dict[str, Any] = {
    "id": "tok_5f1c2a9e0b7d4e36",
    "org_id": "acme",
    "name": "acme CRM production",
    "created_at": "2026-11-20T08:00:00Z",
    "last_used_at": "2026-11-20T08:31:00Z",
    "revoked_at": None,
}

# By component name: what /openapi.json shows as each answer's example.
EXAMPLES: dict[str, dict[str, Any]] = {
    "Rep": REP,
    "Contact": CONTACT,
    "ContactPage": {"data": [CONTACT], "next_cursor": PAGE_CURSOR},
    "ContactsReplaced": {
        "rep_id": "rep-ann",
        "added": 2,
        "updated": 1,
        "removed": 0,
        "unchanged": 1997,
    },
    "ConnectUrl": {
        "url": "https://api.us.nylas.com/v3/connect/auth?client_id=...&state=...",
        "expires_at": "2026-11-20T08:15:00Z",
    },
    "Disconnected": {
        "rep": {**REP, "grant_id": None},
        "grant_id": GRANT,
        "grant_destroyed": True,
        "grant_error": None,
    },
    "Backfill": BACKFILL,
    "BackfillStatus": {"mailbox": BACKFILL, "contacts": []},
    "Activity": {
        "rep_id": "rep-ann",
        "from": "2026-10-21T00:00:00Z",
        "to": "2026-11-20T00:00:00Z",
        "emails": {"synced": 312, "system_generated": 18, "total": 330},
    },
    "Email": EMAIL,
    "EmailPage": {"data": [EMAIL], "next_cursor": None},
    "ActionItem": ACTION_ITEM,
    "ActionItemPage": {"data": [ACTION_ITEM], "next_cursor": None},
    "Notification": NOTIFICATION,
    "NotificationPage": {"data": [NOTIFICATION], "next_cursor": None},
    "MessageDecision": {
        "rep_id": "rep-ann",
        "message_id": "18c2f0a9b3d4e5f6",
        "decision": {**EXPLANATION, "decided_by": "ntf-5d1c", "notes": []},
        "grant_ids": [GRANT],
        "notifications": [NOTIFICATION],
        "notifications_omitted": 0,
        "email": EMAIL,
        "parked": None,
        "sync": {
            "email_sync": True,
            "folders": ["INBOX", "SENT"],
            "sync_from": "2026-10-21T00:00:00Z",
            "mailbox_backfill": {
                "state": "done",
                "since": "2026-10-21T00:00:00Z",
                "until": "2026-11-20T08:00:00Z",
                "finished_at": "2026-11-20T08:02:10Z",
            },
        },
    },
    "Change": CHANGE,
    "ChangePage": {"data": [CHANGE], "next_cursor": CURSOR, "has_more": False},
    "Cursor": {"cursor": CURSOR},
    "Subscription": SUBSCRIPTION,
    "SubscriptionList": {"data": [{k: v for k, v in SUBSCRIPTION.items() if k != "secret"}]},
    "Delivery": DELIVERY,
    "DeliveryPage": {"data": [DELIVERY], "next_cursor": None},
    "Organization": ORGANIZATION,
    "OrganizationPage": {"data": [ORGANIZATION], "next_cursor": None},
    "Offboarding": OFFBOARDING,
    "OffboardingPlan": {
        "org_id": "acme",
        "dry_run": True,
        "grants": 200,
        "rows": {"emails": 406000, "contacts": 30500, "reps": 200, "subscriptions": 2},
    },
    "OrgToken": {**ORG_TOKEN, "token": "cso_8m2Qx...Zr4"},
    "OrgTokenList": {"data": [ORG_TOKEN]},
    "Error": {
        "error": {
            "reason": "unknown_field",
            "message": "unknown field 'settings.calendar_synk'",
            "fields": [
                {"path": "settings.calendar_synk", "problem": "not a field of this document"}
            ],
        }
    },
}
