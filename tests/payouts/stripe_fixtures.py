"""Helpers for tests that talk to the local Stripe test server.

Load the fixtures into a test module with

    pytest_plugins = ["tests.payouts.stripe_fixtures"]

``local_stripe`` is one server per test module on a free port; ``stripe_env`` resets it before
each test and points the global ``stripe`` module at it (``max_network_retries = 0``).
Nothing here needs Django.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe

from local_stripe import LocalStripeServer, ServerConfig

TEST_KEY = "sk_test_faiross_local"


class Control:
    """The ``/_test`` API and the HTML pages of one server, over plain urllib."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        """A JSON request to the control API; raises on a non-2xx answer."""
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def fault(self, path_prefix: str, mode: str, **options: Any) -> dict[str, Any]:
        """Arm a fault switch, e.g. ``fault("/v1/transfers", "500", method="POST", count=2)``."""
        return self.call(
            "POST", "/_test/faults", {"path_prefix": path_prefix, "mode": mode, **options}
        )

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the server clock forward."""
        return self.call("POST", "/_test/clock", {"advance_seconds": seconds})

    def reset(self) -> None:
        """Forget all state."""
        self.call("POST", "/_test/reset", {})

    def settings(self, **values: Any) -> dict[str, Any]:
        """Change runtime settings (rate_limit, payout_mode, webhook retry schedule)."""
        return self.call("POST", "/_test/settings", values)

    def requests(self, method: str | None = None, path_prefix: str | None = None) -> list[dict]:
        """The API requests the server received, oldest first."""
        query = urlencode(
            {k: v for k, v in (("method", method), ("path_prefix", path_prefix)) if v}
        )
        return self.call("GET", f"/_test/requests?{query}")["data"]

    def wait_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until the server has no webhook delivery queued or running."""
        return self.call("POST", "/_test/webhooks/wait", {"timeout_seconds": timeout})["idle"]

    def onboard(self, account_id: str, outcome: str = "complete") -> dict[str, Any]:
        """Finish onboarding without the page."""
        return self.call("POST", f"/_test/accounts/{account_id}/onboarding", {"outcome": outcome})


def open_page(url: str, form: dict[str, str] | None = None) -> tuple[int, str, str | None]:
    """GET (or POST ``form`` to) a page without following redirects: status, body, Location."""
    data = urlencode(form).encode() if form is not None else None
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, response.read().decode(), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("Location")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Delivery:
    """One webhook POST as the receiver saw it."""

    body: bytes
    signature: str | None
    event: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.event = json.loads(self.body)


class WebhookReceiver:
    """A tiny HTTP server that records webhook deliveries (and can fail on purpose)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.fail_next = 0
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= failing
                    if not failing:
                        receiver.deliveries.append(
                            Delivery(body, self.headers.get("Stripe-Signature"))
                        )
                    receiver._cond.notify_all()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where to point webhook endpoints."""
        host, port = self._httpd.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}/webhooks/stripe/"

    def wait_for(
        self, predicate: Callable[[list[Delivery]], bool], timeout: float = 5.0
    ) -> list[Delivery]:
        """Wait until ``predicate(deliveries)`` holds; returns the deliveries so far."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.deliveries):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"webhooks not received: {self.types()}")
                self._cond.wait(remaining)
            return list(self.deliveries)

    def of_type(self, event_type: str) -> list[Delivery]:
        """Deliveries of one event type."""
        with self._cond:
            return [d for d in self.deliveries if d.event["type"] == event_type]

    def types(self) -> list[str]:
        """Event types received, in order."""
        with self._cond:
            return [d.event["type"] for d in self.deliveries]

    def close(self) -> None:
        """Stop listening."""
        self._httpd.shutdown()
        self._httpd.server_close()


def start_server(**options: Any) -> LocalStripeServer:
    """A server on a free port with a fast webhook retry schedule."""
    options.setdefault("webhook_retry_base", 0.05)
    return LocalStripeServer(ServerConfig(port=0, **options)).start()


@pytest.fixture(scope="module")
def local_stripe() -> Iterator[LocalStripeServer]:
    """One local Stripe server for the test module."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def stripe_env(local_stripe: LocalStripeServer) -> Iterator[Control]:
    """A reset server with the global ``stripe`` module pointed at it; yields its Control."""
    control = Control(local_stripe.url)
    control.reset()
    saved = (stripe.api_key, stripe.api_base, stripe.max_network_retries)
    stripe.api_key, stripe.api_base, stripe.max_network_retries = TEST_KEY, local_stripe.url, 0
    yield control
    stripe.api_key, stripe.api_base, stripe.max_network_retries = saved


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A running webhook receiver."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
