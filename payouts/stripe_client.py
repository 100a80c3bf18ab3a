"""The one configured Stripe client (shared by money in and payouts).

``STRIPE_API_BASE`` points it at the local Stripe test server (embedded default and tests);
empty means Stripe itself. Network retries are on: every mutating call FairOSS makes carries
an idempotency key, so a retry can never do the same thing twice. Every request first takes
a token from a bucket (``STRIPE_RATE_LIMIT`` per second, below Stripe's limit of 100 live /
25 test requests per second), so bursts (a payout run) are smoothed client-side.

With ``REDIS_URL`` set, the bucket lives in Redis (key ``faiross:stripe-rate:api``), shared by
every web and worker process, so together they stay at ``STRIPE_RATE_LIMIT``. Without it (the
embedded default, one process) the bucket is in-process. When Redis cannot be reached, a
call is not let through unlimited: it logs a warning (at most once a minute) and takes its
token from the process's own bucket, so while Redis is down each process keeps to the limit.

The bucket holds ``STRIPE_RATE_BURST`` tokens (0: as many as one second's rate): in any one
second at most burst + rate calls go out, so burst + rate must stay within Stripe's limit.
A 429 (Stripe's rate limit or a lock timeout: Stripe did nothing) is retried here at once, with
a short backoff and a fresh token, up to ``RATE_LIMITED_RETRIES`` times (the library retries a
429 only when Stripe adds ``Stripe-Should-Retry: true``); one still limited after that reaches
the caller as ``stripe.RateLimitError`` (a payout then retries as a task, with its backoff).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import redis
import stripe
from django.conf import settings

logger = logging.getLogger(__name__)


def _capacity(rate: float, burst: float) -> float:
    return max(1.0, float(burst) if burst > 0 else float(rate))


class RateLimiter:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second after a burst of
    ``burst`` (0: ``rate``)."""

    def __init__(self, rate: float, burst: float = 0) -> None:
        self.rate = float(rate)
        self.capacity = _capacity(rate, burst)
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


# A token bucket in Redis (a hash: tokens, ts), by Redis's own clock. A call takes one token,
# going into debt when there is none, and returns how long the caller must wait before using
# it: callers queue in order with one round trip each, and no process can take more than its
# turn. The key expires once the bucket would be full again.
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
local last = tonumber(redis.call('HGET', KEYS[1], 'ts'))
if tokens == nil or last == nil then
  tokens, last = capacity, now
end
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', now))
local wait = 0
if tokens < 0 then wait = -tokens / rate end
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity / rate + wait) * 1000) + 1000)
return string.format('%.6f', wait)
"""

KEY_PREFIX = "faiross:stripe-rate"
_WARN_EVERY_SECONDS = 60.0


class RedisRateLimiter:
    """A token bucket shared through Redis by every process using ``key``: together they make
    at most ``rate`` acquisitions per second after a burst of ``burst`` (0: ``rate``). When
    Redis fails, the call logs a warning (at most once a minute) and uses ``fallback``, this
    process's own bucket."""

    def __init__(
        self,
        rate: float,
        *,
        url: str,
        name: str = "api",
        burst: float = 0,
        fallback: RateLimiter | None = None,
    ) -> None:
        self.rate = float(rate)
        self.capacity = _capacity(rate, burst)
        self.key = f"{KEY_PREFIX}:{name}"
        self.fallback = fallback or RateLimiter(rate, burst)
        # Short timeouts: an unreachable Redis must not hold up a Stripe call for long.
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._take = self._redis.register_script(_TAKE_TOKEN)
        self._warned_at: float | None = None

    def acquire(self) -> float:
        """Wait for a token; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        try:
            wait = float(self._take(keys=[self.key], args=[self.rate, self.capacity]))
        except redis.RedisError as exc:
            now = time.monotonic()
            if self._warned_at is None or now - self._warned_at >= _WARN_EVERY_SECONDS:
                self._warned_at = now
                logger.warning(
                    "Stripe rate limit: Redis is unreachable (%s); limiting this process only "
                    "(%s requests/second) until it is back.",
                    exc,
                    self.rate,
                )
            return self.fallback.acquire()
        if wait > 0:
            time.sleep(wait)
        return wait


RATE_LIMITED_RETRIES = 2
_BACKOFF_FIRST_SECONDS = 0.05
_BACKOFF_MAX_SECONDS = 2.0
# Its own generator: seeded runs (the simulation) keep their sequence of the global one.
_jitter = random.Random()


def rate_limited_backoff(retry: int) -> float:
    """Seconds to wait before the ``retry``-th (1, 2, ...) retry of a 429: exponential from
    50 ms, capped at 2 s, with jitter (half to all of it) so processes do not retry in step."""
    bound = min(_BACKOFF_FIRST_SECONDS * 2 ** (retry - 1), _BACKOFF_MAX_SECONDS)
    return bound * _jitter.uniform(0.5, 1.0)


class RateLimitedRequestsClient(stripe.RequestsClient):
    """The library's default HTTP client, taking a token before every request (and retry) and
    retrying 429s (``retried_429`` counts them, for this process)."""

    def __init__(self, *, limiter: RateLimiter | RedisRateLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter
        self.retried_429 = 0
        self._count_lock = threading.Lock()

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,  # in the base class's signature; unused there too
    ) -> Any:
        retry = 0
        while True:
            self.limiter.acquire()
            response = super().request(method, url, headers, post_data)
            _, status, response_headers = response
            if (
                status != 429
                or retry >= RATE_LIMITED_RETRIES
                or (response_headers or {}).get("stripe-should-retry") == "false"
            ):
                return response
            retry += 1
            with self._count_lock:
                self.retried_429 += 1
            time.sleep(rate_limited_backoff(retry))


_http: dict[tuple[float, float, str, int, str], RateLimitedRequestsClient] = {}
_http_lock = threading.Lock()


def rate_limiter(
    rate: float, redis_url: str = "", *, burst: float = 0, name: str = "api"
) -> RateLimiter | RedisRateLimiter:
    """The bucket for ``rate``: shared through Redis (key ``name``) when ``redis_url`` is set."""
    if redis_url and rate > 0:
        return RedisRateLimiter(rate, url=redis_url, name=name, burst=burst)
    return RateLimiter(rate, burst)


def stripe_http_client() -> RateLimitedRequestsClient:
    """The process-wide HTTP client (one per configured rate, burst, bucket, timeout, Redis)."""
    rate, burst = float(settings.STRIPE_RATE_LIMIT), float(settings.STRIPE_RATE_BURST)
    name, timeout = str(settings.STRIPE_RATE_BUCKET), int(settings.STRIPE_TIMEOUT_SECONDS)
    redis_url = str(settings.REDIS_URL or "")
    key = (rate, burst, name, timeout, redis_url)
    with _http_lock:
        client = _http.get(key)
        if client is None:
            client = _http[key] = RateLimitedRequestsClient(
                limiter=rate_limiter(rate, redis_url, burst=burst, name=name), timeout=timeout
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
