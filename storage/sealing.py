"""Secrets at rest: organizations' API keys, webhook secrets and provider app secrets are
stored encrypted, with keys from the environment (``CRMSYNC_SECRET_KEYS``).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) seals one JSON document per
organization; :class:`~cryptography.fernet.MultiFernet` lets keys rotate: the first key
seals, every key opens, and :meth:`SecretBox.reseal` moves a document to the first key. A
database copied without the environment holds nothing usable. Written by hand, this would
be the part most likely to be wrong, so it is the library's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsUnavailable(Exception):
    """Raised when a secret must be sealed or opened and no key can do it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def new_key() -> str:
    """A new key for ``CRMSYNC_SECRET_KEYS`` (url-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def check_key(text: str) -> str:
    """``text`` when it is a Fernet key; raises ValueError naming what a key looks like."""
    try:
        Fernet(text.encode())
    except (ValueError, TypeError):
        raise ValueError(
            "a key is 32 bytes in url-safe base64 (crmsync secret-key makes one)"
        ) from None
    return text


class SecretBox:
    """Seals and opens secret documents with the configured keys (none: secrets refused)."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self._box = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None

    @property
    def configured(self) -> bool:
        return self._box is not None

    def seal(self, document: dict[str, Any]) -> str:
        """``document`` encrypted with the first key."""
        return self._require().encrypt(json.dumps(document, sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        """The document ``sealed`` holds.

        Raises:
            SecretsUnavailable: no key opens it (keys changed without keeping the old one).
        """
        try:
            opened = json.loads(self._require().decrypt(sealed.encode()))
        except InvalidToken:
            raise SecretsUnavailable(
                "secret_key_mismatch",
                "no key in CRMSYNC_SECRET_KEYS opens the stored secrets; keep the old key "
                "after the new one until every secret is resealed",
            ) from None
        return opened if isinstance(opened, dict) else {}

    def reseal(self, sealed: str) -> str:
        """``sealed`` under the first key (the rotation's second step)."""
        try:
            return self._require().rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretsUnavailable(
                "secret_key_mismatch", "no key in CRMSYNC_SECRET_KEYS opens the stored secrets"
            ) from None

    def _require(self) -> MultiFernet:
        if self._box is None:
            raise SecretsUnavailable(
                "secret_keys_not_configured",
                "crmsync stores an organization's secrets encrypted: set CRMSYNC_SECRET_KEYS "
                "(crmsync secret-key makes a key)",
            )
        return self._box
