"""A Python client for the CRM API generated from crmsync's own ``/openapi.json``, as a CRM
developer would make one: ``openapi-python-client`` (pinned in the dev extra) run on the
document the app serves, into a directory of the test session's, and imported from there.

The generated package is never committed: it is regenerated every session, so a change of
the document that the generator cannot turn into working calls fails the tests that use it.
Its code is imported dynamically, so it is ``Any`` at this boundary.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

# No post-generation hooks: the generator's default runs ruff on the code it wrote, which only
# formats it (and looks for ruff on PATH, which a venv's tests need not have).
GENERATOR_CONFIG = "post_hooks: []\n"


class GenerationFailed(AssertionError):
    """The generator refused the document or warned about a part of it it had to leave out."""


@dataclass(frozen=True)
class GeneratedClient:
    """The generated package and the document it was generated from."""

    package: ModuleType
    document: dict[str, Any]

    def operation(self, operation_id: str) -> Any:
        """The module of one operation: ``<package>.api.<tag>.<operation_id>``, whose
        ``sync_detailed`` makes the call."""
        tag = self.tag_of(operation_id)
        return importlib.import_module(f"{self.package.__name__}.api.{tag}.{operation_id}")

    def body_type(self, operation_id: str) -> Any:
        """The generated model an operation takes as its request body."""
        signature = inspect.signature(self.operation(operation_id).sync_detailed)
        return signature.parameters["body"].annotation

    def parameter_type(self, operation_id: str, name: str) -> Any:
        """The generated type of one parameter (an enum of a query parameter, say), without
        the ``Unset`` that marks it optional."""
        signature = inspect.signature(self.operation(operation_id).sync_detailed)
        annotation = signature.parameters[name].annotation
        unset = self.package.types.Unset
        [kind] = [t for t in typing.get_args(annotation) or (annotation,) if t is not unset]
        return kind

    def error_type(self) -> Any:
        """The generated model of the document's refusals (``{"error": {...}}``)."""
        return self.package.models.Error

    def tag_of(self, operation_id: str) -> str:
        for item in self.document["paths"].values():
            for method, operation in item.items():
                if method != "parameters" and operation.get("operationId") == operation_id:
                    [tag] = operation["tags"]
                    return str(tag)
        raise KeyError(operation_id)

    def operation_ids(self) -> list[str]:
        return [
            operation["operationId"]
            for item in self.document["paths"].values()
            for method, operation in item.items()
            if method != "parameters"
        ]


def generate_client(document: dict[str, Any], directory: Path, package: str) -> GeneratedClient:
    """Generate a client package named ``package`` for ``document`` under ``directory`` and
    import it; fail with the generator's own words if it warned about anything, and fail if
    any operation of the document has no module."""
    spec = directory / "openapi.json"
    spec.write_text(json.dumps(document, indent=2))
    config = directory / "openapi-python-client.yaml"
    config.write_text(GENERATOR_CONFIG)
    output = directory / package
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(spec),
        "--output-path",
        str(output),
        "--meta",
        "none",
        "--config",
        str(config),
        "--fail-on-warning",
    ]
    run = subprocess.run(  # noqa: S603  (this interpreter, the pinned generator)
        command, capture_output=True, text=True, timeout=120, check=False
    )
    said = f"{run.stdout}\n{run.stderr}".strip()
    if run.returncode != 0 or "warning" in said.lower() or "error" in said.lower():
        raise GenerationFailed(
            f"openapi-python-client could not turn /openapi.json into a whole client "
            f"(exit {run.returncode}; the document is {spec}):\n{said}"
        )
    sys.path.insert(0, str(directory))
    try:
        module = importlib.import_module(package)
    finally:
        sys.path.remove(str(directory))  # the package's own __path__ finds its modules now
    client = GeneratedClient(module, document)
    importlib.import_module(f"{package}.models")
    missing = []
    for operation_id in client.operation_ids():
        try:
            client.operation(operation_id)
        except ImportError as error:
            missing.append(f"{operation_id}: {error}")
    if missing:
        raise GenerationFailed("operations without a generated module:\n" + "\n".join(missing))
    return client


def disagreements(value: Any, models: ModuleType, path: str = "") -> list[str]:
    """Where a typed answer disagrees with its own generated model: a key the app answered
    that the document does not describe, or a value not of the type the document gives (a
    null it does not mark nullable, a string for an integer). The generated parser reads
    strings, numbers and nulls as they come; this walks what it built. Free-form objects (a
    schema of ``{"type": "object"}`` alone, such as a change's payload) are not judged."""
    if isinstance(value, list):
        return [
            p for n, item in enumerate(value) for p in disagreements(item, models, f"{path}[{n}]")
        ]
    kind = type(value)
    if not attrs.has(kind):
        return []
    names = [f.name for f in attrs.fields(kind) if f.name != "additional_properties"]
    if not names:
        return []
    hints = typing.get_type_hints(
        kind, globalns=vars(sys.modules[kind.__module__]), localns=vars(models)
    )
    found = [f"{path}.{key}: not in the document" for key in value.additional_properties]
    for name in names:
        item = getattr(value, name)
        if conforms(item, hints[name]):
            found += disagreements(item, models, f"{path}.{name}")
        else:
            found.append(f"{path}.{name}: {item!r} is not {hints[name]}")
    return found


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the generated type ``hint`` (a hint it does not know: yes)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(conforms(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True
