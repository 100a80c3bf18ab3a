"""The server clock: wall-clock time plus an offset that tests can advance."""

from __future__ import annotations

import threading
import time


class Clock:
    """Seconds since the epoch as the server sees them.

    Object timestamps, idempotency-key expiry, account-link and checkout expiry all read this
    clock, so a test can jump a day ahead without waiting. Webhook signatures deliberately use
    the real time instead, because the receiver checks them against its own real clock.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        """How far the server clock runs ahead of the wall clock, in seconds."""
        with self._lock:
            return self._offset

    def now(self) -> int:
        """The current server time, whole seconds like Stripe's ``created`` fields."""
        return int(time.time() + self.offset)

    def advance(self, seconds: float) -> None:
        """Move the server clock forward (never backwards, as real time never does)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self, offset: float = 0.0) -> None:
        """Set the offset, e.g. when state is reset or restored from the data file."""
        with self._lock:
            self._offset = offset
