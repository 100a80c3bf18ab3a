"""The one configured Stripe client (shared by money in and payouts).

``STRIPE_API_BASE`` points it at the local Stripe test server (embedded default and tests);
empty means Stripe itself. Network retries are on: every mutating call FairOSS makes carries
an idempotency key, so a retry can never do the same thing twice. Every request first takes
a token from a process-wide bucket (``STRIPE_RATE_LIMIT`` per second, below Stripe's limit of
100 live / 25 test requests per second), so bursts (a payout run) are smoothed client-side.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import stripe
from django.conf import settings


class RateLimiter:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second (burst ``rate``)."""

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate)
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a token; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                pause = (1 - self._tokens) / self.rate
            time.sleep(pause)
            waited += pause


class RateLimitedRequestsClient(stripe.RequestsClient):
    """The library's default HTTP client, taking a token before every request (and retry)."""

    def __init__(self, *, limiter: RateLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,  # in the base class's signature; unused there too
    ) -> Any:
        self.limiter.acquire()
        return super().request(method, url, headers, post_data)


_http: dict[tuple[float, int], RateLimitedRequestsClient] = {}
_http_lock = threading.Lock()


def stripe_http_client() -> RateLimitedRequestsClient:
    """The process-wide HTTP client (one bucket per configured rate and timeout)."""
    key = (float(settings.STRIPE_RATE_LIMIT), int(settings.STRIPE_TIMEOUT_SECONDS))
    with _http_lock:
        client = _http.get(key)
        if client is None:
            client = _http[key] = RateLimitedRequestsClient(
                limiter=RateLimiter(key[0]), timeout=key[1]
            )
        return client


def stripe_client() -> stripe.StripeClient:
    """A ``stripe.StripeClient`` for the configured key and API base."""
    if not settings.STRIPE_SECRET_KEY:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set STRIPE_SECRET_KEY to take payments.")
    base = settings.STRIPE_API_BASE
    kwargs: dict[str, object] = {"max_network_retries": 2, "http_client": stripe_http_client()}
    if base:
        kwargs["base_addresses"] = {"api": base, "connect": base, "files": base}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **kwargs)  # type: ignore[arg-type]
