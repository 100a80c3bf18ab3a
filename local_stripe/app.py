"""The application: one object that owns the state and answers every request.

The HTTP layer (:mod:`.server`) only reads requests and writes responses; everything Stripe-like
happens here, in the order the real API applies it: authentication, rate limit, injected
faults, routing, ``Stripe-Account``, idempotency, then the endpoint itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from typing import Any

from . import api, pages, testing
from .clock import Clock
from .config import ServerConfig
from .errors import StripeError, rate_limited
from .faults import Fault, FaultBoard, RateLimiter, RequestLog
from .idempotency import Idempotency, Saved, fingerprint
from .ids import new_id
from .params import Params, decode_form
from .router import Context, Handler, match
from .store import PLATFORM, Persistence, Store, public
from .web import Request, Response, json_response
from .webhooks import Dispatcher, Events, Target

logger = logging.getLogger(__name__)

assert api  # imported for its side effect: registering the /v1 routes


class App:
    """State plus request handling; see the module docstring."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.store = Store(config.initial_balance)
        self.faults = FaultBoard()
        self.rate = RateLimiter(config.rate_limit)
        self.log = RequestLog()
        self.payout_mode = config.payout_mode
        self.dispatcher = Dispatcher(
            config.webhook_max_attempts, config.webhook_retry_base, config.webhook_timeout
        )
        self.events = Events(self.store, self.clock, self.dispatcher, config.api_version)
        if config.webhook_url:
            self.events.static_targets.append(
                Target(config.webhook_url, config.webhook_secret, "we_command_line")
            )
        self.idempotency = Idempotency(self.store)
        self.persistence = (
            Persistence(self.store, config.data_file, lambda: self.clock.offset)
            if config.data_file
            else None
        )

    def start(self) -> None:
        """Load the data file (if any) and start the background threads."""
        if self.persistence:
            offset = self.persistence.load()
            if offset is not None:
                self.clock.reset(offset)
            self.persistence.start()
        self.dispatcher.start()

    def stop(self) -> None:
        """Stop the background threads and write the data file one last time."""
        self.dispatcher.stop()
        if self.persistence:
            self.persistence.stop()

    def reset(self) -> None:
        """Back to a fresh server (configuration is kept)."""
        self.store.reset()
        self.clock.reset()
        self.faults.clear()
        self.log.clear()
        self.dispatcher.clear()
        self.rate.per_second = self.config.rate_limit
        self.payout_mode = self.config.payout_mode
        self.dispatcher.max_attempts = self.config.webhook_max_attempts
        self.dispatcher.retry_base = self.config.webhook_retry_base

    # Dispatch

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request; never raises."""
        try:
            return self._route(request)
        except Exception:
            logger.exception("unhandled error for %s %s", request.method, request.path)
            error = StripeError(
                500, "An unknown error occurred in the local test server.", type_="api_error"
            )
            return json_response(500, error.body())

    def _route(self, request: Request) -> Response:
        path = request.path
        if path in ("", "/") and request.method == "GET":
            return pages.index(self, request)
        if path.startswith("/_test/"):
            return testing.handle(self, request)
        if path.startswith("/onboarding/"):
            return pages.onboarding(self, request, path.removeprefix("/onboarding/"))
        if path.startswith("/pay/"):
            return pages.checkout(self, request, path.removeprefix("/pay/"))
        return self.handle_api(request)

    # The API pipeline

    def handle_api(self, request: Request) -> Response:
        """Answer a ``/v1`` request and record it in the request log."""
        request_id = new_id("req", 14)
        entry: dict[str, Any] = {
            "id": request_id,
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "idempotency_key": request.header("Idempotency-Key"),
            "stripe_account": request.header("Stripe-Account"),
            "status": None,
            "replayed": False,
            "fault": None,
            "dropped": False,
        }
        try:
            response = self._api(request, request_id, entry)
        except StripeError as exc:
            response = json_response(exc.status, exc.body(), exc.headers)
        response.headers.setdefault("Request-Id", request_id)
        response.headers.setdefault(
            "Stripe-Version", request.header("Stripe-Version") or self.config.api_version
        )
        if entry["idempotency_key"]:
            response.headers.setdefault("Idempotency-Key", entry["idempotency_key"])
        entry["status"] = response.status
        entry["dropped"] = response.drop
        self.log.add(entry)
        return response

    def _api(self, request: Request, request_id: str, entry: dict[str, Any]) -> Response:
        self._authenticate(request)
        if not self.rate.allow():
            raise rate_limited()
        fault = self.faults.take(request.method, request.path)
        if fault:
            entry["fault"] = fault.mode
            _raise_injected(fault)
        found = match(request.method, request.path)
        if found is None:
            raise StripeError(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). The FairOSS "
                "local Stripe test server implements only the endpoints FairOSS uses.",
            )
        handler, args = found
        data = decode_form(request.query)
        if request.method == "POST":
            data.update(decode_form(request.body.decode("utf-8", "replace")))
        account = self._acting_account(request)
        ctx = Context(
            app=self,
            params=Params(data, lenient=self.config.lenient_params),
            account=account,
            request_id=request_id,
            idempotency_key=entry["idempotency_key"],
            base_url=request.base_url,
            path=request.path,
        )
        response = self._idempotent(request, ctx, handler, args, data, fault, entry)
        response.drop = bool(fault and fault.mode == "drop_after_commit")
        return response

    def _idempotent(
        self,
        request: Request,
        ctx: Context,
        handler: Handler,
        args: dict[str, str],
        data: dict[str, Any],
        fault: Fault | None,
        entry: dict[str, Any],
    ) -> Response:
        """Run the endpoint once per idempotency key; replay the saved answer afterwards."""
        key = ctx.idempotency_key if request.method == "POST" else None
        if key is None:
            self._delay(fault)
            status, body, _ = self._execute(ctx, handler, args)
            return Response(status, body.encode())
        scope = Idempotency.scope(ctx.owner, key)
        print_ = fingerprint(request.method, request.path, data)
        saved = self.idempotency.begin(scope, print_, self.clock.now())
        if saved is not None:
            entry["replayed"] = True
            headers = {"Idempotent-Replayed": "true", "Original-Request": saved.request_id}
            return Response(saved.status, saved.body.encode(), headers=headers)
        try:
            self._delay(fault)
            # The effect and its saved answer are one step, also for the data file.
            with self.store.lock:
                status, body, replayable = self._execute(ctx, handler, args)
                if status < 400 or replayable:
                    saved = Saved(status, body, ctx.request_id)
                    self.idempotency.save(scope, print_, saved, self.clock.now())
        finally:
            self.idempotency.finish(scope)
        return Response(status, body.encode())

    @staticmethod
    def _delay(fault: Fault | None) -> None:
        # Outside the state lock, so other requests go on while this one is slow.
        if fault and fault.mode == "delay":
            time.sleep(fault.delay_seconds)

    def _execute(
        self, ctx: Context, handler: Handler, args: dict[str, str]
    ) -> tuple[int, str, bool]:
        """Run the endpoint atomically; returns status, JSON body and whether to save it."""
        try:
            paths = ctx.params.strings("expand")  # validated before anything changes
            with self.store.lock:
                result = handler(ctx, **args)
                expand(self.store, result, paths)
            return 200, json.dumps(result), False
        except StripeError as exc:
            return exc.status, json.dumps(exc.body()), exc.replayable

    def _authenticate(self, request: Request) -> None:
        """Accept only test-mode secret keys, like a Stripe account in test mode."""
        key = _api_key(request.header("Authorization") or "")
        if not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if key.startswith(("sk_live_", "rk_live_", "pk_live_")):
            raise StripeError(
                401,
                "This is the FairOSS local Stripe server, which runs in TEST MODE only: live "
                f"keys are refused ({_mask(key)}). Use a sk_test_... key.",
            )
        if not key.startswith(("sk_test_", "rk_test_")) or (
            self.config.api_key and key != self.config.api_key
        ):
            raise StripeError(401, f"Invalid API Key provided: {_mask(key)}")

    def _acting_account(self, request: Request) -> str | None:
        """The connected account named by ``Stripe-Account``, which must exist."""
        account = request.header("Stripe-Account")
        if account is None:
            return None
        with self.store.lock:
            found = self.store.find(account)
        connected = found is not None and found["object"] == "account"
        if not connected or self.store.owner_of(account) != PLATFORM:
            raise StripeError(
                403,
                f"The provided key does not have access to account '{account}' (or that account "
                "does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        return account


def _raise_injected(fault: Fault) -> None:
    """Answer a 500 or 429 fault before anything runs (so it has no side effect)."""
    headers = {}
    if fault.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
    if fault.mode == "500":
        raise StripeError(
            500, "An unknown error occurred (injected fault).", type_="api_error", headers=headers
        )
    if fault.mode == "429":
        error = rate_limited()
        error.headers = headers
        raise error


def _api_key(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        # curl -u sk_test_...: sends the key as the user name.
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def _mask(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:]


def expand(store: Store, obj: Any, paths: list[str]) -> None:
    """Replace ids named by ``expand[]`` paths (e.g. ``latest_charge``) with the objects."""
    for path in paths:
        _expand(store, obj, path.split("."))


def _expand(store: Store, node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(store, item, parts)
        return
    if not isinstance(node, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    value = node.get(head)
    if isinstance(value, str) and (found := store.find(value)) is not None:
        value = node[head] = public(found)
    _expand(store, value, rest)
