"""The client's burst setting and its retry of 429s (what ``bench_payouts --workers`` relies on),
against Redis and the local Stripe server."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import redis
import stripe

from payouts import stripe_client
from payouts.stripe_client import (
    KEY_PREFIX,
    RATE_LIMITED_RETRIES,
    RateLimitedRequestsClient,
    RateLimiter,
    RedisRateLimiter,
    rate_limited_backoff,
)
from tests.payouts.stripe_fixtures import TEST_KEY

pytest_plugins = ["tests.payouts.stripe_fixtures"]


class CountingLimiter(RateLimiter):
    """No limit; counts the tokens taken."""

    def __init__(self) -> None:
        super().__init__(0)
        self.taken = 0

    def acquire(self) -> float:
        self.taken += 1
        return 0.0


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(stripe_client, "rate_limited_backoff", lambda retry: 0.0)


def client_for(server_url: str, limiter: RateLimiter) -> tuple[stripe.StripeClient, Any]:
    http = RateLimitedRequestsClient(limiter=limiter, timeout=10)
    client = stripe.StripeClient(
        TEST_KEY,
        http_client=http,
        base_addresses={"api": server_url},
        max_network_retries=2,
    )
    return client, http


def test_a_429_is_retried_with_a_fresh_token(stripe_env, no_backoff):
    limiter = CountingLimiter()
    client, http = client_for(stripe_env.base_url, limiter)
    stripe_env.fault("/v1/balance", "429", count=RATE_LIMITED_RETRIES)
    assert client.v1.balance.retrieve().object == "balance"
    statuses = [r["status"] for r in stripe_env.requests("GET", "/v1/balance")]
    assert statuses == [429] * RATE_LIMITED_RETRIES + [200]
    assert limiter.taken == RATE_LIMITED_RETRIES + 1 and http.retried_429 == RATE_LIMITED_RETRIES


def test_still_limited_after_the_retries_reaches_the_caller(stripe_env, no_backoff):
    client, _ = client_for(stripe_env.base_url, CountingLimiter())
    stripe_env.fault("/v1/balance", "429", count=RATE_LIMITED_RETRIES + 1)
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.balance.retrieve()
    assert limited.value.json_body["error"]["code"] == "rate_limit"
    assert len(stripe_env.requests("GET", "/v1/balance")) == RATE_LIMITED_RETRIES + 1


def test_stripe_should_retry_false_is_respected(stripe_env, no_backoff):
    client, http = client_for(stripe_env.base_url, CountingLimiter())
    stripe_env.fault("/v1/balance", "429", should_retry=False)
    with pytest.raises(stripe.RateLimitError):
        client.v1.balance.retrieve()
    assert len(stripe_env.requests("GET", "/v1/balance")) == 1 and http.retried_429 == 0


def test_over_the_server_rate_limit_stripes_429(stripe_env):
    stripe_env.settings(rate_limit=4)
    client, _ = client_for(stripe_env.base_url, CountingLimiter())
    for _ in range(4):
        client.v1.balance.retrieve()
    with pytest.raises(stripe.RateLimitError) as limited:
        stripe.Balance.retrieve()  # the global module: no retry of a 429
    error = limited.value.json_body["error"]
    assert limited.value.http_status == 429
    assert (error["type"], error["code"]) == ("invalid_request_error", "rate_limit")


def test_backoff_grows_and_is_capped():
    assert 0.025 <= rate_limited_backoff(1) <= 0.05
    assert 0.05 <= rate_limited_backoff(2) <= 0.1
    assert 1.0 <= rate_limited_backoff(20) <= 2.0


def test_a_small_burst_bounds_every_second_across_limiters_sharing_redis(settings):
    """Two limiters on one Redis key (as two worker processes would be): with burst 1, no
    one-second window gets more than rate + 1 tokens, even at the start."""
    rate = 10.0
    name = f"test-{uuid.uuid4().hex}"
    limiters = [
        RedisRateLimiter(rate, url=settings.REDIS_URL, name=name, burst=1) for _ in range(2)
    ]
    taken: list[float] = []
    lock = threading.Lock()
    until = time.time() + 1.2

    def run(limiter: RedisRateLimiter) -> None:
        while True:
            limiter.acquire()
            now = time.time()
            if now >= until:
                return
            with lock:
                taken.append(now)

    threads = [threading.Thread(target=run, args=(limiter,)) for limiter in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    redis.Redis.from_url(settings.REDIS_URL).delete(f"{KEY_PREFIX}:{name}")
    taken.sort()
    most = max(sum(1 for t in taken[i:] if t < start + 1.0) for i, start in enumerate(taken))
    assert most <= rate + 1
    assert rate <= len(taken) <= 1 + 1.2 * rate + 1


def test_the_client_reads_burst_and_bucket_from_the_settings(settings):
    settings.STRIPE_RATE_LIMIT, settings.STRIPE_RATE_BURST = 7, 2
    settings.STRIPE_RATE_BUCKET = "bench-x"
    limiter = stripe_client.stripe_http_client().limiter
    assert isinstance(limiter, RedisRateLimiter)
    assert (limiter.rate, limiter.capacity, limiter.key) == (7, 2, f"{KEY_PREFIX}:bench-x")
    settings.STRIPE_RATE_BURST = 0
    assert stripe_client.stripe_http_client().limiter.capacity == 7
