"""What the connector does with a Credential id Nylas answers: one that is not a Nylas id's
shape (a path, a traversal, markup) never reaches a hosted-auth URL."""

from __future__ import annotations

from typing import Any

import pytest

from api.accounts import ConnectFailed
from crmsync.connector import NylasConnector
from domain.connect_access import ConnectAccess, ProviderAppCredential
from workers.nylas_failures import NylasRejected

ACCESS = ConnectAccess(
    "acme",
    "google",
    credential=ProviderAppCredential("google", "acme-app", "acme-secret", None),
)


class Answering:
    """A gateway whose credential create answers ``made`` (or raises it)."""

    def __init__(self, made: object) -> None:
        self.made = made

    def create_credential(self, **request: Any) -> object:
        if isinstance(self.made, Exception):
            raise self.made
        return self.made


def connector(made: object) -> NylasConnector:
    return NylasConnector(Answering(made), "deployment-app", region_uris={})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answered", ["../../grants", "a/b", "", "x" * 300, "cred id", "[red]x[/]", "cred\n1"]
)
def test_a_credential_id_of_another_shape_is_refused(answered: str) -> None:
    with pytest.raises(ConnectFailed) as refused:
        connector(answered).make_credential(ACCESS)
    assert (refused.value.reason, refused.value.retryable) == ("invalid_credential", False)


def test_a_credential_nylas_refuses_is_a_refusal_not_a_retry() -> None:
    rejected = NylasRejected("bad app", status_code=400, error_type="invalid_request_error")
    with pytest.raises(ConnectFailed) as refused:
        connector(rejected).make_credential(ACCESS)
    assert (refused.value.reason, refused.value.retryable) == ("credential_rejected", False)


def test_a_credential_id_of_nylas_shape_is_used() -> None:
    assert connector("5f1c2a9e-0b7d-4e36-9c1a-2b3c4d5e6f70").make_credential(ACCESS) == (
        "5f1c2a9e-0b7d-4e36-9c1a-2b3c4d5e6f70"
    )
