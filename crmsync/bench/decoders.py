"""Candidate decoders of a Nylas ingress body, measured against today's (issue 16 item 4).

Today the ingress decodes an authenticated body with ``webhooks.routes.decode_notifications``:
``orjson.loads``, the depth check, NULs replaced, then ``domain.notifications.parse_document``
(hand checks). Each candidate here takes the same bytes and returns the same notifications,
refusing what today refuses with the same reason, its checks in the same order (too deep
before a missing id, the first delta's fault before the second's):

- :func:`decode_pydantic_union`: the envelope as pydantic models, one ``TypeAdapter`` over
  "v2 body or v3 envelope" (strict, ``validate_json`` straight from the bytes); the payload
  each notification carries is put back together from the models and their extra fields.
- :func:`decode_pydantic_values`: pydantic's JSON parser (``pydantic_core.from_json``) to
  plain values, which are the payload, then the same models over them (``validate_python``,
  strict). The fastest form of pydantic found that gives today's results.
- :func:`decode_msgspec`: ``msgspec.json.decode`` in place of ``orjson.loads``, today's checks
  after it. msgspec's typed decoding (Structs) cannot keep the whole object, which every
  notification carries as its payload, so this is the most msgspec can do here. msgspec is
  not a dependency of crmsync: :func:`msgspec_decoder` is None when it is not installed.

Where they still differ from today, on bodies no test and no Nylas sends (the unit tests
``tests/unit/test_bench_decoders.py`` hold both sides to the same answers everywhere else):
integers past 64 bits stay exact (orjson makes them floats); ``1e400`` is infinity (orjson
refuses it); bodies nested past 1,024 levels are ``too_deeply_nested`` (orjson's own limit
makes them ``malformed_json``); and the union's ``validate_json`` accepts ``NaN`` and
``Infinity``, which pydantic's JSON parser allows wherever a value is ``Any``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Self

import pydantic_core
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.errors import MalformedNotification
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from domain.notifications import (
    MAX_V2_DELTAS,
    Notification,
    _stored_id,  # the id a v3 notification is kept under: the same function as today's
    parse_document,
    parse_time,
    v2_notification_id,
)
from domain.text import document_without_nul
from domain.triggers import split_type
from webhooks.body import MAX_JSON_DEPTH, check_depth
from webhooks.errors import MalformedBody

Decoder = Callable[[bytes], list[Notification]]

# The escaped NUL whose presence makes the ingress replace NULs before anything is read.
_ESCAPED_NUL = b"\\u0000"
_RECURSION = "recursion limit exceeded"


# The models: what routing and deduplication read, as strict as today's hand checks ---------


def _nonblank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank_text", "must be a non-empty string")
    return value


def _grant_shape(value: Any) -> Any:
    """A grant id as sent: blank or not text is no grant; text of another shape refuses."""
    if isinstance(value, str) and value and not is_grant_id(value):
        raise PydanticCustomError("invalid_grant_id", f"a grant id is {GRANT_ID_SHAPE}")
    return value


def _time_shape(value: Any) -> Any:
    """An envelope ``time`` or delta ``date`` that :func:`parse_time` reads (kept as sent)."""
    try:
        parse_time(value)
    except MalformedNotification as refusal:
        raise PydanticCustomError(refusal.reason, refusal.message) from None
    return value


def _batch(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise PydanticCustomError("invalid_deltas", "'deltas' must be a non-empty list")
    if len(value) > MAX_V2_DELTAS:
        raise PydanticCustomError(
            "too_many_deltas", f"a v2 body carries at most {MAX_V2_DELTAS} deltas"
        )
    return value


def _not_present(value: Any) -> Any:
    raise PydanticCustomError("specversion", "a body with 'specversion' is a v3 envelope")


Text = Annotated[str, AfterValidator(_nonblank)]
GrantRef = Annotated[Any, AfterValidator(_grant_shape)]
Time = Annotated[Any, AfterValidator(_time_shape)]
# Every model keeps the fields it does not read: they are the payload of the union's decode.
_MODEL = ConfigDict(strict=True, extra="allow")


class V3Object(BaseModel):
    """``data.object``: the fields that name the grant and the object."""

    model_config = _MODEL
    id: Any = None
    message_id: Any = None  # tracking notifications name their message here
    grant_id: GrantRef = None


class V3Data(BaseModel):
    model_config = _MODEL
    object: V3Object | None = None
    grant_id: Any = None  # the send and bounce triggers name the grant here

    @model_validator(mode="after")
    def _fallback_grant(self) -> Self:
        # Read only when the object names no grant, as today.
        if self.object is None or not _text(self.object.grant_id):
            _grant_shape(self.grant_id)
        return self


class V3Envelope(BaseModel):
    model_config = _MODEL
    id: Text
    type: Text
    data: V3Data
    time: Time = None

    @model_validator(mode="after")
    def _not_v2(self) -> Self:
        extra = self.model_extra
        if extra and "deltas" in extra and "specversion" not in extra:
            raise PydanticCustomError("v2_body", "a body with 'deltas' is a v2 body")
        return self


class V2ObjectData(BaseModel):
    model_config = _MODEL
    account_id: GrantRef = None
    namespace_id: Any = None
    id: Any = None

    @model_validator(mode="after")
    def _fallback_grant(self) -> Self:
        if not _text(self.account_id):
            _grant_shape(self.namespace_id)
        return self


class V2Delta(BaseModel):
    model_config = _MODEL
    type: Text
    object_data: V2ObjectData
    date: Time = None


class V2Body(BaseModel):
    model_config = _MODEL
    deltas: Annotated[Sequence[V2Delta], BeforeValidator(_batch)]
    specversion: Annotated[Any, AfterValidator(_not_present)] = None


# The same models for reading plain values that are already the payload: extra fields are
# left where they are (keeping them costs half of the models' time).
_READ = ConfigDict(strict=True, extra="ignore")


class ReadV3Object(V3Object):
    model_config = _READ


class ReadV3Data(V3Data):
    model_config = _READ
    object: ReadV3Object | None = None


class ReadV3Envelope(V3Envelope):
    model_config = _READ
    data: ReadV3Data


class ReadV2ObjectData(V2ObjectData):
    model_config = _READ


class ReadV2Delta(V2Delta):
    model_config = _READ
    object_data: ReadV2ObjectData


class ReadV2Body(V2Body):
    model_config = _READ
    deltas: Annotated[Sequence[ReadV2Delta], BeforeValidator(_batch)]


# A v2 body is one with ``deltas`` and no ``specversion``; anything else is read as v3.
# The v3 envelope is tried first: it is what Nylas sends today, and a failed attempt costs
# a body's worth of work (its extra fields made into values before the failure).
_BODY: TypeAdapter[V3Envelope | V2Body] = TypeAdapter(
    Annotated[V3Envelope | V2Body, Field(union_mode="left_to_right")]
)


# The decoders ------------------------------------------------------------------------------


def decode_pydantic_union(body: bytes) -> list[Notification]:
    """The body through one strict ``TypeAdapter.validate_json``, the payload rebuilt."""
    if _ESCAPED_NUL in body:
        # NULs are replaced before anything is read (ids included): in the values first.
        return decode_pydantic_values(body)
    try:
        parsed = _BODY.validate_json(body, strict=True)
    except ValidationError as error:
        raise _union_refusal(error, body) from None
    if isinstance(parsed, V2Body):
        payloads = [_plain(delta) for delta in parsed.deltas]
        check_depth({**(parsed.model_extra or {}), "deltas": payloads})
        return [_v2(delta, p) for delta, p in zip(parsed.deltas, payloads, strict=True)]
    payload = _plain(parsed)
    check_depth(payload)
    return [_v3(parsed, payload)]


def decode_pydantic_values(body: bytes) -> list[Notification]:
    """The body parsed by pydantic to plain values, then validated by the same models."""
    try:
        document = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as error:
        raise _json_refusal(str(error)) from None
    check_depth(document)
    if _ESCAPED_NUL in body:
        document = document_without_nul(document)
    if not isinstance(document, dict):
        raise MalformedNotification("not_an_object", "the body must be a JSON object")
    if "deltas" in document and "specversion" not in document:
        try:
            batch = ReadV2Body.model_validate(document, strict=True)
        except ValidationError as error:
            raise _refusal(error.errors(include_url=False), v2=True) from None
        deltas = document["deltas"]
        return [_v2(delta, p) for delta, p in zip(batch.deltas, deltas, strict=True)]
    try:
        envelope = ReadV3Envelope.model_validate(document, strict=True)
    except ValidationError as error:
        raise _refusal(error.errors(include_url=False), v2=False) from None
    return [_v3(envelope, document)]


def decode_msgspec_with(decode: Callable[[bytes], Any], decode_error: type[Exception]) -> Decoder:
    """Today's decode with ``decode`` (msgspec's) in place of ``orjson.loads``."""

    def decode_body(body: bytes) -> list[Notification]:
        try:
            document = decode(body)
        except RecursionError:
            raise _too_deep() from None
        except decode_error as error:
            raise _json_refusal(str(error)) from None
        check_depth(document)
        if _ESCAPED_NUL in body:
            document = document_without_nul(document)
        return parse_document(document)

    return decode_body


def msgspec_decoder() -> Decoder | None:
    """:func:`decode_msgspec_with` msgspec's JSON decoder, or None without msgspec installed."""
    try:
        msgspec = importlib.import_module("msgspec")
    except ImportError:
        return None
    decoder = msgspec.json.Decoder()
    return decode_msgspec_with(decoder.decode, msgspec.DecodeError)


# Building today's notifications from the models --------------------------------------------


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _v3(envelope: V3Envelope, payload: dict[str, Any]) -> Notification:
    trigger, flags = split_type(envelope.type)
    obj = envelope.data.object
    return Notification(
        notification_id=_stored_id(envelope.id),
        api_version="v3",
        type=envelope.type,
        trigger=trigger,
        flags=flags,
        grant_id=(_text(obj.grant_id) if obj else None) or _text(envelope.data.grant_id),
        object_id=(_text(obj.id) or _text(obj.message_id)) if obj else None,
        occurred_at=parse_time(envelope.time),
        payload=payload,
    )


def _v2(delta: V2Delta, payload: Mapping[str, Any]) -> Notification:
    trigger, flags = split_type(delta.type)
    data = delta.object_data
    return Notification(
        notification_id=v2_notification_id(payload),
        api_version="v2",
        type=delta.type,
        trigger=trigger,
        flags=flags,
        grant_id=_text(data.account_id) or _text(data.namespace_id),
        object_id=_text(data.id),
        occurred_at=parse_time(delta.date),
        payload=payload,
    )


def _plain(model: BaseModel) -> dict[str, Any]:
    """The JSON object a model was validated from: its extra fields and the fields it had."""
    values = dict(model.model_extra or {})
    given = model.model_fields_set  # extra keys included
    fields = model.__dict__
    for name in type(model).model_fields:
        if name in given:
            value = fields[name]
            values[name] = _plain(value) if isinstance(value, BaseModel) else value
    return values


# Refusals: pydantic's errors as today's reasons and messages -------------------------------


def _json_refusal(detail: str) -> MalformedBody:
    if _RECURSION in detail:
        # pydantic's parser stops at 200 levels, far past the limit the ingress allows.
        return _too_deep()
    return MalformedBody("malformed_json", f"the body is not valid JSON: {detail}")


def _too_deep() -> MalformedBody:
    return MalformedBody("too_deeply_nested", f"the body nests more than {MAX_JSON_DEPTH} levels")


def _union_refusal(error: ValidationError, body: bytes) -> Exception:
    errors = error.errors(include_url=False)
    if errors[0]["type"] == "json_invalid":
        return _json_refusal(errors[0]["msg"])
    # A body both too deep and malformed is refused for its depth, as today, and one that
    # is not JSON to orjson (NaN where a field is typed) as not JSON.
    try:
        check_depth(pydantic_core.from_json(body, allow_inf_nan=False))
    except ValueError as not_json:
        return _json_refusal(str(not_json))
    # Each error's location starts with the member it is of ("V2Body", or "V3Envelope" in
    # the name pydantic gives a model with a validator).
    by_member: dict[str, list[Any]] = {}
    for item in errors:
        member = "v2" if str(item["loc"][0]) == "V2Body" else "v3"
        by_member.setdefault(member, []).append({**item, "loc": item["loc"][1:]})
    v2_errors = by_member.get("v2", [])
    read_as_v3 = not v2_errors or any(
        item["loc"] in (("deltas",), ("specversion",))
        and item["type"] in ("missing", "specversion")
        for item in v2_errors
    )
    if read_as_v3:
        return _refusal(by_member["v3"], v2=False)
    return _refusal(v2_errors, v2=True)


def _refusal(errors: Sequence[Any], *, v2: bool) -> MalformedNotification:
    """The first of pydantic's errors (they come in the order today's checks run)."""
    first = errors[0]
    loc: tuple[Any, ...] = tuple(first["loc"])
    kind: str = first["type"]
    if kind in ("invalid_grant_id", "invalid_time", "invalid_deltas", "too_many_deltas"):
        return MalformedNotification(kind, first["msg"])
    if kind == "specversion":
        return MalformedNotification("invalid_deltas", "'deltas' must be a non-empty list")
    if not loc:
        return MalformedNotification("not_an_object", "the body must be a JSON object")
    if v2:
        loc = loc[2:] if loc[0] == "deltas" and len(loc) > 1 else loc
        if loc == ("deltas",):
            return MalformedNotification("invalid_deltas", "'deltas' must be a non-empty list")
        if not loc:
            return MalformedNotification("not_an_object", "a v2 notification must be an object")
    if loc[0] in ("id", "type"):
        return MalformedNotification(f"missing_{loc[0]}", f"'{loc[0]}' must be a non-empty string")
    if loc[0] == "object_data":
        return MalformedNotification("invalid_data", "a v2 delta needs an 'object_data' object")
    if loc[:2] == ("data", "object"):
        return MalformedNotification("invalid_data", "'data.object' must be an object")
    return MalformedNotification("invalid_data", "'data' must be an object")
