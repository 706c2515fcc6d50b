"""/openapi.json as written from the operations: every operation named once, each query
model's parameters listed, every reference resolved, and the answer shapes complete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api.v1 import OPERATIONS, v1_document


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def test_every_reference_names_a_component() -> None:
    document = v1_document()
    components = set(document["components"]["schemas"])
    named = {ref.removeprefix("#/components/schemas/") for ref in references(document)}
    assert named <= components, named - components


def test_an_email_answer_requires_every_key_it_always_has() -> None:
    email = v1_document()["components"]["schemas"]["Email"]
    assert set(email["properties"]) - set(email["required"]) == {"body"}
    assert email["properties"]["from"]["items"] == {"$ref": "#/components/schemas/EmailAddress"}
    assert email["examples"]


def test_the_document_lists_each_query_models_parameters_and_nothing_else() -> None:
    document = v1_document()
    for op in OPERATIONS:
        described = document["paths"]["/v1" + op.path][op.method.lower()]
        listed = {p["name"] for p in described.get("parameters", []) if p["in"] == "query"}
        named = {f.alias or n for n, f in op.query.model_fields.items()}
        assert listed == named, op.operation_id


def test_query_defaults_are_written_as_a_query_string_writes_them() -> None:
    parameters = {
        p["name"]: p["schema"] for p in v1_document()["paths"]["/v1/emails"]["get"]["parameters"]
    }
    assert parameters["include_hidden"] == {
        "type": "string",
        "enum": ["true", "false"],
        "default": "false",
    }
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert parameters["rep_id"] == {"type": "string"}


def test_every_operation_has_its_own_id_and_documents_its_refusals() -> None:
    document = v1_document()
    ids = [op.operation_id for op in OPERATIONS]
    assert len(ids) == len(set(ids))
    for op in OPERATIONS:
        responses = document["paths"]["/v1" + op.path][op.method.lower()]["responses"]
        assert {"400", "401", "404"} <= set(responses), op.operation_id
        assert ("413" in responses) == (op.body is not None), op.operation_id


def operation_components() -> set[str]:
    """The components an operation takes or answers directly, and the refusal."""
    named = {"Error"}
    for item in v1_document()["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            answers = [
                a.get("content", {}).get("application/json")
                for a in operation["responses"].values()
            ]
            for content in [body, *answers]:
                if content and "$ref" in content["schema"]:
                    named.add(content["schema"]["$ref"].removeprefix("#/components/schemas/"))
    return named


def test_every_body_and_answer_has_an_example_its_schema_accepts() -> None:
    document = v1_document()
    schemas = document["components"]["schemas"]
    registry: Registry[Any] = Registry().with_resource(
        "urn:crmsync", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    for name in sorted(operation_components()):
        examples = schemas[name].get("examples")
        assert examples, f"{name} has no example"
        schema = {"$ref": f"urn:crmsync#/components/schemas/{name}"}
        validator = Draft202012Validator(schema, registry=registry)
        for example in examples:
            problems = [e.message for e in validator.iter_errors(example)]
            assert problems == [], f"{name}'s example: {problems}"


def test_every_operation_says_what_it_does_beyond_its_summary() -> None:
    for op in OPERATIONS:
        assert op.description, f"{op.operation_id} has no description"
        assert op.description != op.summary, op.operation_id
