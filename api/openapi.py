"""``/openapi.json``: the CRM API described for clients and code generators (OpenAPI 3.1),
written from the operations the router serves (``api.operations``), never by hand.

Each operation gives its path, query model, body and answers; the models give their
schemas (pydantic's JSON Schema, the dialect OpenAPI 3.1 uses). The test suite validates the
document, calls every operation with schemathesis against it, and drives the API through a
client generated from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import ORG_HEADER
from api.operations import Answer, Operation
from api.queries import NoQuery
from domain import answers
from domain.answers.examples import EXAMPLES
from domain.organizations import ORG_ID_PATTERN

Schema = dict[str, Any]

REF_TEMPLATE = "#/components/schemas/{model}"
# A path parameter (an id of the CRM's, a subscription's...) unless the operation says.
ID = {"type": "string", "minLength": 1, "maxLength": 255}


def ref(name: str) -> Schema:
    return {"$ref": REF_TEMPLATE.format(model=name)}


ERROR = ref("Error")

# What each error status means wherever it is answered; 400, 401 and 404 can be answered by
# every operation, the others by those that list them.
REFUSAL_TEXT = {
    400: "bad input; `error.reason` names what",
    401: "no valid bearer token",
    404: "no such entity, or no such path (an id holding '/')",
    409: "conflict",
    410: "the cursor has expired",
    413: "the body is too large",
    429: "a limit is reached (CRMSYNC_MAX_SUBSCRIPTIONS, or this token's open streams or "
    "long-polls); `error.reason` names which",
    503: "a part of the deployment is not configured: Nylas (NYLAS_API_KEY, NYLAS_CLIENT_ID) "
    "or the keys of stored secrets (CRMSYNC_SECRET_KEYS); `error.reason` names which",
}
ALWAYS_REFUSED = (400, 401, 404)
# Where a call acts (api.callers): every operation but the admins' takes it.
ORG_PARAMETER: Schema = {
    "name": ORG_HEADER,
    "in": "header",
    "required": False,
    "description": "admin tokens: the organization to act in (default: `default`); an "
    "organization's token acts in its own, and any other is 404",
    "schema": {"type": "string", "pattern": f"^{ORG_ID_PATTERN}$"},
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_PATH_PARAMETER = re.compile(r"{([a-z_]+)}")


def openapi_document(operations: Sequence[Operation], prefix: str) -> Schema:
    """The OpenAPI 3.1 document of ``operations``, mounted under ``prefix``."""
    paths: dict[str, Schema] = {}
    for op in operations:
        paths.setdefault(prefix + op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crmsync CRM API",
            "version": "1",
            "description": "Reps, contacts, synced emails, and the change feed, stream and "
            "webhooks through which a CRM follows everything crmsync stores.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _components(operations),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(op: Operation) -> Schema:
    document: Schema = {
        "operationId": op.operation_id,
        "tags": [op.tag],
        "summary": op.summary,
        "responses": {str(a.status): _answer(a) for a in op.answers},
    }
    if op.description:
        document["description"] = op.description
    parameters = [*_path_parameters(op), *_query_parameters(op.query)]
    if not op.admin_only:
        parameters.append(ORG_PARAMETER)
    if parameters:
        document["parameters"] = parameters
    refused = [*ALWAYS_REFUSED, *op.refusals]
    if op.body is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _schema(op.body)}},
        }
        refused.append(413)
    for status in sorted(set(refused)):
        refusal: Schema = {
            "description": REFUSAL_TEXT[status],
            "content": {"application/json": {"schema": ERROR}},
        }
        if status == 429:
            refusal["headers"] = RETRY_AFTER
        document["responses"][str(status)] = refusal
    return document


def _answer(answer: Answer) -> Schema:
    if answer.schema is None:
        return {"description": answer.description}
    return {
        "description": answer.description,
        "content": {answer.content_type: {"schema": _schema(answer.schema)}},
    }


def _schema(schema: str | type | Schema) -> Schema:
    if isinstance(schema, str):
        return ref(schema)
    if isinstance(schema, dict):
        return schema
    return ref(schema.__name__)


def _path_parameters(op: Operation) -> list[Schema]:
    return [
        {"name": name, "in": "path", "required": True, "schema": op.path_schemas.get(name, ID)}
        for name in _PATH_PARAMETER.findall(op.path)
    ]


def _query_parameters(model: type[BaseModel]) -> list[Schema]:
    if model is NoQuery:
        return []
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        described = _as_text(
            _not_null({k: v for k, v in prop.items() if k not in ("title", "description")})
        )
        parameter: Schema = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": described,
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _as_text(schema: Schema) -> Schema:
    """A query parameter's default as a query string writes it (``false``, not false), and
    none where the default is "left out" (no filter)."""
    if "default" not in schema:
        return schema
    default = schema["default"]
    rest = {k: v for k, v in schema.items() if k != "default"}
    if default is None or default == () or default == []:
        return rest
    if isinstance(default, bool):
        return {**rest, "default": "true" if default else "false"}
    return schema


def _not_null(schema: Schema) -> Schema:
    """A query parameter's schema without the ``null`` an optional field's type admits: a
    query string holds text or leaves the parameter out."""
    members = schema.get("anyOf")
    if members is None:
        return schema
    kept = [m for m in members if m != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _components(operations: Iterable[Operation]) -> dict[str, Schema]:
    """The schemas of every type an operation takes (a model, as validated) or answers (a
    TypedDict of ``domain.answers``, as serialised), of the refusal, and of the types they
    hold, by name."""
    shapes: dict[str, tuple[JsonSchemaMode, type]] = {"Error": ("serialization", answers.Error)}
    for op in operations:
        if isinstance(op.body, type):
            shapes[op.body.__name__] = ("validation", op.body)
        for answer in op.answers:
            if isinstance(answer.schema, type):
                shapes[answer.schema.__name__] = ("serialization", answer.schema)
    _, generated = TypeAdapter.json_schemas(
        [(name, mode, TypeAdapter(shape)) for name, (mode, shape) in shapes.items()],
        ref_template=REF_TEMPLATE,
    )
    components: dict[str, Schema] = dict(generated.get("$defs", {}))
    for name, example in EXAMPLES.items():
        if name in components and "examples" not in components[name]:
            components[name]["examples"] = [example]
    return components


def openapi_routes(document: Schema) -> list[Route]:
    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return [Route("/openapi.json", serve, methods=["GET"])]
