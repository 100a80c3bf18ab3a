"""Private helpers of the office's services: input checks, locking, who may act, taking the
case, the holds' total, and mail to the parties (sent after commit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse

from faiross.kernel.money import MAX_AMOUNT, currency_clean, money_format
from projects.notifications import DISPUTE_UPDATE, notifications_for_addresses

from .. import selectors
from ..models import AuditEvent, Dispute, Hold
from .audit import audit_record

MAX_TEXT = 10_000
MAX_REASON = 2_000


# --- input --------------------------------------------------------------------------------


def _text(value: object, *, field: str, label: str, limit: int = MAX_TEXT) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError({field: f"Write {label}."})
    if len(text) > limit:
        raise ValidationError(
            {field: f"{label[0].upper()}{label[1:]} may be at most {limit:,} characters."}
        )
    return text


def _reason(reason: object) -> str:
    return _text(reason, field="reason", label="the reason for this action", limit=MAX_REASON)


def _amount(
    value: object, *, field: str = "amount", allow_zero: bool = False, currency: str = ""
) -> int:
    """``value`` (int minor units, as the forms' money fields give it) within
    ``0 or 1..MAX_AMOUNT``. Its refusals reach the ombudsman's and the parties' forms, so
    they speak money of ``currency`` (a cleaned code, or empty when not known yet)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: "Give an amount of money, e.g. 25.00."})
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_AMOUNT:
        if not currency:
            raise ValidationError(
                {field: "Give an amount above zero." if value < low else "The amount is too large."}
            )
        lowest = "zero" if allow_zero else _money(low, currency)
        raise ValidationError(
            {field: f"The amount must be from {lowest} to {_money(MAX_AMOUNT, currency)}."}
        )
    return value


def _currency(value: object, *, field: str = "currency") -> str:
    return currency_clean(currency=value, field=field)


def _money(amount: int, currency: str) -> str:
    """Money in messages: the kernel's formatter (short name for the many f-strings here)."""
    return money_format(amount=int(amount), currency=currency)


# --- who may act, and on what -------------------------------------------------------------


def _lock(dispute: Dispute) -> Dispute:
    return Dispute.objects.select_for_update().get(pk=dispute.pk)


def _require_ombudsman(actor: User, dispute: Dispute | None = None) -> None:
    if not selectors.user_is_ombudsman(user=actor):
        raise PermissionDenied("Only staff with the ombudsman permission can do this.")
    if dispute is not None and selectors.dispute_is_party(dispute=dispute, user=actor):
        raise PermissionDenied(
            "You filed this dispute or are a party to it: another ombudsman must act on it."
        )


def _require_acting(actor: User, dispute: Dispute) -> None:
    """Ombudsman actions need an active dispute; on appeal, not its first resolver."""
    _require_ombudsman(actor, dispute)
    if not dispute.is_active:
        raise ValidationError(
            {
                "dispute": f"Dispute #{dispute.pk} is {dispute.get_status_display().lower()}; "
                "only an appeal reopens it."
            }
        )
    if dispute.status == Dispute.Status.APPEALED and dispute.resolved_by_id == actor.pk:
        raise PermissionDenied(
            "You resolved this dispute; its appeal must be handled by another ombudsman."
        )


def _acting(dispute: Dispute, actor: User, reason: object) -> tuple[Dispute, str]:
    """The start of an ombudsman action: lock the dispute, check the actor, clean the reason."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    return dispute, _reason(reason)


def _take_case(dispute: Dispute, actor: User) -> None:
    """The first ombudsman to act on an unassigned dispute is assigned to it."""
    if dispute.assigned_to_id is None:
        dispute.assigned_to = actor
        if dispute.status == Dispute.Status.OPEN:
            dispute.status = Dispute.Status.IN_REVIEW
        dispute.save(update_fields=["assigned_to", "status", "updated_at"])
        _audit(
            dispute,
            actor,
            "dispute.assign",
            {"assigned_to": actor.get_username(), "automatic": True},
        )


def _audit(
    dispute: Dispute,
    actor: User,
    action: str,
    data: dict[str, Any],
    *,
    reason: str = "",
    target: str = "",
    internal: bool = False,
) -> AuditEvent:
    """A step on the dispute's trail (``target`` defaults to the dispute)."""
    return audit_record(
        actor=actor,
        action=action,
        target=target or f"dispute:{dispute.pk}",
        dispute=dispute,
        reason=reason,
        data=data,
        internal=internal,
    )


def _record_action(
    dispute: Dispute,
    actor: User,
    action: str,
    *,
    reason: str,
    data: dict[str, Any],
    target: str = "",
) -> AuditEvent:
    """The end of an ombudsman action: the actor takes the case if nobody has it, and the
    step goes on the trail (``target`` defaults to the dispute)."""
    _take_case(dispute, actor)
    return _audit(dispute, actor, action, data, reason=reason, target=target)


def _active_held(**filters: Any) -> int:
    """What the active holds matching ``filters`` still hold, in minor units."""
    total = Hold.objects.filter(status=Hold.Status.ACTIVE, **filters).aggregate(t=Sum("remaining"))[
        "t"
    ]
    return int(total or 0)


def _held_for_dispute(dispute: Dispute, currency: str) -> int:
    return _active_held(dispute=dispute, currency=currency)


# --- mail ---------------------------------------------------------------------------------


def _link(dispute: Dispute) -> str:
    return f"{settings.SITE_URL}{reverse('disputes:detail', kwargs={'pk': dispute.pk})}"


def _admin_link(dispute: Dispute) -> str:
    return f"{settings.SITE_URL}{reverse('admin:disputes_dispute_change', args=[dispute.pk])}"


def _send_later(
    subject: str, body: str, addresses: Sequence[str], *, kind: str | None = None
) -> None:
    """One email per address (parties never see each other's addresses), after commit.
    With ``kind``, people with an account are told through their notification preferences
    and only the other addresses are mailed here."""
    addresses = [a for a in dict.fromkeys(addresses) if a]
    if kind is not None:
        addresses = notifications_for_addresses(
            addresses=addresses, kind=kind, subject=subject, body=body
        )
    if not addresses:
        return

    def send() -> None:
        connection = get_connection()
        connection.send_messages(
            [
                EmailMessage(subject=f"[FairOSS] {subject}", body=body, to=[address])
                for address in addresses
            ]
        )

    transaction.on_commit(send)


def _notify_parties(
    dispute: Dispute, subject: str, body: str, *, exclude: User | None = None
) -> None:
    addresses = selectors.party_emails(
        dispute=dispute, exclude_user_id=getattr(exclude, "pk", None)
    )
    _send_later(
        f"Dispute #{dispute.pk}: {subject}",
        f"{body}\n\nDispute #{dispute.pk}: {dispute.title}\nSee it and answer here: "
        f"{_link(dispute)}\n",
        addresses,
        kind=DISPUTE_UPDATE,
    )
