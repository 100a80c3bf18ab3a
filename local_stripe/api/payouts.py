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
from ..router import Collection, Context, route
from ..store import PLATFORM, public
from ..webhooks import diff
from .accounts import ACCOUNTS
from .balance import record_txn
from .transfers import insufficient_funds

if TYPE_CHECKING:
    from ..app import App

PAYOUTS = Collection("payout", "/v1/payouts")

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
    account = ACCOUNTS.get(ctx, ctx.account)
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
    p.only("""
        amount currency description metadata method destination statement_descriptor source_type
    """)
    amount, currency = p.money()
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
            payout["failure_balance_transaction"] = _return_money(
                app, owner, payout, "payout_failure"
            )
        app.store.touch()
        app.events.emit(
            f"payout.{payout['status']}", payout, account=account, previous=diff(before, payout)
        )


def _return_money(app: App, owner: str, payout: dict[str, Any], type_: str) -> str:
    """Credit a payout's money back to the balance it left; the balance transaction's id."""
    return record_txn(
        app.store,
        owner,
        amount=payout["amount"],
        currency=payout["currency"],
        type_=type_,
        source=payout["id"],
        now=app.clock.now(),
    )


@route("POST", "/v1/payouts/{payout_id}")
def update_payout(ctx: Context, payout_id: str) -> dict[str, Any]:
    """Change a payout's metadata."""
    ctx.params.only("metadata")
    payout = PAYOUTS.get(ctx, payout_id)
    with ctx.updating(payout, "payout.updated"):
        payout["metadata"] = ctx.params.metadata(payout["metadata"])
    return public(payout)


@route("POST", "/v1/payouts/{payout_id}/cancel")
def cancel_payout(ctx: Context, payout_id: str) -> dict[str, Any]:
    """Cancel a pending payout; its money returns to the available balance."""
    ctx.params.only([])
    payout = PAYOUTS.get(ctx, payout_id)
    if payout["status"] != "pending":
        raise StripeError(400, f"Payout {payout_id} cannot be canceled: it is {payout['status']}.")
    before = copy.deepcopy(payout)
    _return_money(ctx.app, ctx.owner, payout, "payout_cancel")
    payout["status"] = "canceled"
    ctx.emit("payout.canceled", payout, previous=diff(before, payout))
    return public(payout)


PAYOUTS.retrieve_route().list_route(filters=("status", "destination"), accepts=("arrival_date",))
