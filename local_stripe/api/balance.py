"""Balances, top-ups and balance transactions.

Money moves without fees and becomes available at once, so that every amount FairOSS sends or
receives reconciles to the cent. The platform starts with the configured balance (see
``ServerConfig.initial_balance``) and can be topped up with ``POST /v1/topups``.
"""

from __future__ import annotations

from typing import Any

from ..ids import new_id
from ..router import Collection, Context, route
from ..store import PLATFORM, Store, public


def record_txn(
    store: Store,
    owner: str,
    *,
    amount: int,
    currency: str,
    type_: str,
    source: str,
    now: int,
    description: str | None = None,
) -> str:
    """Move ``amount`` on ``owner``'s available balance and keep the balance transaction."""
    store.move(owner, currency, amount)
    txn_id = new_id("txn")
    txn = {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "currency": currency,
        "net": amount,
        "fee": 0,
        "fee_details": [],
        "type": type_,
        "source": source,
        "status": "available",
        "available_on": now,
        "reporting_category": type_,
        "description": description,
        "created": now,
    }
    store.add(txn, owner)
    return txn_id


def _amounts(ctx: Context, bucket: str) -> list[dict[str, Any]]:
    per_currency = ctx.store.balances.get(ctx.owner, {})
    rows = [
        {"amount": amounts[bucket], "currency": currency, "source_types": {"card": amounts[bucket]}}
        for currency, amounts in sorted(per_currency.items())
    ]
    return rows or [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]


@route("GET", "/v1/balance")
def retrieve_balance(ctx: Context) -> dict[str, Any]:
    """The platform's balance, or the connected account's with ``Stripe-Account``."""
    ctx.params.only([])
    balance: dict[str, Any] = {
        "object": "balance",
        "available": _amounts(ctx, "available"),
        "pending": _amounts(ctx, "pending"),
        "livemode": False,
    }
    if ctx.owner == PLATFORM:
        balance["connect_reserved"] = [
            {"amount": 0, "currency": row["currency"]} for row in balance["available"]
        ]
    return balance


@route("POST", "/v1/topups")
@route("POST", "/v1/test_helpers/topup")
def create_topup(ctx: Context) -> dict[str, Any]:
    """Add money to the available balance (it succeeds at once in test mode)."""
    p = ctx.params
    p.only("amount currency description metadata statement_descriptor transfer_group source")
    amount, currency = p.money()
    topup_id = new_id("tu")
    now = ctx.now()
    txn = record_txn(
        ctx.store,
        ctx.owner,
        amount=amount,
        currency=currency,
        type_="topup",
        source=topup_id,
        now=now,
        description=p.string("description"),
    )
    topup = {
        "id": topup_id,
        "object": "topup",
        "amount": amount,
        "currency": currency,
        "balance_transaction": txn,
        "description": p.string("description"),
        "expected_availability_date": now,
        "status": "succeeded",
        "transfer_group": p.string("transfer_group"),
        "metadata": p.metadata(),
        "created": now,
        "livemode": False,
    }
    ctx.store.add(topup, ctx.owner)
    ctx.emit("topup.succeeded", topup)
    return public(topup)


Collection("topup", "/v1/topups").retrieve_route().list_route()
Collection("balance_transaction", "/v1/balance_transactions").retrieve_route().list_route(
    filters=("type", "source", "currency"), accepts=("payout",)
)
