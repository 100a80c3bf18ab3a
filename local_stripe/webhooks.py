"""Events and their delivery to webhook endpoints, signed like Stripe's.

Every state change records an ``event`` object; each endpoint whose filter matches gets a POST
with a ``Stripe-Signature: t=<ts>,v1=<hmac>`` header that ``stripe.Webhook.construct_event``
accepts. Delivery runs on one background thread with exponential-backoff retries, so a slow or
failing receiver never slows the API down.
"""

from __future__ import annotations

import collections
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .clock import Clock
from .ids import new_id
from .store import PLATFORM, Store, public

logger = logging.getLogger(__name__)


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Target:
    """Where an event goes and with which signing secret."""

    url: str
    secret: str
    endpoint_id: str


@dataclass(order=True)
class Delivery:
    """One attempt waiting in the queue, ordered by when it is due."""

    due: float
    seq: int
    target: Target = field(compare=False)
    event_id: str = field(compare=False)
    event_type: str = field(compare=False)
    payload: bytes = field(compare=False)
    attempt: int = field(default=1, compare=False)


class Dispatcher:
    """The background thread that POSTs events and retries failures with backoff."""

    def __init__(self, max_attempts: int = 5, retry_base: float = 1.0, timeout: float = 5.0):
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.timeout = timeout
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._queue: list[Delivery] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="stripe-webhooks", daemon=True)

    def start(self) -> None:
        """Start delivering."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the attempt in progress; undelivered events are dropped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 1)

    def clear(self) -> None:
        """Drop queued deliveries and the log (on reset)."""
        with self._cond:
            self._queue = []
            self.log.clear()

    def enqueue(self, target: Target, event: dict[str, Any]) -> None:
        """Queue an event for delivery now."""
        payload = json.dumps(event).encode()
        item = Delivery(
            time.monotonic(), next(self._seq), target, event["id"], event["type"], payload
        )
        with self._cond:
            heapq.heappush(self._queue, item)
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is queued or in flight; True when idle."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stopping:
                if self._queue and self._queue[0].due <= time.monotonic():
                    self._busy += 1
                    return heapq.heappop(self._queue)
                wait = self._queue[0].due - time.monotonic() if self._queue else None
                self._cond.wait(wait)
        return None

    def _run(self) -> None:
        while (item := self._next()) is not None:
            try:
                self._attempt(item)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, item: Delivery) -> None:
        status, error = self._post(item)
        ok = status is not None and 200 <= status < 300
        self.log.append(
            {
                "event": item.event_id,
                "type": item.event_type,
                "url": item.target.url,
                "endpoint": item.target.endpoint_id,
                "attempt": item.attempt,
                "status": status,
                "error": error,
                "ok": ok,
                "time": time.time(),
            }
        )
        if ok or item.attempt >= self.max_attempts:
            return
        # Backoff doubles per attempt, like Stripe's retry schedule but in seconds, not hours.
        retry = Delivery(
            time.monotonic() + self.retry_base * 2 ** (item.attempt - 1),
            next(self._seq),
            item.target,
            item.event_id,
            item.event_type,
            item.payload,
            item.attempt + 1,
        )
        with self._cond:
            heapq.heappush(self._queue, retry)
            self._cond.notify_all()

    def _post(self, item: Delivery) -> tuple[int | None, str | None]:
        """One POST; the status, or None and the reason when nothing was answered."""
        url = urlsplit(item.target.url)
        conn_class = (
            http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_class(url.hostname or "127.0.0.1", url.port, timeout=self.timeout)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            # Signed with the real time: the receiver checks the timestamp against its own clock.
            "Stripe-Signature": sign(item.payload, item.target.secret, int(time.time())),
        }
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            conn.request("POST", path, body=item.payload, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status, None
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()


class Events:
    """Records events and hands them to the dispatcher for every matching endpoint."""

    def __init__(
        self, store: Store, clock: Clock, dispatcher: Dispatcher, api_version: str
    ) -> None:
        self.store = store
        self.clock = clock
        self.dispatcher = dispatcher
        self.api_version = api_version
        self.static_targets: list[Target] = []

    def emit(
        self,
        type_: str,
        obj: dict[str, Any],
        *,
        account: str | None = None,
        previous: dict[str, Any] | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record an event about ``obj`` (a snapshot is taken now) and queue its deliveries."""
        data: dict[str, Any] = {"object": public(obj)}
        if previous and type_.endswith(".updated"):
            # Stripe sends previous_attributes with *.updated events only.
            data["previous_attributes"] = previous
        event: dict[str, Any] = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.clock.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": type_,
        }
        if account:
            # Connect events say which connected account they happened on.
            event["account"] = account
        targets = self.targets_for(event)
        event["pending_webhooks"] = len(targets)
        self.store.add(event, owner=account or PLATFORM)
        for target in targets:
            self.dispatcher.enqueue(target, public(event))
        return event

    def targets_for(self, event: dict[str, Any]) -> list[Target]:
        """The endpoints that want this event.

        Like Stripe, an endpoint created with ``connect=true`` receives only connected-account
        events and a plain one only the platform's; the endpoint given on the command line
        receives both, which is what a single local demo wants.
        """
        targets = list(self.static_targets)
        is_connect = "account" in event
        for endpoint in self.store.all("webhook_endpoint", None):
            wanted = endpoint["enabled_events"]
            if (
                endpoint["status"] == "enabled"
                and bool(endpoint.get("connect")) == is_connect
                and ("*" in wanted or event["type"] in wanted)
            ):
                targets.append(Target(endpoint["url"], endpoint["_secret"], endpoint["id"]))
        return targets

    def redeliver(self, event: dict[str, Any]) -> int:
        """Send an event again to every matching endpoint; returns how many."""
        targets = self.targets_for(event)
        for target in targets:
            self.dispatcher.enqueue(target, public(event))
        return len(targets)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Stripe's ``previous_attributes``: the old values of top-level fields that changed."""
    return {
        key: before.get(key)
        for key in set(before) | set(after)
        if not key.startswith("_") and before.get(key) != after.get(key)
    }
