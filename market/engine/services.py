"""Placing and cancelling orders on the secondary market (pages, API and commands call these).

Both go through this process's :func:`~market.engine.sequencer.sequencer`: the command is
checked, sequenced, journaled and settled in one database transaction, and the function
returns only after it committed (the acknowledgement). See :mod:`market.engine.book` for the
matching rules and :mod:`market.engine.sequencer` for reservations and settlement.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError

from ..models import Order, Ticker
from .book import CANCEL, GTC, LIMIT, PLACE, Rejected
from .sequencer import Outcome, sequencer

# Which field a refusal is about, in the API's {"field": [...]} answer.
REFUSAL_FIELDS = {
    "side": "side",
    "kind": "kind",
    "tif": "time_in_force",
    "quantity": "units",
    "units": "units",
    "price": "price",
    "funds": "price",
    "halted": "ticker",
    "ticker": "ticker",
    "investor": "investor",
    "limit": "amount",
    "duplicate": "client_order_id",
    "unknown_order": "order",
}


def _refusal(err: Rejected) -> ValidationError:
    return ValidationError({REFUSAL_FIELDS.get(err.code, "order"): err.message})


def _submit_one(command: dict[str, Any]) -> Outcome:
    (outcome,) = sequencer().submit([command])
    return outcome


def order_place(
    *,
    user: User,
    ticker: Ticker,
    side: str,
    units: int,
    kind: str = LIMIT,
    price: int | None = None,
    time_in_force: str = GTC,
    client_order_id: str | None = None,
) -> Order:
    """Place an order for ``user``; returns its row as settled when acknowledged.

    Preconditions: the user has a verified investor profile; ``price`` (minor units per unit)
    for limit orders only. A buy reserves its cash and fee, a sell its units, before it can
    match (no double spend); non-accredited buyers are held to their 12-month limit.
    Invariants: accepted means journaled and committed; with ``client_order_id`` a repeat
    returns the first order (idempotent). Raises ValidationError naming the field on refusal.
    """
    if client_order_id:
        existing = Order.objects.filter(investor=user, client_order_id=client_order_id).first()
        if existing is not None:
            return existing
    command: dict[str, Any] = {
        "k": PLACE,
        "t": ticker.symbol,
        "inv": user.pk,
        "side": side,
        "kind": kind,
        "q": units,
        "tif": time_in_force,
    }
    if price is not None:
        command["p"] = price
    if client_order_id:
        command["ck"] = client_order_id
    outcome = _submit_one(command)
    if outcome.rejected is not None:
        if outcome.rejected.code == "duplicate" and client_order_id:
            return Order.objects.get(investor=user, client_order_id=client_order_id)
        raise _refusal(outcome.rejected)
    return Order.objects.get(sequence=outcome.seq)


def order_cancel(*, user: User, order: Order) -> Order:
    """Cancel ``user``'s open ``order``; its remaining reservation goes back at once.

    Preconditions: the order is the user's (else PermissionDenied) and open (else a
    ValidationError on ``order``). Cancels are accepted while the ticker is halted."""
    if order.investor_id != user.pk:
        raise PermissionDenied("not your order")
    if order.status != Order.Status.OPEN or order.sequence is None:
        raise ValidationError({"order": "This order is not open any more."})
    outcome = _submit_one({"k": CANCEL, "id": order.sequence, "inv": user.pk})
    if outcome.rejected is not None:
        order.refresh_from_db()
        if order.status != Order.Status.OPEN:  # filled or expired just before the cancel
            raise ValidationError({"order": "This order is not open any more."})
        raise _refusal(outcome.rejected)
    order.refresh_from_db()
    return order


def market_sync() -> int:
    """List newly approved tickers, apply halts and resumes, end the session when it is time.

    For a periodic task: the same happens at the start of every batch. Returns the journal's
    last sequence number."""
    sequencer().submit([])
    return sequencer().engine.seq
