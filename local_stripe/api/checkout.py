"""Checkout Sessions in payment mode, paid on a local "Pay (test mode)" page."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid_param, missing_param
from ..ids import new_id
from ..params import Params
from ..router import LIST_PARAMS, Collection, Context, paginate, route
from ..store import PLATFORM, public
from ..webhooks import diff
from .payments import CUSTOMERS, PRICES, PRODUCTS, new_payment_intent, new_price, succeed

if TYPE_CHECKING:
    from ..app import App

SESSION_LIFETIME = 24 * 60 * 60
TEST_CARD = "pm_card_visa"
SESSIONS = Collection("checkout.session", "/v1/checkout/sessions", label="checkout.session")


def _line_item(ctx: Context, item: Params) -> dict[str, Any]:
    quantity = item.req_integer("quantity", minimum=1)
    price_id = item.string("price")
    if price_id:
        price = PRICES.get(ctx, price_id, param=item.path("price"))
    elif item.has("price_data"):
        price = new_price(ctx, item.obj("price_data"), store=False)
    else:
        raise missing_param(item.path("price_data"))
    product = PRODUCTS.get(ctx, price["product"])
    amount = price["unit_amount"] * quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price["currency"],
        "description": product["name"],
        "price": public(price),
        "quantity": quantity,
    }


@route("POST", "/v1/checkout/sessions")
def create_session(ctx: Context) -> dict[str, Any]:
    """A payment-mode Checkout Session whose ``url`` is this server's pay page."""
    p = ctx.params
    p.only("""
        mode line_items success_url cancel_url metadata client_reference_id customer customer_email
        payment_intent_data payment_method_types expires_at submit_type locale
        billing_address_collection customer_creation invoice_creation allow_promotion_codes currency
        ui_mode allowed_payment_method_types excluded_payment_method_types
    """)
    p.req_string("mode", choices=("payment",))
    items = [_line_item(ctx, item) for item in p.objects("line_items")]
    if not items:
        raise missing_param("line_items")
    currencies = {i["currency"] for i in items}
    if len(currencies) > 1:
        raise invalid_param("line_items", "All line items must use the same currency.")
    customer = p.string("customer")
    if customer:
        CUSTOMERS.get(ctx, customer, param="customer")
    now = ctx.now()
    expires_at = p.integer("expires_at", minimum=now + 1800, maximum=now + SESSION_LIFETIME)
    intent_data = p.obj("payment_intent_data")
    session_id = new_id("cs_test", 58)
    total = sum(i["amount_total"] for i in items)
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": p.string("cancel_url"),
        "client_reference_id": p.string("client_reference_id"),
        "created": now,
        "currency": currencies.pop(),
        "customer": customer,
        "customer_details": None,
        "customer_email": p.string("customer_email"),
        "expires_at": expires_at or now + SESSION_LIFETIME,
        "livemode": False,
        "metadata": p.metadata(),
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": (
            p.strings("payment_method_types")
            or p.strings("allowed_payment_method_types")
            or ["card"]
        ),
        "payment_status": "unpaid",
        "status": "open",
        "success_url": p.req_string("success_url"),
        "url": f"{ctx.base_url}/pay/{session_id}",
        "_line_items": items,
        "_payment_intent_data": {
            "description": intent_data.string("description"),
            "metadata": intent_data.metadata(),
            "receipt_email": intent_data.string("receipt_email"),
            "transfer_group": intent_data.string("transfer_group"),
        },
    }
    ctx.store.add(session, ctx.owner)
    return _render(ctx, session)


def _render(ctx: Context, session: dict[str, Any]) -> dict[str, Any]:
    """The session as JSON, with ``line_items`` when the caller expanded them."""
    answer = public(session)
    if "line_items" in ctx.params.strings("expand"):
        answer["line_items"] = _items_list(session)
    return answer


def _items_list(session: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": copy.deepcopy(session["_line_items"]),
        "has_more": False,
        "url": f"/v1/checkout/sessions/{session['id']}/line_items",
    }


def expire_if_due(app: App, session: dict[str, Any]) -> None:
    """Sessions expire lazily, when next looked at after ``expires_at`` (server clock)."""
    if session["status"] == "open" and app.clock.now() >= session["expires_at"]:
        _expire(app, session)


def _expire(app: App, session: dict[str, Any]) -> None:
    owner = app.store.owner_of(session["id"])
    before = copy.deepcopy(session)
    session["status"] = "expired"
    session["url"] = None
    app.store.touch()
    app.events.emit(
        "checkout.session.expired",
        session,
        previous=diff(before, session),
        account=None if owner == PLATFORM else owner,
    )


def _session(ctx: Context, session_id: str) -> dict[str, Any]:
    session = SESSIONS.get(ctx, session_id)
    expire_if_due(ctx.app, session)
    return session


@route("GET", "/v1/checkout/sessions/{session_id}")
def retrieve_session(ctx: Context, session_id: str) -> dict[str, Any]:
    """One Checkout Session."""
    return _render(ctx, _session(ctx, session_id))


@route("GET", "/v1/checkout/sessions/{session_id}/line_items")
def list_session_items(ctx: Context, session_id: str) -> dict[str, Any]:
    """A session's line items."""
    ctx.params.only(LIST_PARAMS)
    session = _session(ctx, session_id)
    return paginate(ctx, session["_line_items"], _items_list(session)["url"])


@route("POST", "/v1/checkout/sessions/{session_id}/expire")
def expire_session(ctx: Context, session_id: str) -> dict[str, Any]:
    """Expire an open session so it can no longer be paid."""
    ctx.params.only([])
    session = _session(ctx, session_id)
    if session["status"] != "open":
        raise StripeError(
            400,
            f"Only open sessions can be expired; this one is {session['status']}.",
            replayable=True,
        )
    _expire(ctx.app, session)
    return _render(ctx, session)


SESSIONS.list_route(filters=("payment_intent", "customer", "status"))


def pay_session(app: App, session: dict[str, Any]) -> None:
    """What the pay page's button does: charge the test card and complete the session."""
    expire_if_due(app, session)
    if session["status"] != "open":
        raise ValueError(f"this Checkout Session is {session['status']}")
    owner = app.store.owner_of(session["id"])
    account = None if owner == PLATFORM else owner
    data = session["_payment_intent_data"]
    with app.store.lock:
        intent = new_payment_intent(
            app,
            owner,
            amount=session["amount_total"],
            currency=session["currency"],
            customer=session["customer"],
            description=data["description"],
            metadata=data["metadata"],
            receipt_email=data["receipt_email"],
            transfer_group=data["transfer_group"],
        )
        app.events.emit("payment_intent.created", intent, account=account)
        succeed(app, owner, intent, TEST_CARD, account)
        before = copy.deepcopy(session)
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=intent["id"],
            url=None,
            customer_details={"email": session["customer_email"], "name": None},
        )
        app.store.touch()
        app.events.emit(
            "checkout.session.completed", session, previous=diff(before, session), account=account
        )
