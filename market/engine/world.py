"""A synthetic market for the benchmark and the tests: listed tickers with a closed offering,
verified investors holding units and cash, all written like the real flows write them (an
issue :class:`~market.models.UnitMovement` per holding, cash credited by a balanced ledger
transaction), so ``ledger_check`` holds before and after trading."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from payouts.ledger import Leg, ledger_post

from .sequencer import CASH

# Where synthetic cash comes from: a counter-account, negative by design like ``contributed``.
WORLD_SOURCE = "bench:world"


@dataclass(frozen=True)
class World:
    tickers: list[str]
    investors: list[int]  # user ids
    prices: dict[str, int]


def world_build(
    *,
    prefix: str,
    tickers: int,
    investors: int,
    cash: int,
    units: int,
    price: int = 1000,
    currency: str = "usd",
    band_bips: int = 2000,
) -> World:
    """Create ``tickers`` approved tickers (symbols from ``prefix``) sold out to ``investors``
    verified, accredited investors, each with ``units`` units of every ticker and ``cash``."""
    from market.models import Holding, InvestorProfile, Offering, Ticker, UnitMovement
    from projects.models import Membership, Project
    from projects.services.tables import EntryInput, table_propose

    if units * investors > 5_000_000:
        raise ValueError("units * investors must leave room in a table (at most 5,000,000)")
    user_model = get_user_model()
    now = timezone.now()
    low = prefix.lower()
    with transaction.atomic():
        users = user_model.objects.bulk_create(
            [
                user_model(username=f"{low}-inv{i}", email=f"{low}{i}@example.org")
                for i in range(investors)
            ]
        )
        steward = user_model.objects.create(username=f"{low}-steward")
        InvestorProfile.objects.bulk_create(
            [
                InvestorProfile(
                    user=u,
                    legal_name=u.username,
                    country="US",
                    accredited=True,
                    kyc_status="verified",
                    kyc_reference="bench",
                    kyc_set_at=now,
                )
                for u in users
            ]
        )
        ledger_post(
            idempotency_key=f"bench:world:{prefix}:{now.timestamp()}",
            kind="market_deposit",
            reference=f"bench:{prefix}",
            legs=[
                Leg(WORLD_SOURCE, "contributed", currency, -cash * len(users)),
                *[Leg(f"user:{u.username}", CASH, currency, cash) for u in users],
            ],
            memo="synthetic cash and units for the market benchmark",
        )
        symbols = []
        for t in range(tickers):
            symbol = _symbol(prefix, t)
            project = Project.objects.create(
                slug=f"{low}-p{t}", name=f"{symbol} project", verified_at=now
            )
            Membership.objects.create(project=project, user=steward, role="steward")
            ticker = Ticker.objects.create(
                symbol=symbol,
                project=project,
                status="approved",
                currency=currency,
                price_band_bips=band_bips,
                approved_at=now,
            )
            sold = units * investors
            table_propose(
                owner_key=project.owner_key,
                actor=steward,
                entries=[EntryInput(ticker.recipient, sold * ticker.unit_millibips)],
                market_close=True,
            )
            offering = Offering.objects.create(
                ticker=ticker,
                number=1,
                kind="fixed",
                status="succeeded",
                millibips=sold * ticker.unit_millibips,
                units=sold,
                units_sold=sold,
                currency=currency,
                price=price,
                minimum_raise=0,
                fee_bips=0,
                deadline=now,
                closed_at=now,
            )
            Holding.objects.bulk_create(
                [Holding(investor=u, ticker=ticker, units=units) for u in users]
            )
            UnitMovement.objects.bulk_create(
                [
                    UnitMovement(
                        ticker=ticker,
                        kind="issue",
                        to_investor=u,
                        units=units,
                        reference=f"offering:{offering.pk}",
                    )
                    for u in users
                ]
            )
            symbols.append(symbol)
    return World(
        tickers=symbols, investors=[u.pk for u in users], prices=dict.fromkeys(symbols, price)
    )


def _symbol(prefix: str, n: int) -> str:
    letters = ""
    n += 26  # at least two letters
    while n:
        n, r = divmod(n, 26)
        letters = chr(ord("A") + r) + letters
    return (prefix.upper() + letters)[:8]
