"""Faults the fake Nylas API serves on demand, and the log of the requests it received.

A mixin of :class:`simulator.mailbox.FakeNylas` with its own lock: the API's gate
(``simulator.api_gate``) logs each request here and asks for a pending fault before routing.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received: decoded path, and each query key's values in order."""

    method: str
    path: str
    query: dict[str, list[str]]


@dataclass(slots=True)
class Fault:
    """A planned misbehaviour, served to the next ``times`` matching requests.

    ``status`` None means "answer normally, after ``delay_seconds``". ``body`` replaces the
    JSON error body (e.g. an HTML 502 page from a proxy). ``after_request`` carries the request
    out before answering the fault: the provider wrote, then the answer was lost.
    """

    status: int | None
    path_contains: str | None = None
    method: str | None = None
    times: int = 1
    retry_after: int | str | None = None
    delay_seconds: float = 0.0
    body: str | None = None
    error_type: str | None = None
    content_type: str = "text/html; charset=utf-8"
    after_request: bool = False

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with ``method`` and ``path`` is one this fault is for."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path


class FaultLog:
    """Injected faults, consumed in order by matching requests, and every request received."""

    def __init__(self) -> None:
        self._fault_lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []

    def inject(
        self,
        status: int | None,
        *,
        path_contains: str | None = None,
        method: str | None = None,
        times: int = 1,
        retry_after: int | str | None = None,
        delay_seconds: float = 0.0,
        body: str | None = None,
        error_type: str | None = None,
        content_type: str = "text/html; charset=utf-8",
        after_request: bool = False,
    ) -> None:
        """Serve ``status`` to the next ``times`` matching requests, after ``delay_seconds``.

        Faults are consumed in the order they were injected. ``status`` None answers normally
        after the delay. ``retry_after`` (seconds or an HTTP date) becomes the ``Retry-After``
        header; ``body`` (sent as ``content_type``) replaces the JSON error: an HTML page
        breaks the SDK's decoding, a JSON document without a required field breaks its models.
        ``after_request`` does the request first and then answers the fault instead of its
        result: a 500 or 502 after the send went out, which is what makes a write uncertain.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(
            status,
            path_contains=path_contains,
            method=method,
            times=times,
            retry_after=retry_after,
            delay_seconds=delay_seconds,
            body=body,
            error_type=error_type,
            content_type=content_type,
            after_request=after_request,
        )
        with self._fault_lock:
            self._faults.append(fault)

    def slow(
        self,
        delay_seconds: float,
        *,
        path_contains: str | None = None,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests normally, but ``delay_seconds`` late."""
        self.inject(
            None,
            path_contains=path_contains,
            method=method,
            times=times,
            delay_seconds=delay_seconds,
        )

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, counted as served once."""
        with self._fault_lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                    return copy.copy(fault)
        return None

    @property
    def pending_faults(self) -> int:
        """How many injected faults are not yet used up."""
        with self._fault_lock:
            return len(self._faults)

    def record(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        """Log one received request."""
        with self._fault_lock:
            self._requests.append(RecordedRequest(method, path, query))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._fault_lock:
            return list(self._requests)

    def requests_to(
        self, path_contains: str, *, method: str | None = None
    ) -> list[RecordedRequest]:
        """The requests whose path contains ``path_contains`` (and of ``method``, if given)."""
        return [
            r
            for r in self.requests
            if path_contains in r.path and (method is None or r.method == method.upper())
        ]

    def clear_requests(self) -> None:
        """Forget the request log (e.g. after setting a test up through the API)."""
        with self._fault_lock:
            self._requests.clear()
