"""Case management: internal notes, assignment, the deadline and the money at stake."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import selectors
from ..models import Dispute, Hold, InternalNote
from ._common import (
    _acting,
    _amount,
    _audit,
    _currency,
    _held_for_dispute,
    _lock,
    _money,
    _record_action,
    _require_ombudsman,
    _text,
)


@transaction.atomic
def dispute_note_add(*, dispute: Dispute, actor: User, body: str) -> InternalNote:
    """An internal note: seen by ombudsmen only, recorded in the trail as internal."""
    dispute = _lock(dispute)
    _require_ombudsman(actor, dispute)
    body = _text(body, field="body", label="the note")
    note = InternalNote.objects.create(dispute=dispute, author=actor, body=body)
    _audit(dispute, actor, "note.add", {"note": note.pk, "text": body}, internal=True)
    return note


def _check_assignee(dispute: Dispute, assignee: User) -> None:
    if not selectors.user_is_ombudsman(user=assignee):
        raise ValidationError(
            {
                "assignee": f"{assignee.get_username()} is not an ombudsman (staff with the "
                "ombudsman permission)."
            }
        )
    if selectors.dispute_is_party(dispute=dispute, user=assignee):
        raise ValidationError({"assignee": f"{assignee.get_username()} is a party to it."})
    if dispute.status == Dispute.Status.APPEALED and dispute.resolved_by_id == assignee.pk:
        raise ValidationError(
            {"assignee": "The appeal must go to someone other than the first resolver."}
        )


@transaction.atomic
def dispute_assign(*, dispute: Dispute, actor: User, assignee: User | None, reason: str) -> Dispute:
    """Assign the dispute to an ombudsman (or nobody). The assignee must hold the
    permission and not be a party; on appeal, not the one who resolved it."""
    dispute, reason = _acting(dispute, actor, reason)
    if assignee is not None:
        _check_assignee(dispute, assignee)
    before = dispute.assigned_to.get_username() if dispute.assigned_to is not None else None
    dispute.assigned_to = assignee
    if assignee is not None and dispute.status == Dispute.Status.OPEN:
        dispute.status = Dispute.Status.IN_REVIEW
    dispute.save(update_fields=["assigned_to", "status", "updated_at"])
    if dispute.status == Dispute.Status.APPEALED:
        dispute.appeals.filter(decision="").update(assigned_to=assignee)
    after = assignee.get_username() if assignee else None
    _audit(
        dispute, actor, "dispute.assign", {"before": before, "assigned_to": after}, reason=reason
    )
    return dispute


@transaction.atomic
def dispute_deadline_set(
    *, dispute: Dispute, actor: User, deadline: dt.date | None, reason: str
) -> Dispute:
    """Set (or clear) the date by which the office means to decide; not in the past."""
    dispute, reason = _acting(dispute, actor, reason)
    if deadline is not None and deadline < timezone.localdate():
        raise ValidationError({"deadline": "The deadline cannot be in the past."})
    before = dispute.deadline.isoformat() if dispute.deadline else None
    dispute.deadline = deadline
    dispute.save(update_fields=["deadline", "updated_at"])
    _record_action(
        dispute,
        actor,
        "dispute.deadline",
        reason=reason,
        data={"before": before, "deadline": deadline.isoformat() if deadline else None},
    )
    return dispute


@transaction.atomic
def dispute_stake_set(
    *, dispute: Dispute, actor: User, amount: int, currency: str, reason: str
) -> Dispute:
    """Set the money at stake (the most the dispute's holds may freeze); never below what
    its active holds already hold."""
    dispute, reason = _acting(dispute, actor, reason)
    currency = _currency(currency)
    amount = _amount(amount, currency=currency)
    other = Hold.objects.filter(dispute=dispute, status=Hold.Status.ACTIVE).exclude(
        currency=currency
    )
    if other.filter(remaining__gt=0).exists():
        raise ValidationError({"currency": "Active holds of this dispute are in another currency."})
    held = _held_for_dispute(dispute, currency)
    if amount < held:
        raise ValidationError(
            {
                "amount": f"The holds of this dispute already hold {_money(held, currency)}; "
                "release some first."
            }
        )
    before = [dispute.amount_at_stake, dispute.currency]
    dispute.amount_at_stake, dispute.currency = amount, currency
    dispute.save(update_fields=["amount_at_stake", "currency", "updated_at"])
    _record_action(
        dispute,
        actor,
        "dispute.stake",
        reason=reason,
        data={"before": before, "amount_at_stake": amount, "currency": currency},
    )
    return dispute
