"""The market's invariants, run by ``manage.py ledger_check`` (``payouts.ledger_checks``)."""

from __future__ import annotations

from django.db.models import Sum

from payouts.models import Posting
from projects.models import TableEntry

from .models import Holding, Offering, Ticker, UnitMovement


def _units_checks() -> list[tuple[str, list[str]]]:
    net: dict[tuple[int, int], int] = {}
    ins = UnitMovement.objects.values_list("ticker_id", "to_investor_id").annotate(t=Sum("units"))
    for ticker_id, to_id, total in ins:
        net[(ticker_id, to_id)] = net.get((ticker_id, to_id), 0) + int(total)
    outs = (
        UnitMovement.objects.filter(from_investor__isnull=False)
        .values_list("ticker_id", "from_investor_id")
        .annotate(t=Sum("units"))
    )
    for ticker_id, from_id, total in outs:
        net[(ticker_id, from_id)] = net.get((ticker_id, from_id), 0) - int(total)
    holdings = {
        (h["ticker_id"], h["investor_id"]): h["units"]
        for h in Holding.objects.values("ticker_id", "investor_id", "units")
    }
    mismatched = [
        f"ticker {t} investor {i}: holding {holdings.get((t, i), 0)}, "
        f"movements {net.get((t, i), 0)}"
        for (t, i) in sorted(set(net) | set(holdings))
        if holdings.get((t, i), 0) != net.get((t, i), 0)
    ]
    conserved = []
    for ticker in Ticker.objects.select_related("project"):
        issued = int(
            UnitMovement.objects.filter(ticker=ticker, kind="issue").aggregate(t=Sum("units"))["t"]
            or 0
        )
        held = int(Holding.objects.filter(ticker=ticker).aggregate(t=Sum("units"))["t"] or 0)
        sold = int(
            Offering.objects.filter(ticker=ticker, status=Offering.Status.SUCCEEDED).aggregate(
                t=Sum("units_sold")
            )["t"]
            or 0
        )
        entry = (
            TableEntry.objects.filter(
                version__table__owner_key=ticker.project.owner_key,
                version__status="active",
                recipient=ticker.recipient,
            )
            .values_list("millibips", flat=True)
            .first()
        ) or 0
        if not issued == held == sold == entry // ticker.unit_millibips:
            conserved.append(
                f"{ticker.symbol}: issued {issued}, held {held}, sold {sold}, "
                f"table entry {entry} millibips"
            )
    return [
        ("each holding equals its unit movements", mismatched[:100]),
        ("units per ticker: issued = held = sold = the table's market entry", conserved),
    ]


def _cash_checks() -> list[tuple[str, list[str]]]:
    cash = (
        Posting.objects.filter(account__purpose__in=["cash", "cash_held", "fees", "escrow"])
        .filter(account__owner__regex=r"^(user|offering|market|platform)")
        .values("account__owner", "account__purpose", "account__currency")
        .annotate(t=Sum("amount"))
        .filter(t__lt=0)
    )
    leftover = []
    for offering in Offering.objects.exclude(status__in=["proposed", "open"]):
        balance = (
            Posting.objects.filter(account__owner=f"offering:{offering.pk}").aggregate(
                t=Sum("amount")
            )["t"]
            or 0
        )
        if balance:
            leftover.append(f"offering {offering.pk}: {balance} left in escrow")
    return [
        (
            "no negative market cash, held cash, fees or offering escrow",
            [
                f"{r['account__owner']}/{r['account__purpose']}/{r['account__currency']}: {r['t']}"
                for r in cash[:100]
            ],
        ),
        ("closed offerings' escrow is empty", leftover),
    ]


def market_ledger_checks() -> list[tuple[str, list[str]]]:
    """Units conserved per ticker and per holding; no negative cash; closed offerings' escrow
    empty; and the engine's own checks (journal, reservations, trades)."""
    out = _units_checks() + _cash_checks()
    try:
        from .engine.checks import engine_problems
    except ImportError:  # the engine's checks are not written yet
        return out
    return out + engine_problems()
