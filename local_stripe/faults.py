"""Fault switches, the optional rate limit, and the log of recent requests.

Tests drive these over HTTP (``/_test/...``) to make the server misbehave the way the real
Stripe API sometimes does: 500s, 429s, slow answers, and work done with the answer lost.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .ids import new_id

MODES = ("500", "429", "delay", "drop_after_commit")


@dataclass
class Fault:
    """One switch: the next ``count`` requests matching prefix and method misbehave."""

    mode: str
    path_prefix: str = "/v1/"
    method: str = "*"
    count: int = 1
    delay_seconds: float = 1.0
    should_retry: bool | None = None
    id: str = field(default_factory=lambda: new_id("flt", 12))

    def matches(self, method: str, path: str) -> bool:
        """Whether this switch applies to a request."""
        return (
            self.count > 0
            and path.startswith(self.path_prefix)
            and self.method in ("*", method.upper())
        )

    def as_dict(self) -> dict[str, Any]:
        """The switch as JSON."""
        return asdict(self)


def parse_fault(data: dict[str, Any]) -> Fault:
    """Build a :class:`Fault` from the JSON a test posted; raises ``ValueError`` when invalid."""
    mode = str(data.get("mode", ""))
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    count = int(data.get("count", 1))
    delay = float(data.get("delay_seconds", 1.0))
    if count < 1 or delay < 0:
        raise ValueError("count must be >= 1 and delay_seconds >= 0")
    should_retry = data.get("should_retry")
    return Fault(
        mode=mode,
        path_prefix=str(data.get("path_prefix", "/v1/")),
        method=str(data.get("method", "*")).upper(),
        count=count,
        delay_seconds=delay,
        should_retry=None if should_retry is None else bool(should_retry),
    )


class FaultBoard:
    """The armed switches; each matching request uses up one count of the first match."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        """Arm a switch."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The switch that applies to this request, if any, with one count used up."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    self._faults = [f for f in self._faults if f.count > 0]
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        """The armed switches as JSON."""
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def clear(self) -> None:
        """Disarm every switch."""
        with self._lock:
            self._faults = []


class RateLimiter:
    """At most ``per_second`` API requests in any one-second window (off when None)."""

    def __init__(self, per_second: float | None) -> None:
        self.per_second = per_second
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Record a request; False when it is over the limit."""
        if not self.per_second:
            return True
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= self.per_second:
                return False
            self._times.append(now)
            return True


class RequestLog:
    """The most recent API requests, so tests can count what really reached the server."""

    def __init__(self, size: int = 50_000) -> None:
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        """Remember one request."""
        with self._lock:
            self._entries.append(entry)

    def query(self, method: str | None, path_prefix: str | None) -> list[dict[str, Any]]:
        """Requests in arrival order, optionally filtered."""
        with self._lock:
            entries = list(self._entries)
        return [
            e
            for e in entries
            if (method is None or e["method"] == method.upper())
            and (path_prefix is None or e["path"].startswith(path_prefix))
        ]

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._entries.clear()
