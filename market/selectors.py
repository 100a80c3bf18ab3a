"""Reads of the market: holdings, tickers, offerings, yield history, cash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet, Sum

from faiross.kernel.recipients import user_key
from payouts.selectors import account_balance

from .models import (
    Commitment,
    DistributionShare,
    Holding,
    MarketDistribution,
    Offering,
    Ticker,
    Trade,
    UnitMovement,
)


@dataclass(frozen=True)
class HoldingRow:
    ticker: Ticker
    units: int
    reserved: int

    @property
    def free(self) -> int:
        return self.units - self.reserved


def holdings_of(*, user: User) -> list[HoldingRow]:
    """The investor's positions, by ticker symbol (tickers with no units left out)."""
    return [
        HoldingRow(h.ticker, h.units, h.reserved_units)
        for h in Holding.objects.filter(investor=user, units__gt=0)
        .select_related("ticker__project")
        .order_by("ticker__symbol")
    ]


def holders_at(*, ticker: Ticker, at: dt.datetime) -> list[tuple[int, int]]:
    """[(investor id, units)] of ``ticker`` at ``at``, from the unit movements up to then,
    sorted by investor id; holders with no units left out."""
    movements = UnitMovement.objects.filter(ticker=ticker, created_at__lte=at)
    units: dict[int, int] = {}
    for to_id, total in movements.values_list("to_investor_id").annotate(t=Sum("units")):
        units[to_id] = units.get(to_id, 0) + int(total)
    for from_id, total in (
        movements.filter(from_investor__isnull=False)
        .values_list("from_investor_id")
        .annotate(t=Sum("units"))
    ):
        units[from_id] = units.get(from_id, 0) - int(total)
    return sorted((i, u) for i, u in units.items() if u)


def units_outstanding(*, ticker: Ticker) -> int:
    """Units issued by the ticker's closed offerings."""
    total = UnitMovement.objects.filter(ticker=ticker, kind=UnitMovement.Kind.ISSUE).aggregate(
        t=Sum("units")
    )["t"]
    return int(total or 0)


def ticker_public(*, symbol: str) -> Ticker | None:
    return (
        Ticker.objects.filter(symbol=symbol)
        .exclude(status=Ticker.Status.PENDING)
        .select_related("project")
        .first()
    )


def tickers_listed() -> QuerySet[Ticker]:
    return (
        Ticker.objects.exclude(status=Ticker.Status.PENDING)
        .select_related("project")
        .order_by("symbol")
    )


def ticker_dispute_open(*, ticker: Ticker) -> bool:
    """An ownership or table dispute is open on the project: the ticker halts by itself."""
    from disputes.models import Dispute
    from disputes.selectors import ACTIVE_STATUSES

    project = ticker.project
    return Dispute.objects.filter(
        Q(project=project, kind__in=[Dispute.Kind.OWNERSHIP, Dispute.Kind.GOVERNANCE])
        | Q(table_owner=project.owner_key),
        status__in=ACTIVE_STATUSES,
    ).exists()


def ticker_tradable(*, ticker: Ticker) -> bool:
    """Approved by the broker-dealer, not halted, and no open ownership or table dispute."""
    return ticker.status == Ticker.Status.APPROVED and not ticker_dispute_open(ticker=ticker)


def offerings_of(*, ticker: Ticker) -> QuerySet[Offering]:
    return Offering.objects.filter(ticker=ticker).order_by("-number")


def commitments_of(*, user: User) -> QuerySet[Commitment]:
    return (
        Commitment.objects.filter(investor=user)
        .select_related("offering__ticker")
        .order_by("-created_at")
    )


@dataclass(frozen=True)
class YieldRow:
    run_id: int
    cutoff: dt.datetime
    currency: str
    amount: int
    units: int

    @property
    def per_unit(self) -> float:
        return self.amount / self.units if self.units else 0.0


def yield_history(*, ticker: Ticker, limit: int = 24) -> list[YieldRow]:
    """What each run paid the ticker's holders, newest first."""
    return [
        YieldRow(d.run_id, d.run.cutoff, d.currency, d.amount, d.units)
        for d in MarketDistribution.objects.filter(ticker=ticker)
        .select_related("run")
        .order_by("-run_id")[:limit]
    ]


def trailing_distribution_per_unit(*, ticker: Ticker, days: int = 365) -> tuple[int, int]:
    """(minor units paid per 1,000,000 units over the trailing ``days``, runs counted): the
    figure the ticker page divides by the last price for the yield it implies."""
    from django.utils import timezone

    since = timezone.now() - dt.timedelta(days=days)
    rows = MarketDistribution.objects.filter(ticker=ticker, run__cutoff__gte=since)
    per_million = sum(d.amount * 1_000_000 // d.units for d in rows if d.units)
    return per_million, rows.count()


def last_price(*, ticker: Ticker) -> int | None:
    trade = Trade.objects.filter(ticker=ticker).order_by("-id").first()
    if trade is not None:
        return trade.price
    offering = (
        Offering.objects.filter(ticker=ticker, status=Offering.Status.SUCCEEDED)
        .order_by("-closed_at")
        .first()
    )
    return offering.clearing_price if offering else None


def distributions_received(*, user: User, year: int | None = None) -> QuerySet[DistributionShare]:
    qs = DistributionShare.objects.filter(investor=user).select_related(
        "distribution__ticker", "distribution__run"
    )
    if year is not None:
        qs = qs.filter(distribution__run__cutoff__year=year)
    return qs.order_by("-distribution__run_id")


def cash_of(*, user: User, currency: str) -> dict[str, int]:
    owner = user_key(user.get_username())
    return {
        "cash": account_balance(owner=owner, purpose="cash", currency=currency),
        "available": account_balance(owner=owner, purpose="available", currency=currency),
    }
