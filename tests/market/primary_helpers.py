# mypy: disable-error-code="attr-defined,misc,arg-type"
"""A listed project and its investors, built through the real services (issue 13)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.utils import timezone

from market.models import InvestorProfile, Offering, Ticker
from market.services import listing, offerings
from market.services.cash import deposit_wire_record
from payouts.selectors import account_balance


def bal(owner: str, purpose: str, currency: str = "usd") -> int:
    return account_balance(owner=owner, purpose=purpose, currency=currency)


def broker_dealer(username: str = "bea") -> Any:
    from tests.factories import StaffFactory

    user = StaffFactory(username=username)
    group, _ = Group.objects.get_or_create(name="Broker-dealer")
    group.permissions.add(Permission.objects.get(codename="broker_dealer"))
    user.groups.add(group)
    return type(user).objects.get(pk=user.pk)  # a fresh user: permissions are cached


def investor(username: str, *, cash: int = 0, accredited: bool = True, **profile: Any) -> Any:
    from tests.factories import UserFactory

    user = UserFactory(username=username)
    InvestorProfile.objects.create(
        user=user,
        legal_name=username.title(),
        country="US",
        accredited=accredited,
        kyc_status=InvestorProfile.Kyc.VERIFIED,
        kyc_reference=f"BD-KYC-{username}",
        **profile,
    )
    if cash:
        wire(user, cash)
    return user


_wires = iter(range(1, 10**6))


def wire(user: Any, amount: int) -> None:
    deposit_wire_record(
        investor=user,
        actor=broker_dealer(),
        amount=amount,
        currency="usd",
        reference=f"W-{next(_wires)}",
    )


def run_inflow(company_slug: str, amount: int) -> Any:
    """A company's inflow and a done distribution run that takes it."""
    from companies.models import Company
    from tests.factories import DistributionRunFactory, InflowFactory

    InflowFactory(company=Company.objects.get(slug=company_slug), amount=amount)
    return DistributionRunFactory()


@dataclass
class World:
    project: Any
    ann: Any
    ben: Any
    bea: Any
    ticker: Ticker


@pytest.fixture
def world(db) -> Any:
    """numpy (verified), stewards ann and ben (quorum: both), a table giving user:ann 20%;
    acme's table sends numpy everything and one run brought numpy $100; numpy listed as NUMPY
    (1 unit = 100 millibips, cap 10%), its series formed and the listing approved by bea (the
    broker-dealer). ``ledger_check`` must pass after the test."""
    from projects.models import Membership
    from tests.factories import CompanyFactory, ProjectFactory, UserFactory

    ann = UserFactory(username="ann")
    ben = UserFactory(username="ben")
    project = ProjectFactory(slug="numpy", steward=ann, table=[("user:ann", 2_000_000)])
    Membership.objects.create(project=project, user=ben, role="steward")
    CompanyFactory(
        slug="acme", owner=UserFactory(username="acme-owner"), table=[("project:numpy", 10_000_000)]
    )
    run_inflow("acme", 10_000)
    bea = broker_dealer()
    ticker = listing.ticker_list(
        project=project, actor=ann, symbol="NUMPY", unit_millibips=100, cap_millibips=1_000_000
    )
    listing.series_record(
        ticker=ticker,
        actor=bea,
        name="FairOSS Series LLC - Series NUMPY",
        status="formed",
        formation_date=timezone.now().date(),
        documents=[{"title": "Certificate of designation", "reference": "DE-2026-0042"}],
    )
    ticker = listing.ticker_approve(ticker=ticker, actor=bea)
    yield World(project, ann, ben, bea, ticker)
    call_command("ledger_check", stdout=StringIO())


def open_offering(
    w: World,
    *,
    kind: str = "fixed",
    millibips: int = 100_000,
    price: int = 100,
    minimum_raise: int = 50_000,
    days: int = 30,
) -> Offering:
    """An offering proposed by ann and approved by ben (so open)."""
    offering = offerings.offering_propose(
        ticker=w.ticker,
        actor=w.ann,
        kind=kind,
        millibips=millibips,
        price=price,
        minimum_raise=minimum_raise,
        deadline=timezone.now() + dt.timedelta(days=days),
        use_of_proceeds="Two years of maintenance.",
        risks="Money received may fall to nothing.",
    )
    assert offering.status == Offering.Status.PROPOSED
    offering = offerings.offering_vote(offering=offering, actor=w.ben, approve=True)
    assert offering.status == Offering.Status.OPEN
    return offering


def after_deadline(offering: Offering) -> dt.datetime:
    return offering.deadline + dt.timedelta(seconds=1)
