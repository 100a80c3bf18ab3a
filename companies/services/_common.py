"""What the company services share: cleaning of input values, who may act, and the one state
change two of them make (ending an agreement). Private to ``companies.services``."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from faiross.kernel.shares import format_percent

from ..models import Agreement, Company, CompanyMember
from ..selectors import MONEY_ROLES, company_role, mfa_required_message, user_mfa_verified

EARLIEST_DATE = dt.date(2000, 1, 1)


def _int_clean(value: object, *, field: str, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: f"Give {what} as a whole number."})
    if not low <= value <= high:
        raise ValidationError(
            {field: f"{what[0].upper()}{what[1:]} must be from {low:,} to {high:,}."}
        )
    return value


def _share_clean(value: object, *, field: str, low: int, high: int, what: str) -> int:
    """A share in millibips from ``low`` to ``high``. The API sends millibips; the forms send
    what a person typed in percent, and both read the range in percent."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            {field: f"Give {what} as a whole number of millibips (100,000 = 1%)."}
        )
    if not low <= value <= high:
        low_shown, high_shown = (format_percent(millibips=v) for v in (low, high))
        raise ValidationError(
            {field: f"{what[0].upper()}{what[1:]} must be from {low_shown} to {high_shown}."}
        )
    return value


def _date_clean(value: object, *, field: str, latest: dt.date | None = None) -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError({field: "Give a date as YYYY-MM-DD."}) from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationError({field: "Give a date as YYYY-MM-DD."})
    latest = latest or timezone.localdate() + dt.timedelta(days=366)
    if not EARLIEST_DATE <= value <= latest:
        raise ValidationError({field: f"The date must be from {EARLIEST_DATE} to {latest}."})
    return value


def _text_clean(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be text."})
    value = value.strip()
    if "\x00" in value:
        raise ValidationError({field: "NUL bytes are not allowed."})
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def _require_owner(*, company: Company, user: User | AnonymousUser) -> None:
    if company_role(slug=company.slug, user=user) != CompanyMember.Role.OWNER:
        raise PermissionDenied("Only the company's owners can do this.")


def require_money_actor(
    *, company: Company, user: User | AnonymousUser, allow_staff: bool = False
) -> None:
    """Owners and finance members act on money; with ``require_mfa``, only through a session
    or token obtained with a second factor.

    ``allow_staff``: FairOSS staff may act too (recording declarations, events, wires).
    """
    if allow_staff and getattr(user, "is_staff", False):
        return
    role = company_role(slug=company.slug, user=user)
    if role not in MONEY_ROLES:
        if role is None:
            raise PermissionDenied("Only the company's owners and finance members can do this.")
        raise PermissionDenied(
            "Viewers cannot act on money: ask an owner to make you a finance member."
        )
    # This session or token must have passed the second factor, not merely the account.
    if company.require_mfa and not user_mfa_verified(user=user):
        raise PermissionDenied(mfa_required_message(company=company, user=user))


def _require_staff(user: User | AnonymousUser) -> None:
    if not getattr(user, "is_staff", False):
        raise PermissionDenied("Only FairOSS staff can do this.")


def _agreement_ended(*, agreement: Agreement, actor: User, reason: str) -> None:
    """Mark a locked agreement ended now, by ``actor``, for ``reason`` (ended by hand, or by
    an acquisition). Precondition: ``agreement`` comes from ``select_for_update``."""
    agreement.status = Agreement.Status.ENDED
    agreement.ended_at = timezone.now()
    agreement.ended_by = actor
    agreement.end_reason = reason
    agreement.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
