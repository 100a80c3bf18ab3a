"""Events, webhook endpoints, and the redelivery test helper."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import invalid_param, missing_param, no_such
from ..ids import new_id, new_token
from ..router import LIST_PARAMS, Collection, Context, paginate, route
from ..store import PLATFORM, public

# The platform's endpoints, whoever asks; read back without their secrets, as on Stripe.
ENDPOINTS = Collection("webhook_endpoint", "/v1/webhook_endpoints", owner=PLATFORM)

# Connected-account events need ``Stripe-Account``, as on Stripe.
Collection("event", "/v1/events").retrieve_route()


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
    p.only("url enabled_events connect description metadata api_version")
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


@route("POST", "/v1/webhook_endpoints/{endpoint_id}")
def update_endpoint(ctx: Context, endpoint_id: str) -> dict[str, Any]:
    """Change an endpoint's URL, events, description, metadata, or disable it."""
    p = ctx.params
    p.only("url enabled_events description metadata disabled")
    endpoint = ENDPOINTS.get(ctx, endpoint_id)
    endpoint["url"] = p.string("url", default=endpoint["url"])
    endpoint["enabled_events"] = _enabled_events(ctx, required=False) or endpoint["enabled_events"]
    if p.has("description"):
        endpoint["description"] = p.string("description")
    if p.has("disabled"):
        endpoint["status"] = "disabled" if p.boolean("disabled") else "enabled"
    endpoint["metadata"] = p.metadata(endpoint["metadata"])
    ctx.store.touch()
    return public(endpoint)


ENDPOINTS.retrieve_route().list_route().delete_route()


@route("POST", "/v1/test_helpers/webhooks/redeliver")
def redeliver(ctx: Context) -> dict[str, Any]:
    """Send an event again (for duplicate-delivery tests); ``event`` in query or body."""
    ctx.params.only("event")
    event_id = ctx.params.req_string("event")
    event = ctx.store.find(event_id)
    if event is None or event["object"] != "event":
        raise no_such("event", event_id, param="event")
    count = ctx.app.events.redeliver(copy.deepcopy(event))
    return {"object": "webhook_redelivery", "event": event_id, "deliveries": count}
