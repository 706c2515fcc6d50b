"""The CRM API's errors and the one place they become HTTP responses.

Every refusal is JSON, ``{"error": {"reason": ..., "message": ...}}``, the same shape as the
Nylas ingress: a client reads ``reason`` (stable, machine-readable) and shows ``message``.
Domain validation errors are 400, unknown entities 404, conflicts 409, secrets that no
configured key opens 503.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from domain.errors import DomainError
from domain.inputs import InvalidInput
from storage.errors import NotFound, StorageConflict
from storage.sealing import SecretsUnavailable


class ApiError(Exception):
    """Raised by an endpoint to refuse a request with ``status``."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers
        self.details = details


def error_response(
    status: int,
    reason: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    """``{"error": {"reason", "message", ...details}}`` with ``status``."""
    body = {"reason": reason, "message": message, **(details or {})}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.reason, error.message, error.headers, error.details)


async def domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    details = None
    if isinstance(error, InvalidInput):
        details = {"fields": [problem.to_json() for problem in error.fields]}
    return error_response(400, error.reason, error.message, details=details)


async def not_found(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotFound)
    return error_response(404, error.reason, error.message)


async def conflict(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StorageConflict)
    return error_response(409, error.reason, error.message)


async def secrets_unavailable(request: Request, error: Exception) -> JSONResponse:
    """Stored secrets no configured key seals or opens: the operator's to fix, not the
    caller's, so 503 and the reason that names what to set."""
    assert isinstance(error, SecretsUnavailable)
    return error_response(503, error.reason, error.message)


async def http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own refusals (no such route, method not allowed) in the same JSON shape."""
    assert isinstance(error, HTTPException)
    reason = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    headers = dict(error.headers) if error.headers else None
    return error_response(error.status_code, reason, str(error.detail), headers)


EXCEPTION_HANDLERS = {
    HTTPException: http_error,
    ApiError: api_error,
    DomainError: domain_error,
    NotFound: not_found,
    StorageConflict: conflict,
    SecretsUnavailable: secrets_unavailable,
}
