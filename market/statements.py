"""An investor's yearly market statement: holdings at the year's end, primary purchases,
distributions received, trades, deposits and withdrawals, and every fee (CSV and PDF)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db.models import Q, Sum

from faiross.kernel.money import minor_to_decimal_str, money_format
from payouts.models import Posting

from .models import Commitment, Deposit, DistributionShare, Ticker, Trade, UnitMovement, Withdrawal

CSV_HEADER = ["section", "date", "ticker", "description", "units", "currency", "amount", "fee"]


@dataclass
class Line:
    section: str
    date: dt.date | None
    ticker: str
    description: str
    units: int | None
    currency: str
    amount: int
    fee: int = 0


@dataclass
class Statement:
    year: int
    holdings: list[tuple[str, int]] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    def total(self, section: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.lines:
            if line.section == section:
                out[line.currency] = out.get(line.currency, 0) + line.amount
        return out

    def fees(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.lines:
            if line.fee:
                out[line.currency] = out.get(line.currency, 0) + line.fee
        return out


def _year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime(year, 1, 1, tzinfo=dt.UTC),
        dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC),
    )


def statement_for(*, user: User, year: int) -> Statement:
    start, end = _year_bounds(year)
    s = Statement(year=year)
    moves = UnitMovement.objects.filter(created_at__lt=end)
    units: dict[int, int] = {}
    for r in moves.filter(to_investor=user).values("ticker_id").annotate(t=Sum("units")):
        units[r["ticker_id"]] = units.get(r["ticker_id"], 0) + int(r["t"])
    for r in moves.filter(from_investor=user).values("ticker_id").annotate(t=Sum("units")):
        units[r["ticker_id"]] = units.get(r["ticker_id"], 0) - int(r["t"])
    symbols = dict(Ticker.objects.filter(pk__in=list(units)).values_list("pk", "symbol"))
    s.holdings = sorted((symbols[t], n) for t, n in units.items() if n)
    for c in Commitment.objects.filter(
        investor=user,
        status="allocated",
        offering__closed_at__gte=start,
        offering__closed_at__lt=end,
    ).select_related("offering__ticker"):
        price = money_format(amount=c.offering.clearing_price or 0, currency=c.offering.currency)
        s.lines.append(
            Line(
                "bought in offering",
                c.offering.closed_at.date() if c.offering.closed_at else None,
                c.offering.ticker.symbol,
                f"offering {c.offering.number} at {price} a unit",
                c.units_allocated,
                c.offering.currency,
                -c.amount_paid,
            )
        )
    for d in DistributionShare.objects.filter(
        investor=user, distribution__run__cutoff__gte=start, distribution__run__cutoff__lt=end
    ).select_related("distribution__ticker", "distribution__run"):
        s.lines.append(
            Line(
                "distribution",
                d.distribution.run.cutoff.date(),
                d.distribution.ticker.symbol,
                f"run {d.distribution.run_id}",
                d.units,
                d.distribution.currency,
                d.amount,
            )
        )
    for t in Trade.objects.filter(
        Q(buyer=user) | Q(seller=user), executed_at__gte=start, executed_at__lt=end
    ).select_related("ticker"):
        bought = t.buyer_id == user.pk
        value = t.price * t.units
        s.lines.append(
            Line(
                "trade",
                t.executed_at.date(),
                t.ticker.symbol,
                f"{'bought' if bought else 'sold'} at "
                f"{money_format(amount=t.price, currency=t.currency)} a unit",
                t.units,
                t.currency,
                -value if bought else value,
                t.buyer_fee if bought else t.seller_fee,
            )
        )
    for dep in Deposit.objects.filter(
        investor=user, status="completed", completed_at__gte=start, completed_at__lt=end
    ):
        fee = 0
        if dep.transaction_id:
            fee = int(
                Posting.objects.filter(
                    transaction_id=dep.transaction_id, account__owner="platform"
                ).aggregate(t=Sum("amount"))["t"]
                or 0
            )
        s.lines.append(
            Line(
                "deposit",
                dep.completed_at.date() if dep.completed_at else None,
                "",
                dep.get_method_display(),
                None,
                dep.currency,
                dep.amount,
                fee,
            )
        )
    for w in Withdrawal.objects.filter(investor=user, created_at__gte=start, created_at__lt=end):
        s.lines.append(
            Line("withdrawal", w.created_at.date(), "", "cash out", None, w.currency, -w.amount)
        )
    s.lines.sort(key=lambda line: (line.date or dt.date.min, line.section))
    return s


def _csv_safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(s: Statement) -> list[list[str]]:
    rows = [
        ["holding", f"{s.year}-12-31", sym, "units held at the year's end", str(n), "", "", ""]
        for sym, n in s.holdings
    ]
    for line in s.lines:
        rows.append(
            [
                line.section,
                line.date.isoformat() if line.date else "",
                line.ticker,
                _csv_safe(line.description),
                "" if line.units is None else str(line.units),
                line.currency,
                minor_to_decimal_str(line.amount, line.currency),
                minor_to_decimal_str(line.fee, line.currency),
            ]
        )
    return rows
