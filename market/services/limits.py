"""Per-investor limits over any 12 months (Reg CF-shaped; thresholds in :mod:`market.conf`).

An accredited investor has no limit. A non-accredited investor may put at most
:func:`investment_limit` into the market over any 365 days: the greater of the floor and
``LOW_BIPS`` of the greater of annual income and net worth when either is below the
threshold, else ``HIGH_BIPS`` of the greater; never above the cap. What counts: commitments
waiting (their escrowed amount) or allocated (what was paid), buys on the secondary market
(price times units plus the buyer's fee) and open buy orders (their reserved cash).

Everyone must have a verified KYC status before committing or ordering.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import F, Sum
from django.utils import timezone

from faiross.kernel.money import money_format

from ..conf import setting
from ..models import Commitment, InvestorProfile, Order, Trade

WINDOW = dt.timedelta(days=365)


def investment_limit(*, profile: InvestorProfile) -> int | None:
    """The 12-month limit in minor units; ``None`` for an accredited investor."""
    if profile.accredited:
        return None
    income = profile.annual_income or 0
    worth = profile.net_worth or 0
    greater = max(income, worth)
    threshold = setting("FAIROSS_MARKET_LIMIT_THRESHOLD")
    if income < threshold or worth < threshold:
        limit = max(
            setting("FAIROSS_MARKET_LIMIT_FLOOR"),
            greater * setting("FAIROSS_MARKET_LIMIT_LOW_BIPS") // 10_000,
        )
    else:
        limit = greater * setting("FAIROSS_MARKET_LIMIT_HIGH_BIPS") // 10_000
    return min(limit, setting("FAIROSS_MARKET_LIMIT_CAP"))


def invested_12_months(*, user: User, currency: str, now: dt.datetime | None = None) -> int:
    """What counts against the limit in the 365 days up to ``now`` (see the module doc)."""
    since = (now or timezone.now()) - WINDOW
    commitments = Commitment.objects.filter(
        investor=user, offering__currency=currency, created_at__gte=since
    )
    waiting = (
        commitments.filter(
            status__in=[Commitment.Status.ACTIVE, Commitment.Status.RECONFIRM]
        ).aggregate(t=Sum("amount"))["t"]
        or 0
    )
    paid = (
        commitments.filter(status=Commitment.Status.ALLOCATED).aggregate(t=Sum("amount_paid"))["t"]
        or 0
    )
    bought = (
        Trade.objects.filter(buyer=user, currency=currency, executed_at__gte=since).aggregate(
            t=Sum(F("price") * F("units") + F("buyer_fee"))
        )["t"]
        or 0
    )
    open_buys = (
        Order.objects.filter(
            investor=user,
            side=Order.Side.BUY,
            status=Order.Status.OPEN,
            ticker__currency=currency,
        ).aggregate(t=Sum("reserved_cash"))["t"]
        or 0
    )
    return int(waiting + paid + bought + open_buys)


def investor_profile_require(*, user: User) -> InvestorProfile:
    """The investor's profile, with KYC verified by the broker-dealer; else a ValidationError."""
    profile = InvestorProfile.objects.filter(user=user).first()
    if profile is None:
        raise ValidationError({"investor": "Create your investor profile first."})
    if profile.kyc_status != InvestorProfile.Kyc.VERIFIED:
        raise ValidationError(
            {"investor": "The broker-dealer has not verified your identity yet (KYC)."}
        )
    return profile


def investment_limit_check(*, user: User, amount: int, currency: str) -> None:
    """Refuse (ValidationError on ``amount``) when investing ``amount`` more would take a
    non-accredited investor above their 12-month limit, or when KYC is not verified.

    Called at commitment and at order entry (buys: ``amount`` is what the order reserves).
    Precondition for exactness under concurrency: the caller holds the investor's cash lock
    (:func:`market.services.cash.cash_lock`), which serialises one person's spends."""
    profile = investor_profile_require(user=user)
    limit = investment_limit(profile=profile)
    if limit is None:
        return
    used = invested_12_months(user=user, currency=currency)
    if used + amount > limit:
        left = max(0, limit - used)
        raise ValidationError(
            {
                "amount": "This is above your 12-month investment limit for non-accredited "
                f"investors ({money_format(amount=limit, currency=currency)}); you can invest "
                f"{money_format(amount=left, currency=currency)} more."
            }
        )
