"""Events, webhook endpoints, and the redelivery test helper."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import StripeError, invalid_param, missing_param
from ..ids import new_id, new_token
from ..router import LIST_PARAMS, Context, paginate, route
from ..store import public


@route("GET", "/v1/events/{event_id}")
def retrieve_event(ctx: Context, event_id: str) -> dict[str, Any]:
    """One event of the acting account (connected-account events need ``Stripe-Account``)."""
    return public(ctx.store.get("event", event_id, ctx.owner))


@route("GET", "/v1/events")
def list_events(ctx: Context) -> dict[str, Any]:
    """Events, newest first, optionally of one ``type`` or several ``types``."""
    p = ctx.params
    p.only([*LIST_PARAMS, "type", "types", "delivery_success"])
    items = ctx.store.all("event", ctx.owner)
    wanted = set(p.strings("types"))
    one = p.string("type")
    if one:
        wanted.add(one)
    if wanted:
        items = [e for e in items if _type_matches(e["type"], wanted)]
    return paginate(ctx, items, "/v1/events")


def _type_matches(event_type: str, wanted: set[str]) -> bool:
    # Stripe accepts a trailing wildcard such as "transfer.*".
    return any(
        event_type == w or (w.endswith(".*") and event_type.startswith(w[:-1])) for w in wanted
    )


def _enabled_events(ctx: Context, required: bool) -> list[str] | None:
    events = ctx.params.strings("enabled_events")
    if not events:
        if required:
            raise missing_param("enabled_events")
        return None
    return events


@route("POST", "/v1/webhook_endpoints")
def create_endpoint(ctx: Context) -> dict[str, Any]:
    """A webhook endpoint; its signing ``secret`` is shown only in this answer."""
    p = ctx.params
    p.only(["url", "enabled_events", "connect", "description", "metadata", "api_version"])
    url = p.req_string("url")
    if not url.startswith(("http://", "https://")):
        raise invalid_param("url", "Invalid URL: must start with http:// or https://")
    endpoint = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": p.string("api_version"),
        "application": None,
        "connect": p.boolean("connect"),
        "created": ctx.now(),
        "description": p.string("description"),
        "enabled_events": _enabled_events(ctx, required=True),
        "livemode": False,
        "metadata": p.metadata(),
        "status": "enabled",
        "url": url,
        "_secret": "whsec_" + new_token(24),
    }
    ctx.store.add(endpoint)
    answer = public(endpoint)
    answer["secret"] = endpoint["_secret"]
    return answer


@route("GET", "/v1/webhook_endpoints/{endpoint_id}")
def retrieve_endpoint(ctx: Context, endpoint_id: str) -> dict[str, Any]:
    """One webhook endpoint (without its secret, as on Stripe)."""
    return public(ctx.store.get("webhook_endpoint", endpoint_id))


@route("POST", "/v1/webhook_endpoints/{endpoint_id}")
def update_endpoint(ctx: Context, endpoint_id: str) -> dict[str, Any]:
    """Change an endpoint's URL, events, description, metadata, or disable it."""
    p = ctx.params
    p.only(["url", "enabled_events", "description", "metadata", "disabled"])
    endpoint = ctx.store.get("webhook_endpoint", endpoint_id)
    endpoint["url"] = p.string("url", default=endpoint["url"])
    endpoint["enabled_events"] = _enabled_events(ctx, required=False) or endpoint["enabled_events"]
    if p.has("description"):
        endpoint["description"] = p.string("description")
    if p.has("disabled"):
        endpoint["status"] = "disabled" if p.boolean("disabled") else "enabled"
    endpoint["metadata"] = p.metadata(endpoint["metadata"])
    ctx.store.touch()
    return public(endpoint)


@route("DELETE", "/v1/webhook_endpoints/{endpoint_id}")
def delete_endpoint(ctx: Context, endpoint_id: str) -> dict[str, Any]:
    """Delete an endpoint."""
    ctx.store.get("webhook_endpoint", endpoint_id)
    ctx.store.remove(endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


@route("GET", "/v1/webhook_endpoints")
def list_endpoints(ctx: Context) -> dict[str, Any]:
    """Webhook endpoints, newest first."""
    ctx.params.only(LIST_PARAMS)
    return paginate(ctx, ctx.store.all("webhook_endpoint"), "/v1/webhook_endpoints")


@route("POST", "/v1/test_helpers/webhooks/redeliver")
def redeliver(ctx: Context) -> dict[str, Any]:
    """Send an event again (for duplicate-delivery tests); ``event`` in query or body."""
    ctx.params.only(["event"])
    event_id = ctx.params.req_string("event")
    event = ctx.store.find(event_id)
    if event is None or event["object"] != "event":
        raise StripeError(
            404, f"No such event: '{event_id}'", code="resource_missing", param="event"
        )
    count = ctx.app.events.redeliver(copy.deepcopy(event))
    return {"object": "webhook_redelivery", "event": event_id, "deliveries": count}
