"""Money in: customers, products, prices, PaymentIntents and their charges.

Test payment methods work like Stripe's: ``pm_card_visa`` (and any other ``pm_card_<brand>``)
succeeds, ``pm_card_chargeDeclined`` and friends are declined with a 402 ``card_error``.
A successful charge raises the available balance of the account it was made on.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid_param
from ..ids import new_id, new_token
from ..params import Params
from ..router import Collection, Context, route
from ..store import PLATFORM, public
from ..webhooks import diff
from .balance import record_txn

if TYPE_CHECKING:
    from ..app import App

# pm_card_* test method → (error code, decline code, message)
DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent", "Your card was declined."),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
    "pm_card_chargeDeclinedIncorrectCvc": (
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    "pm_card_chargeDeclinedProcessingError": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}

_BRANDS = {"visa": "visa", "mastercard": "mastercard", "amex": "amex", "discover": "discover"}
_OPEN = ("requires_payment_method", "requires_confirmation", "requires_action")
# The PaymentIntent's event after a charge that ended with this status.
_INTENT_EVENTS = {
    "succeeded": "payment_intent.succeeded",
    "failed": "payment_intent.payment_failed",
}

CUSTOMERS = Collection("customer", "/v1/customers")
PRODUCTS = Collection("product", "/v1/products")
PRICES = Collection("price", "/v1/prices")
INTENTS = Collection("payment_intent", "/v1/payment_intents", label="payment_intent")
CHARGES = Collection("charge", "/v1/charges")


# Customers


def _customer_fields(ctx: Context, customer: dict[str, Any]) -> None:
    p = ctx.params
    for name in ("email", "name", "description", "phone"):
        if p.has(name):
            customer[name] = p.string(name)
    customer["metadata"] = p.metadata(customer["metadata"])


@route("POST", "/v1/customers")
def create_customer(ctx: Context) -> dict[str, Any]:
    """A customer (the paying company)."""
    ctx.params.only("email name description phone metadata address preferred_locales tax_exempt")
    customer: dict[str, Any] = {
        "id": new_id("cus", 14),
        "object": "customer",
        "balance": 0,
        "created": ctx.now(),
        "currency": None,
        "delinquent": False,
        "description": None,
        "email": None,
        "invoice_settings": {"default_payment_method": None},
        "livemode": False,
        "metadata": {},
        "name": None,
        "phone": None,
    }
    _customer_fields(ctx, customer)
    ctx.store.add(customer, ctx.owner)
    ctx.emit("customer.created", customer)
    return public(customer)


@route("POST", "/v1/customers/{customer_id}")
def update_customer(ctx: Context, customer_id: str) -> dict[str, Any]:
    """Change a customer's contact details or metadata."""
    ctx.params.only("email name description phone metadata")
    customer = CUSTOMERS.get(ctx, customer_id)
    with ctx.updating(customer, "customer.updated"):
        _customer_fields(ctx, customer)
    return public(customer)


CUSTOMERS.retrieve_route().list_route(filters=("email",)).delete_route()


# Products and prices


def new_product(
    ctx: Context, name: str, description: str | None, metadata: dict[str, str]
) -> dict[str, Any]:
    """Create and store a product."""
    now = ctx.now()
    product = {
        "id": new_id("prod", 14),
        "object": "product",
        "active": True,
        "created": now,
        "default_price": None,
        "description": description,
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "updated": now,
    }
    return ctx.store.add(product, ctx.owner)


@route("POST", "/v1/products")
def create_product(ctx: Context) -> dict[str, Any]:
    """A product (what an invoice line is for)."""
    p = ctx.params
    p.only("name description metadata active id")
    product = new_product(ctx, p.req_string("name"), p.string("description"), p.metadata())
    return public(product)


PRODUCTS.retrieve_route().list_route(accepts=("active",))


def new_price(ctx: Context, p: Params, *, store: bool = True) -> dict[str, Any]:
    """A one-time price from ``currency``, ``unit_amount`` and ``product``/``product_data``."""
    currency = p.currency()
    unit_amount = p.req_integer("unit_amount", minimum=0)
    product_id = p.string("product")
    if product_id:
        PRODUCTS.get(ctx, product_id, param=p.path("product"))
    else:
        data = p.obj("product_data")
        product_id = new_product(
            ctx, data.req_string("name"), data.string("description"), data.metadata()
        )["id"]
    price = {
        "id": new_id("price", 24),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": ctx.now(),
        "currency": currency,
        "livemode": False,
        "metadata": p.metadata(),
        "nickname": p.string("nickname"),
        "product": product_id,
        "recurring": None,
        "type": "one_time",
        "unit_amount": unit_amount,
    }
    if store:
        ctx.store.add(price, ctx.owner)
    return price


@route("POST", "/v1/prices")
def create_price(ctx: Context) -> dict[str, Any]:
    """A one-time price (recurring prices are not supported here)."""
    p = ctx.params
    p.only("currency unit_amount product product_data nickname metadata active recurring")
    if p.has("recurring"):
        raise invalid_param("recurring", "The local test server supports one-time prices only.")
    return public(new_price(ctx, p))


PRICES.retrieve_route().list_route(filters=("product",), accepts=("active", "currency"))


# PaymentIntents


def new_payment_intent(
    app: App,
    owner: str,
    *,
    amount: int,
    currency: str,
    customer: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    methods: list[str] | None = None,
    receipt_email: str | None = None,
    transfer_group: str | None = None,
) -> dict[str, Any]:
    """Create and store a PaymentIntent awaiting a payment method."""
    intent_id = new_id("pi")
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_token(12)}",
        "confirmation_method": "automatic",
        "created": app.clock.now(),
        "currency": currency,
        "customer": customer,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata or {},
        "payment_method": None,
        "payment_method_types": methods or ["card"],
        "receipt_email": receipt_email,
        "status": "requires_payment_method",
        "transfer_group": transfer_group,
    }
    return app.store.add(intent, owner)


@route("POST", "/v1/payment_intents")
def create_payment_intent(ctx: Context) -> dict[str, Any]:
    """A PaymentIntent; with ``confirm=true`` it is confirmed at once."""
    p = ctx.params
    p.only("""
        amount currency customer metadata description payment_method_types automatic_payment_methods
        payment_method confirm receipt_email statement_descriptor statement_descriptor_suffix
        transfer_group setup_future_usage return_url off_session capture_method confirmation_method
        on_behalf_of transfer_data application_fee_amount payment_method_options
        error_on_requires_action allowed_payment_method_types excluded_payment_method_types
    """)
    p.string("capture_method", choices=("automatic", "automatic_async"))
    amount, currency = p.money()
    customer = p.string("customer")
    if customer:
        CUSTOMERS.get(ctx, customer, param="customer")
    method = p.string("payment_method")
    if method:
        _check_method(method, "payment_method")
    confirm = p.boolean("confirm")
    if confirm and not method:
        raise StripeError(
            400,
            "A payment_method is required to confirm.",
            param="payment_method",
            code="parameter_missing",
        )
    intent = new_payment_intent(
        ctx.app,
        ctx.owner,
        amount=amount,
        currency=currency,
        customer=customer,
        description=p.string("description"),
        metadata=p.metadata(),
        # Newer API versions call the list allowed_payment_method_types.
        methods=p.strings("payment_method_types") or p.strings("allowed_payment_method_types"),
        receipt_email=p.string("receipt_email"),
        transfer_group=p.string("transfer_group"),
    )
    if method:
        intent["payment_method"] = method
        intent["status"] = "requires_confirmation"
    ctx.emit("payment_intent.created", intent)
    if confirm and method:
        _confirm(ctx, intent, method)
    return public(intent)


def _check_method(method: str, param: str) -> None:
    if not method.startswith("pm_card_"):
        raise StripeError(
            400,
            f"No such PaymentMethod: '{method}'. The local test server knows the test methods "
            "pm_card_visa (and other pm_card_<brand>) and pm_card_chargeDeclined*.",
            code="resource_missing",
            param=param,
        )


@route("POST", "/v1/payment_intents/{intent_id}")
def update_payment_intent(ctx: Context, intent_id: str) -> dict[str, Any]:
    """Change an unpaid PaymentIntent."""
    p = ctx.params
    p.only("""
        amount currency customer description metadata payment_method receipt_email transfer_group
        payment_method_types
    """)
    intent = INTENTS.get(ctx, intent_id)
    _require_open(intent, "update")
    with ctx.updating(intent):
        intent["amount"] = p.amount(required=False) or intent["amount"]
        intent["currency"] = p.currency(required=False) or intent["currency"]
        for name in ("customer", "description", "receipt_email", "transfer_group"):
            if p.has(name):
                intent[name] = p.string(name)
        if intent["customer"]:
            CUSTOMERS.get(ctx, intent["customer"], param="customer")
        method = p.string("payment_method")
        if method:
            _check_method(method, "payment_method")
            intent["payment_method"] = method
            intent["status"] = "requires_confirmation"
        intent["metadata"] = p.metadata(intent["metadata"])
    return public(intent)


def _require_open(intent: dict[str, Any], action: str) -> None:
    if intent["status"] not in _OPEN:
        raise StripeError(
            400,
            f"You cannot {action} this PaymentIntent because it has a status of "
            f"{intent['status']}.",
            code="payment_intent_unexpected_state",
            replayable=True,
            extra={"payment_intent": public(intent)},
        )


@route("POST", "/v1/payment_intents/{intent_id}/confirm")
def confirm_payment_intent(ctx: Context, intent_id: str) -> dict[str, Any]:
    """Charge the payment method: success, or a 402 decline for the decline test methods."""
    p = ctx.params
    p.only("""
        payment_method return_url receipt_email off_session mandate_data payment_method_options
        setup_future_usage error_on_requires_action payment_method_types
    """)
    intent = INTENTS.get(ctx, intent_id)
    _require_open(intent, "confirm")
    method = p.string("payment_method") or intent["payment_method"]
    if not method:
        raise StripeError(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    _check_method(method, "payment_method")
    if p.has("receipt_email"):
        intent["receipt_email"] = p.string("receipt_email")
    _confirm(ctx, intent, method)
    return public(intent)


def _confirm(ctx: Context, intent: dict[str, Any], method: str) -> None:
    account = None if ctx.owner == PLATFORM else ctx.owner
    if method in DECLINES:
        decline(ctx.app, ctx.owner, intent, method, account, ctx.request_id)
    succeed(ctx.app, ctx.owner, intent, method, account)


def _charge(app: App, owner: str, intent: dict[str, Any], method: str) -> dict[str, Any]:
    brand = _BRANDS.get(method.removeprefix("pm_card_").split("_")[0], "visa")
    charge = {
        "id": new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "balance_transaction": None,
        "billing_details": {"email": intent["receipt_email"], "name": None},
        "captured": False,
        "created": app.clock.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "outcome": None,
        "paid": False,
        "payment_intent": intent["id"],
        "payment_method": method,
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": brand,
                "last4": "4242" if brand == "visa" else "0005",
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "country": "US",
            },
        },
        "receipt_email": intent["receipt_email"],
        "refunded": False,
        "status": "pending",
        "transfer_group": intent["transfer_group"],
    }
    return app.store.add(charge, owner)


def _conclude(
    app: App, intent: dict[str, Any], charge: dict[str, Any], account: str | None, **changes: Any
) -> None:
    """Point ``intent`` at its finished ``charge`` with ``changes``, and send both events."""
    intent.update(latest_charge=charge["id"], **changes)
    app.store.touch()
    app.events.emit(f"charge.{charge['status']}", charge, account=account)
    app.events.emit(_INTENT_EVENTS[charge["status"]], intent, account=account)


def succeed(
    app: App, owner: str, intent: dict[str, Any], method: str, account: str | None
) -> dict[str, Any]:
    """Charge ``intent`` successfully: credit the balance and send the success events."""
    charge = _charge(app, owner, intent, method)
    charge.update(
        amount_captured=intent["amount"],
        captured=True,
        paid=True,
        status="succeeded",
        outcome={
            "network_status": "approved_by_network",
            "type": "authorized",
            "seller_message": "Payment complete.",
            "risk_level": "normal",
        },
        balance_transaction=record_txn(
            app.store,
            owner,
            amount=intent["amount"],
            currency=intent["currency"],
            type_="charge",
            source=charge["id"],
            now=app.clock.now(),
        ),
    )
    _conclude(
        app,
        intent,
        charge,
        account,
        status="succeeded",
        amount_received=intent["amount"],
        payment_method=method,
        last_payment_error=None,
    )
    return charge


def decline(
    app: App,
    owner: str,
    intent: dict[str, Any],
    method: str,
    account: str | None,
    request_id: str | None = None,
) -> None:
    """Record a declined charge and raise Stripe's 402 ``card_error``."""
    code, decline_code, message = DECLINES[method]
    charge = _charge(app, owner, intent, method)
    charge.update(
        status="failed",
        failure_code=code,
        failure_message=message,
        outcome={
            "network_status": "declined_by_network",
            "type": "issuer_declined",
            "reason": decline_code,
            "seller_message": "The bank declined.",
            "risk_level": "normal",
        },
    )
    error = {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "message": message,
        "charge": charge["id"],
        "payment_method": {"id": method},
    }
    _conclude(
        app,
        intent,
        charge,
        account,
        status="requires_payment_method",
        payment_method=None,
        last_payment_error=error,
    )
    raise StripeError(
        402,
        message,
        type_="card_error",
        code=code,
        replayable=True,
        extra={
            "decline_code": decline_code,
            "charge": charge["id"],
            "payment_intent": public(intent),
            "request_log_url": None,
        },
    )


@route("POST", "/v1/payment_intents/{intent_id}/cancel")
def cancel_payment_intent(ctx: Context, intent_id: str) -> dict[str, Any]:
    """Cancel an unpaid PaymentIntent."""
    ctx.params.only("cancellation_reason")
    intent = INTENTS.get(ctx, intent_id)
    _require_open(intent, "cancel")
    before = copy.deepcopy(intent)
    intent.update(
        status="canceled",
        canceled_at=ctx.now(),
        cancellation_reason=ctx.params.string("cancellation_reason"),
    )
    ctx.emit("payment_intent.canceled", intent, previous=diff(before, intent))
    return public(intent)


INTENTS.retrieve_route().list_route(filters=("customer",))
CHARGES.retrieve_route().list_route(filters=("customer", "payment_intent", "transfer_group"))
