"""Paying a run's ``market:<TICKER>`` money on to the holders of the ticker's units.

A run credits each ``market:<TICKER>`` entry's share to ``market:<TICKER>/escrow`` (money
rule 6's account for a recipient that is not a person). After the run is done
(``payouts.run_followups``), :func:`run_market_distribute` splits what that escrow holds among
the holders at the run's cutoff, pro rata to their units (held and reserved for sell orders
alike), with largest-remainder rounding (:func:`faiross.kernel.allocation.allocate`), exact to
the cent, and credits each holder's available balance, in ONE ledger transaction per ticker
and currency (key ``market_distribution:<run>:<ticker>:<currency>``). The holders' available
balance is paid out like any person's, or moved to market cash by the holder.

Running it twice for one run changes nothing (the key and a unique row); a crash between the
run and this step is repaired by :func:`market_distributions_sweep`.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from faiross.kernel.recipients import user_key
from payouts.ledger import Leg, accounts_get_or_create, ledger_post
from payouts.models import Account, DistributionRun, RunAllocation
from payouts.selectors import account_balance

from ..auction import split_by_units
from ..models import DistributionShare, LedgerKind, MarketDistribution, Ticker
from ..selectors import holders_at


@transaction.atomic
def _distribute(
    *, run: DistributionRun, ticker: Ticker, currency: str
) -> MarketDistribution | None:
    if MarketDistribution.objects.filter(run=run, ticker=ticker, currency=currency).exists():
        return None
    owner = ticker.recipient
    accounts_get_or_create(keys=[(owner, "escrow", currency)])
    Account.objects.select_for_update().get(owner=owner, purpose="escrow", currency=currency)
    amount = account_balance(owner=owner, purpose="escrow", currency=currency)
    holders = holders_at(ticker=ticker, at=run.cutoff)
    total_units = sum(u for _, u in holders)
    if amount <= 0 or total_units == 0:
        return None  # nothing to pay, or nobody held units then: it waits for the next run
    parts = split_by_units(amount=amount, holders=holders)
    users = User.objects.in_bulk([i for i, _ in holders])
    keys = {i: user_key(users[i].get_username()) for i, _ in holders}
    legs = [Leg(owner, "escrow", currency, -amount)] + [
        Leg(keys[i], "available", currency, cents) for i, cents in parts.items() if cents
    ]
    txn, _ = ledger_post(
        idempotency_key=f"market_distribution:{run.pk}:{ticker.pk}:{currency}",
        kind=LedgerKind.DISTRIBUTION,
        reference=f"run:{run.pk}",
        legs=legs,
        memo=f"run {run.pk}: {ticker.symbol} to {len(holders)} holders of {total_units} units",
    )
    distribution = MarketDistribution.objects.create(
        run=run, ticker=ticker, currency=currency, amount=amount, units=total_units, transaction=txn
    )
    DistributionShare.objects.bulk_create(
        [
            DistributionShare(distribution=distribution, investor_id=i, units=u, amount=parts[i])
            for i, u in holders
        ]
    )
    return distribution


def run_market_distribute(*, run_id: int) -> list[MarketDistribution]:
    """After a done run: pay every ``market:`` entry it credited on to the holders."""
    run = DistributionRun.objects.filter(pk=run_id, status=DistributionRun.Status.DONE).first()
    if run is None:
        return []
    credited = (
        RunAllocation.objects.filter(run=run, recipient__startswith="market:")
        .values_list("recipient", "currency")
        .distinct()
    )
    out = []
    for recipient, currency in sorted(credited):
        ticker = Ticker.objects.filter(symbol=recipient.partition(":")[2]).first()
        if ticker is None:
            continue
        made = _distribute(run=run, ticker=ticker, currency=currency)
        if made is not None:
            out.append(made)
    return out


def market_distributions_sweep() -> int:
    """Pay every done run's ``market:`` money not paid on yet (after a crash). Returns how many
    distributions it made."""
    runs = (
        RunAllocation.objects.filter(recipient__startswith="market:", run__status="done")
        .values_list("run_id", flat=True)
        .distinct()
    )
    return sum(len(run_market_distribute(run_id=r)) for r in sorted(set(runs)))
