"""The primary market end to end through the services: list, authorize, commit, cancel,
close, distribute (issue 13). ``ledger_check`` passes after every test (the ``world``
fixture), which includes the market's units checks."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from market.models import Commitment, Holding, MarketDistribution, Offering, Ticker, UnitMovement
from market.services import listing, offerings
from market.services.distribution import market_distributions_sweep
from projects.models import TableVersion
from projects.services.tables import EntryInput, table_propose

from .primary_helpers import after_deadline, bal, investor, open_offering, run_inflow, world

__all__ = ["world"]


def commit(offering, user, units, limit=None):
    return offerings.commitment_create(
        offering=offering,
        investor=user,
        units=units,
        price_limit=limit,
        disclosure_version=offerings.disclosure_current(offering=offering).version,
    )


def test_fixed_price_offering_from_commitment_to_a_paid_distribution(world):
    ivy = investor("ivy", cash=100_000)
    joe = investor("joe", cash=50_000)
    kim = investor("kim", cash=30_000)
    offering = open_offering(world)  # 1,000 units of 100 millibips at $1.00, minimum $500
    assert offering.units == 1_000

    c_ivy = commit(offering, ivy, 600)
    c_joe = commit(offering, joe, 300)
    c_kim = commit(offering, kim, 100)
    assert bal("user:ivy", "cash") == 40_000
    assert bal(f"offering:{offering.pk}", "escrow") == 100_000
    with pytest.raises(ValidationError, match="0 units are left"):
        commit(offering, ivy, 1)
    offerings.commitment_cancel(commitment=c_joe, actor=joe)
    assert bal("user:joe", "cash") == 50_000
    c_kim2 = commit(offering, kim, 200)  # the units joe freed

    closed = offerings.offering_close(offering=offering, now=after_deadline(offering))
    assert closed.status == Offering.Status.SUCCEEDED
    assert (closed.units_sold, closed.clearing_price, closed.proceeds) == (900, 100, 90_000)
    assert closed.fee == 90_000 * 300 // 10_000 == 2_700
    assert bal(f"offering:{offering.pk}", "escrow") == 0
    assert bal("project:numpy", "reserve") >= 90_000 - 2_700
    assert bal("platform", "fees") == 2_700
    for c in (c_ivy, c_kim, c_kim2):
        c.refresh_from_db()
        assert c.status == Commitment.Status.ALLOCATED and c.amount_refunded == 0
    assert Holding.objects.get(investor=ivy).units == 600
    assert Holding.objects.get(investor=kim).units == 300
    assert UnitMovement.objects.filter(kind="issue").count() == 2

    # The table's new version names market:NUMPY for the 900 units (90,000 millibips).
    version = closed.table_version
    assert version.status == TableVersion.Status.ACTIVE
    assert dict(version.entries.values_list("recipient", "millibips")) == {
        "user:ann": 2_000_000,
        "market:NUMPY": 90_000,
    }
    # Closing twice changes nothing.
    assert offerings.offering_close(offering=closed, now=after_deadline(offering)).pk == closed.pk
    assert Holding.objects.get(investor=ivy).units == 600

    # A run: acme sends numpy $10,000; market:NUMPY's 0.9% is $90.00, split 600:300.
    ivy_before, kim_before = bal("user:ivy", "available"), bal("user:kim", "available")
    run = run_inflow("acme", 1_000_000)
    dist = MarketDistribution.objects.get(run=run, ticker=world.ticker)
    assert (dist.amount, dist.units) == (9_000, 900)
    assert bal("user:ivy", "available") - ivy_before == 6_000
    assert bal("user:kim", "available") - kim_before == 3_000
    assert bal("market:NUMPY", "escrow") == 0
    assert market_distributions_sweep() == 0  # nothing left to pay on


def test_a_distribution_is_exact_to_the_cent_by_largest_remainder(world):
    a, b, c = (investor(n, cash=1_000) for n in ("amy", "bob", "cal"))
    offering = open_offering(world, millibips=300, price=1, minimum_raise=1)  # 3 units
    for user in (a, b, c):
        commit(offering, user, 1)
    offerings.offering_close(offering=offering, now=after_deadline(offering))
    run = run_inflow("acme", 1_000_000)  # market:NUMPY gets 300 millibips of $10,000: $3.00 ...
    dist = MarketDistribution.objects.get(run=run)
    shares = sorted(dist.shares.values_list("amount", flat=True))
    assert sum(shares) == dist.amount
    assert max(shares) - min(shares) <= 1


def test_minimum_not_met_refunds_everyone(world):
    ivy = investor("ivy", cash=10_000)
    offering = open_offering(world, minimum_raise=50_000)
    commit(offering, ivy, 100)
    closed = offerings.offering_close(offering=offering, now=after_deadline(offering))
    assert closed.status == Offering.Status.FAILED
    assert bal("user:ivy", "cash") == 10_000
    assert not Holding.objects.exists()
    assert closed.table_version is None
    assert not world.project.ticker.offerings.filter(status="succeeded").exists()


def test_auction_clears_at_one_price_pro_rata_at_the_margin(world):
    ivy = investor("ivy", cash=100_000)
    joe = investor("joe", cash=100_000)
    kim = investor("kim", cash=100_000)
    # 1,000 units, lowest bid $0.50.
    offering = open_offering(world, kind="auction", price=50, minimum_raise=10_000)
    commit(offering, ivy, 500, limit=120)  # above the clearing price: filled
    commit(offering, joe, 600, limit=80)  # at the margin
    commit(offering, kim, 300, limit=80)  # at the margin
    commit(offering, ivy, 200, limit=60)  # below: refunded
    closed = offerings.offering_close(offering=offering, now=after_deadline(offering))
    assert closed.clearing_price == 80 and closed.units_sold == 1_000
    # 500 left at $0.80 shared 600:300 -> 333.33 : 166.67 -> 333 and 167 (largest remainder).
    assert Holding.objects.get(investor=ivy).units == 500
    assert Holding.objects.get(investor=joe).units == 333
    assert Holding.objects.get(investor=kim).units == 167
    # Everyone pays the clearing price; the rest of their escrow comes back.
    assert bal("user:ivy", "cash") == 100_000 - 500 * 80
    assert bal("user:joe", "cash") == 100_000 - 333 * 80
    assert closed.proceeds == 1_000 * 80


def test_commitments_are_cancellable_only_until_48_hours_before_the_deadline(world):
    import datetime as dt

    from django.utils import timezone

    ivy = investor("ivy", cash=10_000)
    offering = open_offering(world, days=22)
    c = commit(offering, ivy, 10)
    Offering.objects.filter(pk=offering.pk).update(deadline=timezone.now() + dt.timedelta(hours=47))
    with pytest.raises(ValidationError, match="48 hours"):
        offerings.commitment_cancel(commitment=c, actor=ivy)
    with pytest.raises(PermissionDenied):
        offerings.commitment_cancel(commitment=c, actor=world.ann)


def test_a_material_change_needs_reconfirmation_or_the_commitment_is_refunded(world):
    ivy = investor("ivy", cash=60_000)
    joe = investor("joe", cash=60_000)
    offering = open_offering(world, minimum_raise=10_000)
    c_ivy = commit(offering, ivy, 500)
    c_joe = commit(offering, joe, 200)
    d2 = offerings.disclosure_revise(
        offering=offering,
        actor=world.ben,
        use_of_proceeds="Hire a maintainer.",
        risks="New: the maintainer may leave.",
        material=True,
    )
    assert d2.version == 2
    c_ivy.refresh_from_db()
    assert c_ivy.status == Commitment.Status.RECONFIRM
    with pytest.raises(ValidationError, match="version 2"):
        offerings.commitment_create(offering=offering, investor=ivy, units=1, disclosure_version=1)
    offerings.commitment_reconfirm(commitment=c_ivy, actor=ivy, disclosure_version=2)
    closed = offerings.offering_close(offering=offering, now=after_deadline(offering))
    assert closed.units_sold == 500  # joe did not reconfirm: refunded
    c_joe.refresh_from_db()
    assert c_joe.status == Commitment.Status.REFUNDED and bal("user:joe", "cash") == 60_000


def test_offering_rules(world):
    import datetime as dt

    from django.utils import timezone

    def propose(**kw):
        args = dict(
            ticker=world.ticker,
            actor=world.ann,
            kind="fixed",
            millibips=100_000,
            price=100,
            minimum_raise=0,
            deadline=timezone.now() + dt.timedelta(days=30),
            use_of_proceeds="x",
            risks="y",
        )
        args.update(kw)
        return offerings.offering_propose(**args)

    with pytest.raises(ValidationError, match="21 days"):
        propose(deadline=timezone.now() + dt.timedelta(days=20))
    with pytest.raises(ValidationError, match="cap"):
        propose(millibips=1_000_100)
    with pytest.raises(ValidationError, match="whole units"):
        propose(millibips=150)
    with pytest.raises(PermissionDenied):
        propose(actor=investor("ivy"))
    world.ticker.series.status = "planned"
    world.ticker.series.save()
    with pytest.raises(ValidationError, match="not formed"):
        propose()
    world.ticker.series.status = "formed"
    world.ticker.series.save()
    o = propose()
    with pytest.raises(ValidationError, match="waiting or open"):
        propose()
    # ben rejects: with 2 stewards and a quorum of 2, it can no longer pass.
    o = offerings.offering_vote(offering=o, actor=world.ben, approve=False)
    assert o.status == Offering.Status.REJECTED


def test_halted_or_pending_tickers_take_no_commitments(world):
    ivy = investor("ivy", cash=10_000)
    offering = open_offering(world)
    listing.ticker_halt(ticker=world.ticker, actor=world.bea, reason="News pending")
    with pytest.raises(ValidationError, match="halted"):
        commit(offering, ivy, 1)
    with pytest.raises(PermissionDenied):
        listing.ticker_resume(ticker=world.ticker, actor=world.ann)
    listing.ticker_resume(ticker=world.ticker, actor=world.bea)
    commit(offering, ivy, 1)


def test_kyc_and_the_non_accredited_limit_are_checked_at_commitment(world):
    from market.models import InvestorProfile

    poor = investor(
        "pat", cash=500_000, accredited=False, annual_income=3_000_000, net_worth=1_000_000
    )
    # Limit: max($2,500, 5% of $30,000 = $1,500) = $2,500.
    offering = open_offering(world, millibips=1_000_000, price=100)
    commit(offering, poor, 2_000)
    with pytest.raises(ValidationError, match="12-month investment limit"):
        commit(offering, poor, 501)
    commit(offering, poor, 500)
    unknown = investor("una", cash=10_000)
    InvestorProfile.objects.filter(user=unknown).update(kyc_status="pending", kyc_reference="")
    with pytest.raises(ValidationError, match="KYC"):
        commit(offering, unknown, 1)


def test_cash_cannot_be_spent_twice(world):
    ivy = investor("ivy", cash=1_000)
    offering = open_offering(world)
    commit(offering, ivy, 10)
    with pytest.raises(ValidationError, match="cash balance"):
        commit(offering, ivy, 1)


def test_listing_rules(db):
    from tests.factories import ProjectFactory, UserFactory

    ann = UserFactory(username="ann")
    fresh = ProjectFactory(slug="fresh", steward=ann)
    with pytest.raises(ValidationError, match="brought it money"):
        listing.ticker_list(project=fresh, actor=ann, symbol="FRESH")
    with pytest.raises(ValidationError, match="verified"):
        listing.ticker_list(
            project=ProjectFactory(slug="unv", steward=ann, unverified=True),
            actor=ann,
            symbol="UNV",
        )
    for bad, why in (
        ("ab", "capital"),
        ("A", "capital"),
        ("TOOLONGXX", "capital"),
        ("ADMIN", "reserved"),
    ):
        with pytest.raises(ValidationError, match=why):
            listing.symbol_clean(bad)
    with pytest.raises(PermissionDenied):
        listing.ticker_list(project=fresh, actor=UserFactory(username="zed"), symbol="FRESH")


def test_the_broker_dealer_alone_approves_and_a_symbol_is_unique(world):
    from tests.factories import ProjectFactory, StaffFactory

    other = ProjectFactory(slug="scipy", steward=world.ann)
    from payouts.models import ProjectReceived

    ProjectReceived.objects.create(project=other, funder="", currency="usd", amount=1)
    with pytest.raises(ValidationError, match="taken"):
        listing.ticker_list(project=other, actor=world.ann, symbol="NUMPY")
    t = listing.ticker_list(project=other, actor=world.ann, symbol="SCIPY")
    with pytest.raises(PermissionDenied):
        listing.ticker_approve(ticker=t, actor=StaffFactory(username="plainstaff"))
    assert listing.ticker_approve(ticker=t, actor=world.bea).status == Ticker.Status.APPROVED


def test_stewards_cannot_write_market_entries_themselves(world):
    ivy = investor("ivy", cash=100_000)
    offering = open_offering(world)
    commit(offering, ivy, 600)
    offerings.offering_close(offering=offering, now=after_deadline(offering))
    owner = world.project.owner_key
    with pytest.raises(ValidationError, match="only when an offering closes"):
        table_propose(owner_key=owner, actor=world.ann, entries=[EntryInput("user:ann", 2_000_000)])
    with pytest.raises(ValidationError, match="only when an offering closes"):
        table_propose(
            owner_key=owner,
            actor=world.ann,
            entries=[EntryInput("user:ann", 2_000_000), EntryInput("market:NUMPY", 70_000)],
        )
    # Keeping the entry as it is: fine.
    table_propose(
        owner_key=owner,
        actor=world.ann,
        entries=[EntryInput("user:ann", 1_000_000), EntryInput("market:NUMPY", 60_000)],
    )
