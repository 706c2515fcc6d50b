"""Why the Nylas ingress refused a request; ``webhooks.responses`` maps each to a status."""

from __future__ import annotations


class IngressError(Exception):
    """Base class for refusals of a notification request, with a machine-readable reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class PayloadTooLarge(IngressError):
    """Raised when the body, as sent or once decompressed, is over the configured limit."""


class InvalidSignature(IngressError):
    """Raised when ``X-Nylas-Signature`` is missing or matches none of the configured secrets."""


class MalformedBody(IngressError):
    """Raised when the body is not valid JSON or not decodable (bad gzip)."""


class MissingChallenge(IngressError):
    """Raised when the verification GET carries no ``challenge`` parameter."""


class IngressBusy(IngressError):
    """Raised when too many unauthenticated bodies already wait to be checked: 503, retried."""
