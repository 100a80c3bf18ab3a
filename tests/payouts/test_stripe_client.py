"""The Stripe client's rate limit: one bucket in Redis shared by every process (REDIS_URL
set), the in-process bucket without Redis, and a logged fallback when Redis is down."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid

import pytest
import redis

from payouts.stripe_client import (
    KEY_PREFIX,
    RateLimiter,
    RedisRateLimiter,
    stripe_http_client,
)

RATE = 10.0  # tokens per second; the burst is the same


@pytest.fixture
def redis_url(settings):
    # The test settings' Redis (run the suite with REDIS_URL=redis://127.0.0.1:6379/12).
    return settings.REDIS_URL


@pytest.fixture
def bucket(redis_url):
    """A fresh bucket name, removed afterwards."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(redis_url).delete(f"{KEY_PREFIX}:{name}")


def take_tokens(url: str, name: str, ready, go, until, out) -> None:
    """One process: take tokens from the shared bucket from ``go`` until ``until``."""
    limiter = RedisRateLimiter(RATE, url=url, name=name)
    limiter._redis.ping()  # connected before the start
    ready.put(True)
    go.wait(30)
    until = until.value
    taken = []
    while True:
        limiter.acquire()
        now = time.time()
        if now >= until:
            break
        taken.append(now)
    out.put(taken)


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


def test_two_processes_share_one_limit_through_redis(redis_url, bucket):
    ctx = multiprocessing.get_context("spawn")
    ready, go, until, out = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0), ctx.Queue()
    processes = [
        ctx.Process(target=take_tokens, args=(redis_url, bucket, ready, go, until, out))
        for _ in range(2)
    ]
    for p in processes:
        p.start()
    for _ in processes:
        ready.get(timeout=60)
    until.value = time.time() + 2.0
    go.set()
    taken = [out.get(timeout=30) for _ in processes]
    for p in processes:
        p.join(10)
        assert p.exitcode == 0
    together = taken[0] + taken[1]
    assert all(taken), "each process got tokens"
    # A token bucket lets through at most burst + rate in any one second...
    assert most_in_one_second(together) <= RATE + RATE + 1
    # ...and burst + rate x 2 s in the two seconds, for both processes together (two
    # per-process buckets would have let through twice as many).
    assert 2 * RATE <= len(together) <= RATE + 2 * RATE + 1


def test_two_limiters_on_one_key_take_turns(redis_url, bucket):
    """Two instances (as two processes would) in threads: the burst, then ``rate`` a second."""
    limiters = [RedisRateLimiter(RATE, url=redis_url, name=bucket) for _ in range(2)]
    taken: list[float] = []
    lock = threading.Lock()
    until = time.time() + 1.5

    def run(limiter):
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
    assert most_in_one_second(taken) <= 2 * RATE + 1
    assert len(taken) <= RATE + 1.5 * RATE + 1


def test_in_process_bucket_without_redis():
    limiter = RateLimiter(20)
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda: [limiter.acquire() for _ in range(10)]) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # 20 at once (the burst), the other 10 at 20 a second.
    assert 0.45 <= time.monotonic() - started < 2.0
    assert RateLimiter(0).acquire() == 0.0


def test_unreachable_redis_falls_back_to_the_process_bucket_and_warns(caplog):
    limiter = RedisRateLimiter(5, url="redis://127.0.0.1:1/0")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="payouts.stripe_client"):
        for _ in range(7):
            limiter.acquire()
    # Still limited: 5 at once, then 2 more at 5 a second.
    assert time.monotonic() - started >= 0.35
    warnings = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(warnings) == 1  # not once per request


def test_the_client_uses_redis_when_configured(settings, redis_url):
    settings.STRIPE_RATE_LIMIT = 13
    settings.REDIS_URL = redis_url
    limiter = stripe_http_client().limiter
    assert isinstance(limiter, RedisRateLimiter) and limiter.key == f"{KEY_PREFIX}:api"
    settings.REDIS_URL = ""
    assert type(stripe_http_client().limiter) is RateLimiter
