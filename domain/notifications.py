"""Nylas notification bodies parsed into typed notifications.

A body is either a v3 envelope (CloudEvents style: ``id``, ``type``, ``time``, ``data``) or
a v2 body (``{"deltas": [...]}``, each delta one unit of work that carries ids only). Both
become :class:`Notification` values that the rest of crmsync handles alike.

The dedupe key (rule N2) is the envelope ``id`` for v3. A v2 delta has no id, so its key is
a stable hash of the delta's canonical JSON: the same delta delivered twice gets the same key.

Parsing is strict about what routing and deduplication need (``id``, ``type``, ``data`` and
their types) and tolerant about everything else, because Nylas adds fields and its own
examples leave some out (``time`` is missing from some ``event.deleted`` samples, and the
Nylas CLI sends it as an RFC 3339 string).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from domain.errors import MalformedNotification
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from domain.triggers import WorkKind, route, split_type

ApiVersion = Literal["v3", "v2"]


@dataclass(frozen=True, slots=True)
class Notification:
    """One unit of work from Nylas: a v3 envelope or one v2 delta."""

    notification_id: str
    api_version: ApiVersion
    type: str
    trigger: str
    flags: frozenset[str]
    grant_id: str | None
    object_id: str | None
    occurred_at: int | None
    payload: Mapping[str, Any]
    # The organization whose URL or own Nylas application it came through, if any: it may
    # concern only that organization's grants. None for the deployment's URL and secrets.
    via_org: str | None = None

    @property
    def kind(self) -> WorkKind:
        """The queue this notification belongs on (``other`` for a trigger not handled)."""
        return route(self.trigger)

    @property
    def truncated(self) -> bool:
        """True when Nylas left large fields out and the object must be fetched (E5)."""
        return "truncated" in self.flags


# Nylas v2 batches a handful of deltas per body. A body of thousands is no real batch, only
# work for every process it reaches (parsed, logged, queued): refused whole, with a reason.
MAX_V2_DELTAS = 1_000


def parse_document(document: object) -> list[Notification]:
    """Parse a decoded notification body into its units of work.

    Raises:
        MalformedNotification: when the body is neither a v3 envelope nor a v2 deltas body.
    """
    if not isinstance(document, dict):
        raise MalformedNotification("not_an_object", "the body must be a JSON object")
    if "deltas" in document and "specversion" not in document:
        deltas = document["deltas"]
        if not isinstance(deltas, list) or not deltas:
            raise MalformedNotification("invalid_deltas", "'deltas' must be a non-empty list")
        if len(deltas) > MAX_V2_DELTAS:
            raise MalformedNotification(
                "too_many_deltas", f"a v2 body carries at most {MAX_V2_DELTAS} deltas"
            )
        return [parse_unit("v2", delta) for delta in deltas]
    return [parse_unit("v3", document)]


def parse_unit(api_version: ApiVersion, payload: object) -> Notification:
    """Parse one unit: a v3 envelope or a single v2 delta."""
    if not isinstance(payload, dict):
        raise MalformedNotification(
            "not_an_object", f"a {api_version} notification must be an object"
        )
    if api_version == "v3":
        return _parse_v3(payload)
    return _parse_v2_delta(payload)


def _parse_v3(envelope: dict[str, Any]) -> Notification:
    notification_id = _stored_id(_required_text(envelope, "id"))
    delivered_type = _required_text(envelope, "type")
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise MalformedNotification("invalid_data", "'data' must be an object")
    obj = data.get("object")
    if obj is not None and not isinstance(obj, dict):
        raise MalformedNotification("invalid_data", "'data.object' must be an object")
    obj = obj or {}
    trigger, flags = split_type(delivered_type)
    return Notification(
        notification_id=notification_id,
        api_version="v3",
        type=delivered_type,
        trigger=trigger,
        flags=flags,
        grant_id=_grant_id(obj.get("grant_id")) or _grant_id(data.get("grant_id")),
        # Tracking notifications (message.opened, ...) name their message in ``message_id``.
        object_id=_optional_text(obj.get("id")) or _optional_text(obj.get("message_id")),
        occurred_at=parse_time(envelope.get("time")),
        payload=envelope,
    )


def _parse_v2_delta(delta: dict[str, Any]) -> Notification:
    delivered_type = _required_text(delta, "type")
    object_data = delta.get("object_data")
    if not isinstance(object_data, dict):
        raise MalformedNotification("invalid_data", "a v2 delta needs an 'object_data' object")
    trigger, flags = split_type(delivered_type)
    return Notification(
        notification_id=v2_notification_id(delta),
        api_version="v2",
        type=delivered_type,
        trigger=trigger,
        flags=flags,
        grant_id=_grant_id(object_data.get("account_id"))
        or _grant_id(object_data.get("namespace_id")),
        object_id=_optional_text(object_data.get("id")),
        occurred_at=parse_time(delta.get("date")),
        payload=delta,
    )


def v2_notification_id(delta: Mapping[str, Any]) -> str:
    """A stable id for a v2 delta: the same delta always hashes to the same id."""
    # ASCII escapes make any decoded JSON encodable, lone surrogates included.
    canonical = json.dumps(delta, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "v2-" + hashlib.sha256(canonical.encode()).hexdigest()


# No notification is dated after the year 5138 in seconds: a larger value is milliseconds,
# as some Nylas examples send (notetaker.media).
_MILLISECONDS_FROM = 100_000_000_000


def parse_time(value: object) -> int | None:
    """Unix seconds from an envelope ``time``: integer seconds or milliseconds, an RFC 3339
    string, or absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedNotification("invalid_time", "'time' must be Unix seconds or RFC 3339")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return value // 1000 if value >= _MILLISECONDS_FROM else value
    if isinstance(value, str):
        if value[-1:] in ("Z", "z"):
            value = value[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return int(parsed.timestamp())
    raise MalformedNotification("invalid_time", "'time' must be Unix seconds or RFC 3339")


# Stored notification ids are at most this long (raw_notifications.notification_id).
MAX_NOTIFICATION_ID_LENGTH = 255
_HASHED_ID_PREFIX = "sha256-"


def _stored_id(notification_id: str) -> str:
    """The id a notification is stored and deduplicated under: as Nylas sent it, or, when it
    is longer than a stored id or holds characters a database refuses (NUL) or a log line
    should not carry (controls), a stable hash of it, so the notification is kept and a
    redelivery is still a duplicate."""
    if len(notification_id) <= MAX_NOTIFICATION_ID_LENGTH and notification_id.isprintable():
        return notification_id
    digest = hashlib.sha256(notification_id.encode("utf-8", "surrogatepass")).hexdigest()
    return _HASHED_ID_PREFIX + digest


def _required_text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedNotification(f"missing_{key}", f"'{key}' must be a non-empty string")
    return value


def _grant_id(value: object) -> str | None:
    """The grant a notification names, if any (blank or not text: none); text of another
    shape than Nylas's refuses the body, as it would reach other paths of the Nylas API."""
    if not isinstance(value, str) or not value:
        return None
    if not is_grant_id(value):
        raise MalformedNotification("invalid_grant_id", f"a grant id is {GRANT_ID_SHAPE}")
    return value


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
