"""Cleaning the terms of a new agreement, per kind (README, "Companies and agreements").

The arithmetic those terms feed (shares, vesting, pledge periods) is ``companies.terms``;
this module only says which values are acceptable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from faiross.kernel.errors import FieldErrors
from faiross.kernel.money import MAX_AMOUNT, amount_clean, currency_clean, money_format
from faiross.kernel.shares import FULL_SHARE, format_percent

from ..models import Agreement, Company
from ._common import _date_clean, _int_clean, _share_clean, _text_clean

MAX_SHARE_MILLIBIPS = 5_000_000  # 50%: a larger share of a company's dividends, equity or
# carry is refused as absurd (README, Limits)
MAX_DEVELOPERS = 100_000
MAX_MILESTONES = 20
MAX_SHARE_COUNT = 10**15
MAX_VESTING_MONTHS = 120

COMMON_FIELDS = {"kind", "currency", "start_date", "end_date"}
KIND_FIELDS = {
    "pledge": {"amount", "developers", "period"},
    "dividend": {"share_millibips"},
    "equity": {
        "share_millibips",
        "share_count",
        "share_class",
        "cliff_months",
        "vesting_months",
        "time_vesting_millibips",
        "milestones",
    },
    "carry": {"share_millibips", "fund_name"},
}


class _Errors(FieldErrors):
    """:class:`FieldErrors` with the terms' own checks of raw values."""

    def integer(
        self,
        data: Mapping[str, Any],
        field: str,
        *,
        low: int,
        high: int,
        what: str,
        default: object = None,
    ) -> int | None:
        """``data[field]`` (else ``default``) cleaned as a whole number from low to high."""
        return self.check(
            _int_clean, data.get(field, default), field=field, low=low, high=high, what=what
        )


def agreement_terms_clean(
    *, kind: object, company: Company, data: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Validate the terms of a new agreement; returns model field values and milestones.

    Every problem is reported at once, per field.
    """
    if kind not in Agreement.Kind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(Agreement.Kind.values)}."})
    errors = _Errors()
    unknown = sorted(set(data) - (KIND_FIELDS[str(kind)] | COMMON_FIELDS))
    if unknown:
        errors.add(
            "non_field_errors",
            f"Unknown field(s) for a {kind} agreement: {', '.join(map(str, unknown))}.",
        )
    values: dict[str, Any] = {"kind": kind, **_common_terms(data, errors)}
    milestones: list[tuple[str, int]] = []
    if kind == Agreement.Kind.PLEDGE:
        values.update(_pledge_terms(data, errors, currency=values.get("currency")))
    else:
        values["share_millibips"] = errors.check(
            _share_clean,
            data.get("share_millibips"),
            field="share_millibips",
            low=1,
            high=MAX_SHARE_MILLIBIPS,
            what="the share",
        )
    if kind == Agreement.Kind.CARRY:
        if company.kind != Company.Kind.VC_FUND:
            errors.add(
                "kind",
                "Carried-interest agreements are for VC funds; change the company's kind first.",
            )
        values["fund_name"] = errors.check(
            _text_clean, data.get("fund_name"), field="fund_name", max_length=200
        )
    if kind == Agreement.Kind.EQUITY:
        equity, milestones = _equity_terms(data, errors)
        values.update(equity)
    if errors.by_field:
        raise ValidationError(errors.by_field)
    return values, milestones


def _common_terms(data: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    """Currency, start date and the optional end date of every kind."""
    values: dict[str, Any] = {}
    values["currency"] = errors.check(currency_clean, currency=data.get("currency"))
    start = errors.check(_date_clean, data.get("start_date"), field="start_date")
    values["start_date"] = start
    if data.get("end_date") not in (None, ""):
        end = errors.check(
            _date_clean,
            data.get("end_date"),
            field="end_date",
            latest=dt.date(2100, 1, 1),
        )
        if end and start and end <= start:
            errors.add("end_date", "The end date must be after the start date.")
        values["end_date"] = end
    return values


def _pledge_terms(
    data: Mapping[str, Any], errors: _Errors, *, currency: str | None
) -> dict[str, Any]:
    amount = errors.check(amount_clean, amount=data.get("amount"))
    developers = errors.integer(
        data, "developers", low=1, high=MAX_DEVELOPERS, what="the number of developers", default=1
    )
    if amount and developers and amount * developers > MAX_AMOUNT:
        # Read on the pledge form too, so in money (of the agreement's currency, when valid).
        limit = money_format(amount=MAX_AMOUNT, currency=currency or "usd", symbol=bool(currency))
        errors.add(
            "amount",
            f"The pledge per period (amount x developers) must be at most {limit}.",
        )
    period = data.get("period")
    if period not in Agreement.Period.values:
        errors.add("period", "Choose monthly, quarterly or yearly.")
    return {"amount": amount, "developers": developers, "period": period}


def _equity_terms(
    data: Mapping[str, Any], errors: _Errors
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Share count and class, and vesting: over time (cliff, months) plus milestones, which
    together make 100%."""
    values: dict[str, Any] = {}
    values["share_count"] = errors.integer(
        data, "share_count", low=1, high=MAX_SHARE_COUNT, what="the number of shares"
    )
    values["share_class"] = errors.check(
        _text_clean, data.get("share_class"), field="share_class", max_length=60
    )
    cliff = errors.integer(
        data, "cliff_months", low=0, high=MAX_VESTING_MONTHS, what="the cliff in months", default=0
    )
    months = errors.integer(
        data,
        "vesting_months",
        low=0,
        high=MAX_VESTING_MONTHS,
        what="the vesting period in months",
        default=0,
    )
    if cliff is not None and months is not None and cliff > months:
        errors.add(
            "cliff_months",
            f"The cliff ({cliff} months) cannot be longer than the vesting period "
            f"({months} months).",
        )
    time_part = errors.check(
        _share_clean,
        data.get("time_vesting_millibips", FULL_SHARE),
        field="time_vesting_millibips",
        low=0,
        high=FULL_SHARE,
        what="the part vesting over time",
    )
    milestones = _milestones_clean(data.get("milestones") or [], errors)
    if time_part is not None and not errors.by_field.get("milestones"):
        total = time_part + sum(p for _, p in milestones)
        if total != FULL_SHARE:
            errors.add(
                "milestones",
                f"Vesting must add up to 100%: the time-vesting part "
                f"({format_percent(millibips=time_part)}) and the milestones "
                f"({format_percent(millibips=sum(p for _, p in milestones))}) add up to "
                f"{format_percent(millibips=total)}.",
            )
    if time_part and months == 0 and cliff:
        errors.add("vesting_months", "A cliff needs a vesting period.")
    values.update(cliff_months=cliff, vesting_months=months, time_vesting_millibips=time_part)
    return values, milestones


def _milestones_clean(raw: object, errors: _Errors) -> list[tuple[str, int]]:
    """``[{title, millibips}, ...]`` → ``[(title, millibips), ...]``; bad rows are noted."""
    if not isinstance(raw, list) or len(raw) > MAX_MILESTONES:
        errors.add(
            "milestones",
            f"Give at most {MAX_MILESTONES} milestones as a list of {{title, millibips}}.",
        )
        return []
    milestones: list[tuple[str, int]] = []
    for i, row in enumerate(raw, start=1):
        title = row.get("title") if isinstance(row, dict) else None
        part = row.get("millibips") if isinstance(row, dict) else None
        if not isinstance(title, str) or not title.strip() or len(title) > 200 or "\x00" in title:
            errors.add("milestones", f"milestone {i}: give a title of 1 to 200 characters.")
            continue
        if isinstance(part, bool) or not isinstance(part, int) or not 0 < part <= FULL_SHARE:
            errors.add(
                "milestones",
                f"milestone {i} ({title.strip()}): its part must be from "
                f"{format_percent(millibips=1)} to 100%.",
            )
            continue
        milestones.append((title.strip(), part))
    return milestones
