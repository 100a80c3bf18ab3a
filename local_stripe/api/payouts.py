"""Payouts from a balance (usually a connected account's) to its bank account.

By default a payout is created ``pending`` and is paid straight afterwards (``payout.paid``).
With ``payout_mode="manual"`` it stays pending until a test calls ``/_test/payouts/{id}/pay``
or ``/_test/payouts/{id}/fail``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import StripeError
from ..ids import new_id
from ..router import LIST_PARAMS, Context, paginate, route
from ..store import PLATFORM, public
from ..webhooks import diff
from .balance import record_txn
from .transfers import insufficient_funds

if TYPE_CHECKING:
    from ..app import App

FAILURE_MESSAGES = {
    "account_closed": "The bank account has been closed.",
    "account_frozen": "The bank account has been frozen.",
    "could_not_process": "The bank could not process this payout.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "no_account": "The bank account details on file are probably incorrect.",
}


def _bank_account(ctx: Context) -> str:
    """The external account a payout goes to; connected accounts need payouts enabled."""
    if ctx.account is None:
        return "ba_platform_test_bank"
    account = ctx.store.get("account", ctx.account, PLATFORM)
    if not account["payouts_enabled"] or not account["external_accounts"]["data"]:
        raise StripeError(
            400,
            "Payouts are not enabled on this account: it has not completed onboarding or has "
            "been restricted.",
            code="payouts_not_allowed",
            replayable=True,
        )
    return str(account["external_accounts"]["data"][0]["id"])


@route("POST", "/v1/payouts")
def create_payout(ctx: Context) -> dict[str, Any]:
    """Pay out part of the available balance of the acting account."""
    p = ctx.params
    p.only(
        [
            "amount",
            "currency",
            "description",
            "metadata",
            "method",
            "destination",
            "statement_descriptor",
            "source_type",
        ]
    )
    amount = p.amount()
    currency = p.currency()
    assert amount is not None and currency is not None
    method = p.string("method", default="standard", choices=("standard", "instant"))
    metadata = p.metadata()
    destination = _bank_account(ctx)
    if ctx.store.available(ctx.owner, currency) < amount:
        raise insufficient_funds(currency)
    payout_id = new_id("po")
    now = ctx.now()
    txn = record_txn(
        ctx.store,
        ctx.owner,
        amount=-amount,
        currency=currency,
        type_="payout",
        source=payout_id,
        now=now,
    )
    payout = {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "arrival_date": now,
        "automatic": False,
        "balance_transaction": txn,
        "created": now,
        "currency": currency,
        "description": p.string("description"),
        "destination": destination,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": metadata,
        "method": method,
        "source_type": "card",
        "statement_descriptor": p.string("statement_descriptor"),
        "status": "pending",
        "type": "bank_account",
    }
    ctx.store.add(payout, ctx.owner)
    ctx.emit("payout.created", payout)
    answer = public(payout)
    if ctx.app.payout_mode == "auto":
        settle_payout(ctx.app, payout, paid=True)
    return answer


def settle_payout(app: App, payout: dict[str, Any], *, paid: bool, failure_code: str = "") -> None:
    """Mark a pending payout paid, or failed with its money returned to the balance."""
    if payout["status"] != "pending":
        raise StripeError(400, f"Payout {payout['id']} is {payout['status']}, not pending.")
    owner = app.store.owner_of(payout["id"])
    account = None if owner == PLATFORM else owner
    with app.store.lock:
        before = copy.deepcopy(payout)
        if paid:
            payout["status"] = "paid"
        else:
            code = failure_code or "could_not_process"
            payout["status"] = "failed"
            payout["failure_code"] = code
            payout["failure_message"] = FAILURE_MESSAGES.get(code, "The payout failed.")
            payout["failure_balance_transaction"] = record_txn(
                app.store,
                owner,
                amount=payout["amount"],
                currency=payout["currency"],
                type_="payout_failure",
                source=payout["id"],
                now=app.clock.now(),
            )
        app.store.touch()
        app.events.emit(
            f"payout.{payout['status']}", payout, account=account, previous=diff(before, payout)
        )


def _payout(ctx: Context, payout_id: str) -> dict[str, Any]:
    return ctx.store.get("payout", payout_id, ctx.owner)


@route("GET", "/v1/payouts/{payout_id}")
def retrieve_payout(ctx: Context, payout_id: str) -> dict[str, Any]:
    """One payout of the acting account."""
    return public(_payout(ctx, payout_id))


@route("POST", "/v1/payouts/{payout_id}")
def update_payout(ctx: Context, payout_id: str) -> dict[str, Any]:
    """Change a payout's metadata."""
    ctx.params.only(["metadata"])
    payout = _payout(ctx, payout_id)
    before = copy.deepcopy(payout)
    payout["metadata"] = ctx.params.metadata(payout["metadata"])
    changes = diff(before, payout)
    if changes:
        ctx.store.touch()
        ctx.emit("payout.updated", payout, previous=changes)
    return public(payout)


@route("POST", "/v1/payouts/{payout_id}/cancel")
def cancel_payout(ctx: Context, payout_id: str) -> dict[str, Any]:
    """Cancel a pending payout; its money returns to the available balance."""
    ctx.params.only([])
    payout = _payout(ctx, payout_id)
    if payout["status"] != "pending":
        raise StripeError(400, f"Payout {payout_id} cannot be canceled: it is {payout['status']}.")
    before = copy.deepcopy(payout)
    record_txn(
        ctx.store,
        ctx.owner,
        amount=payout["amount"],
        currency=payout["currency"],
        type_="payout_cancel",
        source=payout_id,
        now=ctx.now(),
    )
    payout["status"] = "canceled"
    ctx.emit("payout.canceled", payout, previous=diff(before, payout))
    return public(payout)


@route("GET", "/v1/payouts")
def list_payouts(ctx: Context) -> dict[str, Any]:
    """Payouts of the acting account, newest first, filtered by status or destination."""
    p = ctx.params
    p.only([*LIST_PARAMS, "status", "destination", "arrival_date"])
    items = ctx.store.all("payout", ctx.owner)
    for name in ("status", "destination"):
        wanted = p.string(name)
        if wanted:
            items = [i for i in items if i[name] == wanted]
    return paginate(ctx, items, "/v1/payouts")
