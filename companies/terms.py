"""Pure arithmetic of agreement terms: shares, vesting, pledge periods. No database.

Rounding (documented in the README, "Companies and agreements"): FairOSS's part of an amount
is ``floor(amount * millibips / 10,000,000)``, always rounded down, in FairOSS's disfavour,
so a company is never asked for more than its exact share. Vesting rounds down too
(OCF's ``CUMULATIVE_ROUND_DOWN``): the vested part of a stake never exceeds the exact one.
"""

from __future__ import annotations

import calendar
import datetime as dt

from faiross.kernel.shares import FULL_SHARE

PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}


def share_of(*, amount: int, millibips: int) -> int:
    """FairOSS's part of ``amount`` for a share of ``millibips``: exact, rounded down.

    Preconditions: ``amount >= 0``; ``0 <= millibips <= FULL_SHARE``. Invariant: the result is the
    largest integer not above ``amount * millibips / FULL_SHARE``.
    """
    if amount < 0 or not 0 <= millibips <= FULL_SHARE:
        raise ValueError("amount must be >= 0 and millibips within 0..10,000,000")
    return amount * millibips // FULL_SHARE


def share_of_share(*, amount: int, millibips: int, portion_millibips: int) -> int:
    """``floor(amount * millibips/FULL_SHARE * portion/FULL_SHARE)``, computed in one integer
    division (rounding once, not twice)."""
    if amount < 0 or not 0 <= millibips <= FULL_SHARE or not 0 <= portion_millibips <= FULL_SHARE:
        raise ValueError("amount must be >= 0 and millibips within 0..10,000,000")
    return amount * millibips * portion_millibips // (FULL_SHARE * FULL_SHARE)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months; the day is clamped to the month's last day
    (31 January + 1 month = 28/29 February)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def months_elapsed(start: dt.date, on: dt.date) -> int:
    """Whole calendar months from ``start`` to ``on`` (0 when ``on`` is before a month)."""
    if on < start:
        return 0
    months = (on.year - start.year) * 12 + on.month - start.month
    if add_months(start, months) > on:
        months -= 1
    return max(months, 0)


def time_vested_millibips(
    *, start: dt.date, cliff_months: int, vesting_months: int, time_millibips: int, on: dt.date
) -> int:
    """The time-vesting part vested on ``on``: nothing before ``start``; nothing before the
    cliff; then ``time_millibips * months / vesting_months`` rounded down, all of it from
    ``vesting_months`` on. ``vesting_months == 0`` vests everything at ``start``."""
    if on < start or time_millibips == 0:
        return 0
    if vesting_months == 0:
        return time_millibips
    months = months_elapsed(start, on)
    if months < cliff_months:
        return 0
    if months >= vesting_months:
        return time_millibips
    return time_millibips * months // vesting_months


def pledge_periods(
    *, start: dt.date, period: str, until: dt.date, end: dt.date | None = None
) -> list[tuple[dt.date, dt.date]]:
    """The periods ``(first day, last day)`` of a pledge that have begun by ``until``
    (and before ``end``, when the agreement ended). Computed from ``start`` each time, so
    monthly periods never drift (31 Jan, 28 Feb, 31 Mar, ...)."""
    step = PERIOD_MONTHS[period]
    out: list[tuple[dt.date, dt.date]] = []
    k = 0
    while True:
        first = add_months(start, k * step)
        if first > until or (end is not None and first >= end):
            return out
        out.append((first, add_months(start, (k + 1) * step) - dt.timedelta(days=1)))
        k += 1
