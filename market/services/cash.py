"""Investors' cash: deposits (Stripe Checkout or wires), moving distributions into cash,
withdrawals by Connect payout, and the one balance check every spender uses.

An investor's cash is the ledger account ``user:<username>/cash``. Money from outside enters
through ``user:<username>/deposited`` (its balance is minus what the person ever deposited),
so every deposit is one balanced transaction. Cash never goes negative: a spender locks the
cash account row (:func:`cash_lock`), reads the balance and posts in one database transaction,
so two concurrent spends of one balance serialise and the second sees the first's debit.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from faiross.kernel.money import amount_clean, currency_clean, money_format
from faiross.kernel.recipients import user_key
from payouts.ledger import PLATFORM, Leg, accounts_get_or_create, ledger_post
from payouts.models import Account, ConnectedAccount
from payouts.selectors import account_balance
from payouts.stripe_client import stripe_client

from ..conf import setting
from ..models import Deposit, LedgerKind, Withdrawal
from ._common import require_broker_dealer, text_clean

log = logging.getLogger(__name__)

CASH = "cash"
DEPOSITED = "deposited"
FEES = "fees"
ESCROW = "escrow"


def cash_owner(user: User) -> str:
    return user_key(user.get_username())


def cash_balance(*, user: User, currency: str) -> int:
    """The investor's cash in ``currency`` (minor units)."""
    return account_balance(owner=cash_owner(user), purpose=CASH, currency=currency)


def available_balance(*, user: User, currency: str) -> int:
    """What distributions and grants credited the person and is not paid out yet."""
    return account_balance(
        owner=cash_owner(user), purpose=Account.Purpose.AVAILABLE, currency=currency
    )


def cash_lock(*, user: User, currency: str) -> int:
    """Lock the investor's cash account row and return its balance.

    Precondition: inside ``transaction.atomic``. Every function that spends cash calls this
    first, so spends of one balance never overlap (no double spend)."""
    key = (cash_owner(user), CASH, currency)
    accounts_get_or_create(keys=[key])
    Account.objects.select_for_update().get(owner=key[0], purpose=CASH, currency=currency)
    return cash_balance(user=user, currency=currency)


def cash_require(*, user: User, currency: str, amount: int, field: str = "amount") -> None:
    """Lock and check that the investor has ``amount`` in cash; else a ValidationError."""
    have = cash_lock(user=user, currency=currency)
    if have < amount:
        raise ValidationError(
            {
                field: f"This needs {money_format(amount=amount, currency=currency)}; your cash "
                f"balance is {money_format(amount=have, currency=currency)}. Deposit first."
            }
        )


# --- deposits ------------------------------------------------------------------------------


def card_fee(*, amount: int) -> int:
    """The card processing fee passed on for a deposit of ``amount`` (shown before paying)."""
    bips = setting("FAIROSS_MARKET_CARD_FEE_BIPS")
    return (amount * bips + 9_999) // 10_000 + setting("FAIROSS_MARKET_CARD_FEE_FIXED")


def _deposit_credit(*, deposit: Deposit, fee: int) -> Deposit:
    """Credit a deposit once (precondition: the deposit row is locked)."""
    if deposit.status == Deposit.Status.COMPLETED:
        return deposit
    owner = cash_owner(deposit.investor)
    legs = [
        Leg(owner, DEPOSITED, deposit.currency, -deposit.amount),
        Leg(owner, CASH, deposit.currency, deposit.amount - fee),
    ]
    if fee:
        legs.append(Leg(PLATFORM, FEES, deposit.currency, fee))
    txn, _ = ledger_post(
        idempotency_key=f"market_deposit:{deposit.pk}",
        kind=LedgerKind.DEPOSIT,
        reference=f"market_deposit:{deposit.pk}",
        legs=legs,
        memo=f"{deposit.get_method_display()} deposit {deposit.reference}",
    )
    deposit.status = Deposit.Status.COMPLETED
    deposit.completed_at = timezone.now()
    deposit.transaction = txn
    deposit.save(update_fields=["status", "completed_at", "transaction"])
    return deposit


@transaction.atomic
def deposit_wire_record(
    *, investor: User, actor: User, amount: object, currency: object, reference: object
) -> Deposit:
    """Broker-dealer staff record a wire received for an investor; once per reference."""
    require_broker_dealer(actor)
    value = amount_clean(amount=amount)
    cur = currency_clean(currency=currency)
    ref = text_clean(reference, field="reference", max_length=150)
    key = f"wire:{ref}"
    existing = Deposit.objects.select_for_update().filter(reference=key).first()
    if existing is not None:
        if (existing.investor_id, existing.amount, existing.currency) != (investor.pk, value, cur):
            raise ValidationError({"reference": "This wire reference is recorded already."})
        return existing
    deposit = Deposit.objects.create(
        investor=investor,
        method=Deposit.Method.WIRE,
        amount=value,
        currency=cur,
        reference=key,
        recorded_by=actor,
    )
    return _deposit_credit(deposit=deposit, fee=0)


def deposit_checkout_start(
    *, investor: User, amount: object, currency: object, success_url: str, cancel_url: str
) -> Deposit:
    """A Stripe Checkout session for a card deposit; the cash is credited when Stripe says
    the session is paid (:func:`deposit_checkout_confirm`), minus :func:`card_fee`."""
    from companies.services.payments import _return_url_clean

    value = amount_clean(amount=amount)
    cur = currency_clean(currency=currency)
    if value > setting("FAIROSS_MARKET_MAX_DEPOSIT"):
        most = money_format(amount=setting("FAIROSS_MARKET_MAX_DEPOSIT"), currency=cur)
        raise ValidationError({"amount": f"A card deposit is at most {most}; send a wire."})
    if value <= card_fee(amount=value):
        raise ValidationError({"amount": "The deposit must be more than its card fee."})
    success_url = _return_url_clean(success_url, field="success_url")
    cancel_url = _return_url_clean(cancel_url, field="cancel_url")
    deposit = Deposit.objects.create(
        investor=investor,
        method=Deposit.Method.STRIPE,
        amount=value,
        currency=cur,
        reference=f"pending:{timezone.now().timestamp()}:{investor.pk}",
    )
    deposit.reference = f"card:{deposit.pk}"
    metadata = {"faiross_market_deposit": str(deposit.pk), "faiross_investor": str(investor.pk)}
    import stripe

    try:
        session = stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": cur,
                            "unit_amount": value,
                            "product_data": {"name": "FairOSS market cash deposit"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "client_reference_id": f"market-deposit-{deposit.pk}",
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
            },
            options={"idempotency_key": f"market-deposit-{deposit.pk}"},
        )
    except stripe.StripeError as exc:
        log.warning("Stripe call failed: %s", exc)
        deposit.status = Deposit.Status.FAILED
        deposit.save(update_fields=["status", "reference"])
        raise ValidationError(
            {"amount": "Stripe could not be reached; try again in a moment or send a wire."}
        ) from None
    deposit.checkout_session_id = session.id
    deposit.checkout_url = str(session.url or "")
    deposit.save(update_fields=["reference", "checkout_session_id", "checkout_url"])
    return deposit


@transaction.atomic
def deposit_checkout_confirm(*, deposit: Deposit) -> Deposit:
    """Ask Stripe (never the URL) whether the deposit's session is paid; credit it once."""
    deposit = Deposit.objects.select_for_update().select_related("investor").get(pk=deposit.pk)
    if deposit.status != Deposit.Status.PENDING or not deposit.checkout_session_id:
        return deposit
    session: Any = stripe_client().v1.checkout.sessions.retrieve(deposit.checkout_session_id)
    if session.status == "expired":
        deposit.status = Deposit.Status.EXPIRED
        deposit.save(update_fields=["status"])
        return deposit
    if session.status != "complete" or session.payment_status != "paid":
        return deposit
    if (int(session.amount_total), str(session.currency).lower()) != (
        deposit.amount,
        deposit.currency,
    ):
        log.error("market deposit %s: Stripe session amount differs", deposit.pk)
        return deposit
    return _deposit_credit(deposit=deposit, fee=card_fee(amount=deposit.amount))


def deposits_reconcile() -> int:
    """Confirm every pending card deposit with Stripe (a periodic task and a command: the
    payment webhook belongs to invoices, so a deposit whose payer never returned from Checkout
    is credited here). Returns how many were credited."""
    done = 0
    for deposit in Deposit.objects.filter(
        status=Deposit.Status.PENDING, method=Deposit.Method.STRIPE
    ):
        if deposit_checkout_confirm(deposit=deposit).status == Deposit.Status.COMPLETED:
            done += 1
    return done


# --- moving between cash and available; withdrawals -------------------------------------------


@transaction.atomic
def available_to_cash(*, user: User, currency: object, amount: object) -> int:
    """Keep distributions as market cash: move ``amount`` of the available balance to cash.

    The available account is locked like a payout locks it, so a payout and this move never
    take the same money."""
    cur = currency_clean(currency=currency)
    value = amount_clean(amount=amount)
    owner = cash_owner(user)
    accounts_get_or_create(keys=[(owner, Account.Purpose.AVAILABLE, cur)])
    Account.objects.select_for_update().get(owner=owner, purpose="available", currency=cur)
    have = available_balance(user=user, currency=cur)
    if value > have:
        raise ValidationError(
            {"amount": f"Your available balance is {money_format(amount=have, currency=cur)}."}
        )
    stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
    ledger_post(
        idempotency_key=f"market_to_cash:{owner}:{cur}:{stamp}",
        kind=LedgerKind.TO_CASH,
        reference=f"market_to_cash:{owner}",
        legs=[Leg(owner, "available", cur, -value), Leg(owner, CASH, cur, value)],
        memo="kept as market cash",
    )
    return cash_balance(user=user, currency=cur)


def withdrawal_request(*, user: User, currency: object, amount: object) -> Withdrawal:
    """Cash out: ``amount`` of cash moves to the available balance and the person's Connect
    account is paid their whole available balance (``payouts.connect.transfers.payout_create``:
    one transfer, idempotent, threshold and tax-form rules as for any payout)."""
    from payouts.connect.transfers import payout_create

    cur = currency_clean(currency=currency)
    value = amount_clean(amount=amount)
    connected = ConnectedAccount.objects.filter(user=user).first()
    if connected is None or not connected.can_receive:
        raise ValidationError(
            {"amount": "Connect a payout account first (Payouts page); then withdraw."}
        )
    owner = cash_owner(user)
    with transaction.atomic():
        cash_require(user=user, currency=cur, amount=value)
        withdrawal = Withdrawal.objects.create(investor=user, amount=value, currency=cur)
        txn, _ = ledger_post(
            idempotency_key=f"market_withdrawal:{withdrawal.pk}",
            kind=LedgerKind.WITHDRAWAL,
            reference=f"market_withdrawal:{withdrawal.pk}",
            legs=[Leg(owner, CASH, cur, -value), Leg(owner, "available", cur, value)],
            memo="cash out",
        )
        withdrawal.transaction = txn
        withdrawal.save(update_fields=["transaction"])
    payout, reason = payout_create(account=connected, currency=cur)
    if payout is None:
        # The money is in the available balance: the next payout run pays it.
        withdrawal.error = {
            "threshold": "Below your payout threshold: it is paid with the next payout run.",
            "in_flight": "A payout is on its way; this amount follows with the next one.",
            "tax_form": "A tax form is needed before more is paid out (Payouts page).",
        }.get(reason, reason)
    else:
        withdrawal.status = Withdrawal.Status.SENT
        withdrawal.payout_id = payout.pk
    withdrawal.save(update_fields=["status", "error", "payout_id"])
    return withdrawal
