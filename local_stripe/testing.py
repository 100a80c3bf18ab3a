"""The ``/_test`` control API: faults, clock, reset, request log, and shortcuts.

These endpoints take and return JSON and need no API key; they exist only on this local server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .api.accounts import apply_onboarding
from .api.payouts import settle_payout
from .errors import StripeError
from .faults import parse_fault
from .store import public
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .app import App

Action = Callable[["App", Request, dict[str, Any], dict[str, str]], Any]
_ACTIONS: list[tuple[str, re.Pattern[str], Action]] = []


def _action(method: str, pattern: str) -> Callable[[Action], Action]:
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def register(func: Action) -> Action:
        _ACTIONS.append((method, regex, func))
        return func

    return register


def handle(app: App, request: Request) -> Response:
    """Dispatch one ``/_test`` request."""
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        for method, regex, func in _ACTIONS:
            found = regex.match(request.path)
            if found and method == request.method:
                return json_response(200, func(app, request, data, found.groupdict()))
        raise StripeError(404, f"Unrecognized test URL ({request.method}: {request.path})")
    except StripeError as exc:
        return json_response(exc.status, exc.body())
    except (ValueError, TypeError, KeyError) as exc:
        return json_response(400, StripeError(400, str(exc)).body())


def _query(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.query).items()}


@_action("POST", "/_test/faults")
def add_fault(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Arm a fault switch (see :mod:`.faults`)."""
    return app.faults.add(parse_fault(data)).as_dict()


@_action("GET", "/_test/faults")
def list_faults(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """The armed switches."""
    return {"object": "list", "data": app.faults.list()}


@_action("GET", "/_test/clock")
def get_clock(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """The server clock."""
    return {"now": app.clock.now(), "offset_seconds": app.clock.offset}


@_action("POST", "/_test/clock")
def advance_clock(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Move the server clock forward by ``advance_seconds``."""
    app.clock.advance(float(data.get("advance_seconds", 0)))
    app.store.touch()
    return get_clock(app, request, data, args)


@_action("POST", "/_test/reset")
def reset(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Forget all objects, keys, faults, requests and deliveries; reset the clock."""
    app.reset()
    return {"reset": True}


@_action("GET", "/_test/requests")
def list_requests(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Recent API requests in arrival order; filter with ``?method=`` and ``?path_prefix=``."""
    query = _query(request)
    entries = app.log.query(query.get("method"), query.get("path_prefix"))
    return {"object": "list", "data": entries}


def _clear(part: str) -> Action:
    """An action that empties ``app.<part>``."""

    def clear(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
        getattr(app, part).clear()
        return {"cleared": True}

    return clear


# Disarm every fault switch; forget the request log.
_action("DELETE", "/_test/faults")(_clear("faults"))
_action("DELETE", "/_test/requests")(_clear("log"))


@_action("GET", "/_test/webhooks")
def list_deliveries(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Webhook delivery attempts, oldest first."""
    return {"object": "list", "data": list(app.dispatcher.log)}


@_action("POST", "/_test/webhooks/wait")
def wait_deliveries(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Block until no delivery is queued or running (``timeout_seconds``, default 5)."""
    return {"idle": app.dispatcher.wait_idle(float(data.get("timeout_seconds", 5)))}


@_action("GET", "/_test/settings")
def get_settings(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Runtime settings."""
    return {
        "rate_limit": app.rate.per_second,
        "payout_mode": app.payout_mode,
        "webhook_max_attempts": app.dispatcher.max_attempts,
        "webhook_retry_base_seconds": app.dispatcher.retry_base,
    }


@_action("POST", "/_test/settings")
def set_settings(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Change the rate limit, payout mode or webhook retry schedule while running."""
    if "rate_limit" in data:
        limit = data["rate_limit"]
        app.rate.per_second = None if limit in (None, 0) else float(limit)
    if "payout_mode" in data:
        if data["payout_mode"] not in ("auto", "manual"):
            raise ValueError("payout_mode must be auto or manual")
        app.payout_mode = data["payout_mode"]
    if "webhook_max_attempts" in data:
        app.dispatcher.max_attempts = max(1, int(data["webhook_max_attempts"]))
    if "webhook_retry_base_seconds" in data:
        app.dispatcher.retry_base = max(0.0, float(data["webhook_retry_base_seconds"]))
    return get_settings(app, request, data, args)


@_action("POST", "/_test/accounts/{account_id}/onboarding")
def onboard(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
    """Skip the page: ``{"outcome": "complete"|"incomplete"|"restrict"}``."""
    with app.store.lock:
        account = app.store.get("account", args["account_id"])
        apply_onboarding(app, account, str(data.get("outcome", "complete")))
        return public(account)


def _settle(paid: bool) -> Action:
    def settle(app: App, request: Request, data: dict[str, Any], args: dict[str, str]) -> Any:
        with app.store.lock:
            payout = app.store.get("payout", args["payout_id"], None)
            code = str(data.get("failure_code", ""))
            settle_payout(app, payout, paid=paid, failure_code=code)
            return public(payout)

    return settle


# Settle a pending payout (``payout_mode="manual"``): paid, or failed with ``failure_code`` and
# its money returned to the balance.
_action("POST", "/_test/payouts/{payout_id}/pay")(_settle(paid=True))
_action("POST", "/_test/payouts/{payout_id}/fail")(_settle(paid=False))
