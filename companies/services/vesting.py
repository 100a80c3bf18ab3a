"""Equity vesting: staff (or a confirmed feature request, ``asks``) mark milestones met; the
part of FairOSS's stake vested on a day (over time after the cliff, plus the milestones met by
then)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from faiross.kernel.shares import FULL_SHARE

from .. import terms
from ..models import Agreement, Milestone
from ._common import _date_clean, _require_staff


def milestone_mark_met(
    *, milestone: Milestone, staff: User, met_on: dt.date | None = None
) -> Milestone:
    """Staff mark an equity milestone met (once)."""
    _require_staff(staff)
    return milestone_meet(milestone=milestone, actor=staff, met_on=met_on)


@transaction.atomic
def milestone_meet(
    *, milestone: Milestone, actor: User, met_on: dt.date | None = None
) -> Milestone:
    """Record an equity milestone met (once) by ``actor``, so its part vests from ``met_on``.

    Precondition: the caller checked that ``actor`` may (staff here; the company confirming a
    delivered feature request in the ``asks`` app). The rules of a milestone being met are
    the same for both: once, on a signed or active agreement, not before it starts."""
    milestone = (
        Milestone.objects.select_for_update().select_related("agreement").get(pk=milestone.pk)
    )
    if milestone.met_on is not None:
        raise ValidationError(
            {"milestone": f"'{milestone.title}' was already met on {milestone.met_on}."}
        )
    if milestone.agreement.status not in (Agreement.Status.ACTIVE, Agreement.Status.SIGNED):
        raise ValidationError(
            {"milestone": "Milestones are marked on signed or active agreements only."}
        )
    met_on = _date_clean(
        met_on or timezone.localdate(), field="met_on", latest=timezone.localdate()
    )
    if met_on < milestone.agreement.start_date:
        raise ValidationError({"met_on": "A milestone cannot be met before the agreement starts."})
    milestone.met_on = met_on
    milestone.met_by = actor
    milestone.save(update_fields=["met_on", "met_by"])
    return milestone


def equity_vested_millibips(*, agreement: Agreement, on: dt.date) -> int:
    """The part of FairOSS's stake vested on ``on`` (time vesting + milestones met by then)."""
    time_part = terms.time_vested_millibips(
        start=agreement.start_date,
        cliff_months=agreement.cliff_months or 0,
        vesting_months=agreement.vesting_months or 0,
        time_millibips=agreement.time_vesting_millibips or 0,
        on=on,
    )
    milestones = (
        agreement.milestones.filter(met_on__isnull=False, met_on__lte=on).aggregate(
            t=Sum("millibips")
        )["t"]
        or 0
    )
    return min(FULL_SHARE, time_part + milestones)
