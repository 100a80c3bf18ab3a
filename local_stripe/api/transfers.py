"""Transfers from the platform to connected accounts, and their reversals."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import StripeError, invalid_param, no_such
from ..ids import new_id
from ..router import LIST_PARAMS, Collection, Context, listing, paginate, route
from ..store import PLATFORM, public
from ..webhooks import diff
from .balance import record_txn

EMBEDDED_REVERSALS = 10
TRANSFERS = Collection("transfer", "/v1/transfers", owner=PLATFORM)


def insufficient_funds(currency: str) -> StripeError:
    """Stripe's answer when the balance cannot cover a transfer or payout."""
    return StripeError(
        400,
        "You have insufficient available funds in your Stripe account. Try adding funds "
        f"directly to your available balance ({currency}) with POST /v1/topups.",
        code="balance_insufficient",
        replayable=True,
    )


def _destination(ctx: Context, account_id: str) -> dict[str, Any]:
    account = ctx.store.find(account_id)
    if account is None or account["object"] != "account":
        raise StripeError(
            400,
            f"No such destination: '{account_id}'",
            code="resource_missing",
            param="destination",
        )
    if account["capabilities"].get("transfers") != "active":
        raise StripeError(
            400,
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            code="insufficient_capabilities_for_transfer",
            param="destination",
            replayable=True,
        )
    return account


@route("POST", "/v1/transfers")
def create_transfer(ctx: Context) -> dict[str, Any]:
    """Move money from the platform's available balance to a connected account."""
    p = ctx.params
    p.only("""
        amount currency destination transfer_group description metadata source_transaction
        source_type
    """)
    if ctx.account:
        raise StripeError(400, "Transfers are made by the platform, without Stripe-Account.")
    amount, currency = p.money()
    destination = _destination(ctx, p.req_string("destination"))
    metadata = p.metadata()
    if ctx.store.available(PLATFORM, currency) < amount:
        raise insufficient_funds(currency)
    transfer_id = new_id("tr")
    now = ctx.now()
    description = p.string("description")
    txn = record_txn(
        ctx.store,
        PLATFORM,
        amount=-amount,
        currency=currency,
        type_="transfer",
        source=transfer_id,
        now=now,
        description=description,
    )
    destination_payment = new_id("py")
    record_txn(
        ctx.store,
        destination["id"],
        amount=amount,
        currency=currency,
        type_="payment",
        source=destination_payment,
        now=now,
        description=description,
    )
    transfer = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": txn,
        "created": now,
        "currency": currency,
        "description": description,
        "destination": destination["id"],
        "destination_payment": destination_payment,
        "livemode": False,
        "metadata": metadata,
        "reversals": _reversal_list(transfer_id, []),
        "reversed": False,
        "source_transaction": p.string("source_transaction"),
        "source_type": p.string("source_type", default="card"),
        "transfer_group": p.string("transfer_group"),
    }
    ctx.store.add(transfer)
    ctx.emit("transfer.created", transfer)
    return public(transfer)


def _reversal_list(transfer_id: str, reversals: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [public(r) for r in reversals[:EMBEDDED_REVERSALS]],
        "has_more": len(reversals) > EMBEDDED_REVERSALS,
        "total_count": len(reversals),
        "url": f"/v1/transfers/{transfer_id}/reversals",
    }


def _transfer(ctx: Context, transfer_id: str) -> dict[str, Any]:
    if ctx.account:
        # Transfers are the platform's objects; a connected account sees payments instead.
        raise no_such("transfer", transfer_id)
    return TRANSFERS.get(ctx, transfer_id)


@route("GET", "/v1/transfers/{transfer_id}")
def retrieve_transfer(ctx: Context, transfer_id: str) -> dict[str, Any]:
    """One transfer."""
    return public(_transfer(ctx, transfer_id))


@route("POST", "/v1/transfers/{transfer_id}")
def update_transfer(ctx: Context, transfer_id: str) -> dict[str, Any]:
    """Change a transfer's description or metadata."""
    p = ctx.params
    p.only("description metadata")
    transfer = _transfer(ctx, transfer_id)
    with ctx.updating(transfer, "transfer.updated"):
        transfer["metadata"] = p.metadata(transfer["metadata"])
        if p.has("description"):
            transfer["description"] = p.string("description")
    return public(transfer)


@route("GET", "/v1/transfers")
def list_transfers(ctx: Context) -> dict[str, Any]:
    """Transfers, newest first, filtered by ``destination`` and/or ``transfer_group``."""
    items = [] if ctx.account else ctx.store.all("transfer")
    return listing(ctx, items, "/v1/transfers", filters=("destination", "transfer_group"))


@route("POST", "/v1/transfers/{transfer_id}/reversals")
def create_reversal(ctx: Context, transfer_id: str) -> dict[str, Any]:
    """Take back all (no ``amount``) or part of a transfer from the connected account."""
    p = ctx.params
    p.only("amount description metadata refund_application_fee")
    transfer = _transfer(ctx, transfer_id)
    remaining = transfer["amount"] - transfer["amount_reversed"]
    if remaining == 0:
        raise StripeError(
            400,
            f"Transfer {transfer_id} has already been fully reversed.",
            code="transfer_already_reversed",
            replayable=True,
        )
    amount = p.amount(required=False) or remaining
    if amount > remaining:
        raise invalid_param(
            "amount",
            f"You cannot reverse more than the transfer's unreversed amount ({remaining}).",
            "parameter_invalid_integer",
        )
    currency = transfer["currency"]
    if ctx.store.available(transfer["destination"], currency) < amount:
        raise insufficient_funds(currency)
    metadata = p.metadata()
    reversal_id = new_id("trr")
    now = ctx.now()
    refund_id = new_id("pyr")
    record_txn(
        ctx.store,
        transfer["destination"],
        amount=-amount,
        currency=currency,
        type_="payment_refund",
        source=refund_id,
        now=now,
    )
    txn = record_txn(
        ctx.store,
        PLATFORM,
        amount=amount,
        currency=currency,
        type_="transfer_refund",
        source=reversal_id,
        now=now,
    )
    reversal = {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": txn,
        "created": now,
        "currency": currency,
        "description": p.string("description"),
        "destination_payment_refund": refund_id,
        "metadata": metadata,
        "source_refund": None,
        "transfer": transfer_id,
    }
    ctx.store.add(reversal)
    before = copy.deepcopy(transfer)
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    transfer["reversals"] = _reversal_list(transfer_id, _reversals_of(ctx, transfer_id))
    ctx.emit("transfer.reversed", transfer, previous=diff(before, transfer))
    return public(reversal)


def _reversals_of(ctx: Context, transfer_id: str) -> list[dict[str, Any]]:
    return [r for r in ctx.store.all("transfer_reversal") if r["transfer"] == transfer_id]


@route("GET", "/v1/transfers/{transfer_id}/reversals")
def list_reversals(ctx: Context, transfer_id: str) -> dict[str, Any]:
    """A transfer's reversals, newest first."""
    ctx.params.only(LIST_PARAMS)
    _transfer(ctx, transfer_id)
    return paginate(ctx, _reversals_of(ctx, transfer_id), f"/v1/transfers/{transfer_id}/reversals")


@route("GET", "/v1/transfers/{transfer_id}/reversals/{reversal_id}")
def retrieve_reversal(ctx: Context, transfer_id: str, reversal_id: str) -> dict[str, Any]:
    """One reversal of a transfer."""
    _transfer(ctx, transfer_id)
    reversal = ctx.store.get("transfer_reversal", reversal_id, PLATFORM, label="transfer reversal")
    if reversal["transfer"] != transfer_id:
        raise no_such("transfer reversal", reversal_id)
    return public(reversal)
