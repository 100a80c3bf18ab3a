"""Money on hold: place a hold (``source`` → ``held``), release it (``held`` → its source) or
redirect it (``held`` → another recipient); each a balanced ledger transaction.

Invariant: a recipient's ``held`` balance always covers what its active holds still hold.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from faiross.kernel.recipients import RecipientError, canonical_recipient, parse_recipient
from payouts.ledger import LedgerError, Leg, ledger_post
from payouts.models import Account, LedgerTransaction
from payouts.selectors import account_balance
from projects.models import Project

from ..models import Dispute, Hold, HoldMovement
from ._common import (
    _acting,
    _active_held,
    _amount,
    _currency,
    _held_for_dispute,
    _lock,
    _money,
    _notify_parties,
    _reason,
    _record_action,
    _require_acting,
)

HOLD_SOURCES = ("available", "escrow", "reserve")


def default_source(recipient: str) -> str:
    """Where a recipient's money waits: people's in ``available``, identities not yet on
    FairOSS in ``escrow``, projects in their ``reserve``."""
    kind = recipient.split(":", 1)[0]
    return {"user": "available", "project": "reserve"}.get(kind, "escrow")


def _money_recipient(value: object, *, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({field: "Name a recipient, e.g. user:alice or github:octocat."})
    try:
        # Kept as written: ledger owners are the recipient strings of the tables.
        recipient = value.strip()
        kind, ident = parse_recipient(recipient)
    except RecipientError as exc:
        raise ValidationError({field: exc.message}) from None
    if kind == "purl":
        raise ValidationError(
            {field: "A package is not a money holder: name its project (project:<slug>)."}
        )
    if kind == "user" and not get_user_model().objects.filter(username=ident).exists():
        raise ValidationError({field: f"There is no FairOSS user '{ident}'."})
    if kind == "project" and not Project.objects.filter(slug=ident).exists():
        raise ValidationError({field: f"There is no project '{ident}'."})
    return recipient


def _lock_account(owner: str, purpose: str, currency: str) -> None:
    Account.objects.select_for_update().filter(
        owner=owner, purpose=purpose, currency=currency
    ).first()


def _check_held_covers(recipient: str, currency: str) -> None:
    """Invariant: the recipient's ``held`` balance is what its active holds still hold."""
    held = account_balance(owner=recipient, purpose="held", currency=currency)
    owed = _active_held(recipient=recipient, currency=currency)
    if held < owed or held < 0:
        raise ValidationError(
            {
                "amount": f"The ledger's held balance of {recipient} ({_money(held, currency)}) "
                f"does not cover its holds ({_money(owed, currency)}); nothing was moved."
            }
        )


def _check_within_stake(dispute: Dispute, amount: int, currency: str) -> None:
    """When the dispute states the money at stake, its holds together stay within it."""
    if not dispute.amount_at_stake:
        return
    if dispute.currency != currency:
        raise ValidationError({"currency": f"The money at stake is in {dispute.currency.upper()}."})
    held = _held_for_dispute(dispute, currency)
    if held + amount > dispute.amount_at_stake:
        raise ValidationError(
            {
                "amount": f"A hold cannot exceed the money at stake: "
                f"{_money(dispute.amount_at_stake, currency)} at stake, "
                f"{_money(held, currency)} already held."
            }
        )


def _hold_post(
    hold: Hold, dispute: Dispute, movement: HoldMovement | None = None, n: int = 0
) -> LedgerTransaction:
    """The balanced transaction of placing ``hold`` (its source → ``held``) or, given its
    ``n``-th ``movement``, of that movement (``held`` → the movement's recipient and purpose)."""
    if movement is None:
        key, kind, head = f"dispute-hold:{hold.pk}", LedgerTransaction.Kind.HOLD, "Hold"
        amount, reason = hold.amount, hold.reason
        source, target = (hold.recipient, hold.source), (hold.recipient, "held")
    else:
        key, head = f"dispute-hold:{hold.pk}:move:{n}", f"{movement.kind} of hold"
        kind = (
            LedgerTransaction.Kind.RELEASE
            if movement.kind == HoldMovement.Kind.RELEASE
            else LedgerTransaction.Kind.REDIRECT
        )
        amount, reason = movement.amount, movement.reason
        source, target = (hold.recipient, "held"), (movement.to_recipient, movement.to_purpose)
    try:
        txn, _ = ledger_post(
            idempotency_key=key,
            kind=kind,
            reference=f"dispute:{dispute.pk}",
            legs=[Leg(*source, hold.currency, -amount), Leg(*target, hold.currency, amount)],
            memo=f"{head} {hold.pk} for dispute #{dispute.pk}: {reason}"[:2000],
        )
    except LedgerError as exc:
        raise ValidationError({"amount": str(exc)}) from None
    return txn


@transaction.atomic
def hold_place(
    *,
    dispute: Dispute,
    actor: User,
    amount: int,
    currency: str,
    reason: str,
    recipient: str = "",
    source: str = "",
) -> Hold:
    """Freeze ``amount`` of ``recipient``'s money: ledger ``source`` → ``held``.

    Preconditions: an acting ombudsman; ``amount`` ≤ the recipient's ``source`` balance and,
    when the dispute states the money at stake, the dispute's active holds plus ``amount``
    ≤ that stake. ``amount`` 0 is a freeze: nothing moves but payouts stop.
    Invariants: one balanced ledger transaction (kind ``hold``); while active, the recipient
    is not paid out (:func:`selectors.recipient_is_held`).
    """
    dispute, reason = _acting(dispute, actor, reason)
    recipient = _money_recipient(recipient or dispute.recipient, field="recipient")
    currency = _currency(currency)
    amount = _amount(amount, allow_zero=True, currency=currency)
    source = source or default_source(recipient)
    if source not in HOLD_SOURCES:
        raise ValidationError({"source": f"Hold from one of: {', '.join(HOLD_SOURCES)}."})
    _check_within_stake(dispute, amount, currency)
    _lock_account(recipient, source, currency)
    balance = account_balance(owner=recipient, purpose=source, currency=currency)
    if amount > balance:
        raise ValidationError(
            {
                "amount": f"{recipient} has only {_money(balance, currency)} in {source}; a hold "
                "cannot exceed the balance."
            }
        )
    hold = Hold.objects.create(
        dispute=dispute,
        recipient=recipient,
        source=source,
        currency=currency,
        amount=amount,
        remaining=amount,
        reason=reason,
        placed_by=actor,
    )
    if amount:
        hold.ledger_transaction = _hold_post(hold, dispute)
        hold.save(update_fields=["ledger_transaction"])
    _check_held_covers(recipient, currency)
    _record_action(
        dispute,
        actor,
        "hold.place" if amount else "hold.freeze",
        target=f"hold:{hold.pk}",
        reason=reason,
        data={
            "recipient": recipient,
            "source": source,
            "amount": amount,
            "currency": currency,
            "ledger_transaction": hold.ledger_transaction_id,
        },
    )
    _notify_parties(
        dispute,
        "money on hold",
        (
            f"The ombudsman office put {_money(amount, currency)} of {recipient} on hold"
            if amount
            else f"The ombudsman office froze payouts to {recipient}"
        )
        + f" while the dispute is decided.\n\nReason: {reason}",
    )
    return hold


def _acting_on_hold(hold: Hold, actor: User, reason: object) -> tuple[Hold, Dispute, str]:
    """Lock the hold's dispute and the hold (which must be active), check the actor, clean
    the reason."""
    dispute = _lock(hold.dispute)
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    if hold.status != Hold.Status.ACTIVE:
        raise ValidationError({"hold": f"Hold {hold.pk} has already ended."})
    _require_acting(actor, dispute)
    return hold, dispute, _reason(reason)


def _move(
    hold: Hold,
    dispute: Dispute,
    movement: HoldMovement,
    actor: User,
    reason: str,
    *,
    data: dict[str, object],
    notice: tuple[str, str],
) -> HoldMovement:
    """Save ``movement`` (``held`` → its recipient and purpose) with its ledger transaction;
    the hold keeps what remains and ends when nothing does (a freeze ends at once). The step
    goes on the trail (``data`` and the transaction) and ``notice`` (subject, text) to the
    parties."""
    n = hold.movements.count() + 1
    movement.hold, movement.actor, movement.reason = hold, actor, reason
    if movement.amount:
        movement.ledger_transaction = _hold_post(hold, dispute, movement, n)
    movement.save()
    hold.remaining -= movement.amount
    if hold.remaining == 0:
        hold.status, hold.ended_at = Hold.Status.ENDED, timezone.now()
    hold.save(update_fields=["remaining", "status", "ended_at"])
    _check_held_covers(hold.recipient, hold.currency)
    _record_action(
        dispute,
        actor,
        f"hold.{movement.kind}",
        target=f"hold:{hold.pk}",
        reason=reason,
        data={**data, "ledger_transaction": movement.ledger_transaction_id},
    )
    subject, text = notice
    _notify_parties(dispute, subject, f"{text}\n\nReason: {reason}")
    return movement


@transaction.atomic
def hold_release(*, hold: Hold, actor: User, reason: str) -> Hold:
    """Give back what the hold still holds: ``held`` → its source; the hold ends."""
    hold, dispute, reason = _acting_on_hold(hold, actor, reason)
    amount = hold.remaining
    release = HoldMovement(kind=HoldMovement.Kind.RELEASE, amount=amount)
    release.to_recipient, release.to_purpose = hold.recipient, hold.source
    _move(
        hold,
        dispute,
        release,
        actor,
        reason,
        data={"recipient": hold.recipient, "amount": amount, "currency": hold.currency},
        notice=(
            "hold released",
            f"The hold on {hold.recipient} ({_money(amount, hold.currency)}) was released.",
        ),
    )
    return hold


@transaction.atomic
def hold_redirect(
    *,
    hold: Hold,
    actor: User,
    to_recipient: str,
    reason: str,
    amount: int | None = None,
) -> HoldMovement:
    """Move held money (all that remains, or ``amount`` of it) to another recipient:
    ``held`` of the held recipient → ``available`` (people), ``escrow`` (``github:``,
    ``email:``) or ``reserve`` (projects) of ``to_recipient``. One balanced transaction."""
    hold, dispute, reason = _acting_on_hold(hold, actor, reason)
    to_recipient = _money_recipient(to_recipient, field="to_recipient")
    if canonical_recipient(to_recipient) == canonical_recipient(hold.recipient):
        raise ValidationError(
            {"to_recipient": "That is the held recipient itself: release the hold instead."}
        )
    if hold.remaining == 0:
        raise ValidationError({"amount": "This hold is a freeze; it holds no money to redirect."})
    amount = hold.remaining if amount in (None, "") else _amount(amount, currency=hold.currency)
    if amount > hold.remaining:
        raise ValidationError(
            {"amount": f"The hold holds only {_money(hold.remaining, hold.currency)}."}
        )
    to_purpose = default_source(to_recipient)
    redirect = HoldMovement(kind=HoldMovement.Kind.REDIRECT, amount=amount)
    redirect.to_recipient, redirect.to_purpose = to_recipient, to_purpose
    return _move(
        hold,
        dispute,
        redirect,
        actor,
        reason,
        data={
            "from": hold.recipient,
            "to": to_recipient,
            "to_purpose": to_purpose,
            "amount": amount,
            "currency": hold.currency,
            "still_held": hold.remaining - amount,
        },
        notice=(
            "held money redirected",
            f"{_money(amount, hold.currency)} held from {hold.recipient} went to {to_recipient}.",
        ),
    )
