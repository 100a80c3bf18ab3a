"""The home page: what FairOSS is, the three ways in, and live totals that add up to the
ledger, in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db.models import Sum

from payouts.models import Account, Posting
from payouts.totals import PEOPLE_SHOWN_FROM, TOTALS_CACHE_KEY, site_totals, site_totals_compute
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    DistributionRunFactory,
    InflowFactory,
    ProjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _funded_world():
    """acme pays 100.00 into numpy (verified), whose table gives alice 30%; bob's scipy is
    unverified. A second payment of 25.00 arrives after the run."""
    alice = UserFactory(username="alice")
    ProjectFactory(slug="scipy", name="SciPy", unverified=True)
    ProjectFactory(slug="numpy", name="NumPy", table=[("user:alice", 3_000_000)])
    acme = CompanyFactory(slug="acme", name="Acme", table=[("project:numpy", 10_000_000)])
    AgreementFactory(company=acme)
    InflowFactory(company=acme, amount=10_000, currency="usd")
    DistributionRunFactory()
    InflowFactory(company=acme, amount=2_500, currency="usd")
    return alice


def test_a_newcomer_sees_what_faiross_is_and_three_ways_in(client):
    page = client.get("/").content.decode()
    assert "Open source, fairly paid." in page
    assert "I maintain a project" in page and "/projects/new/" in page
    assert "My company uses open source" in page and "/companies/new/" in page
    assert "I'm curious" in page and 'href="/projects/"' in page


def test_totals_add_up_to_the_ledger(client):
    _funded_world()
    totals = site_totals_compute()
    contributed = Posting.objects.filter(account__purpose=Account.Purpose.CONTRIBUTED)
    pool = Posting.objects.filter(account__purpose=Account.Purpose.POOL)
    assert (
        totals.money_in == {"usd": -contributed.aggregate(s=Sum("amount"))["s"]} == {"usd": 12_500}
    )
    # What the run took, not the payment that arrived after it.
    assert totals.distributed == {"usd": 12_500 - pool.aggregate(s=Sum("amount"))["s"]}
    assert totals.distributed == {"usd": 10_000}
    assert totals.paid_out == {}
    assert (totals.projects, totals.verified_projects, totals.companies) == (2, 1, 1)
    assert totals.people == 1

    page = client.get("/").content.decode()
    assert "$125.00" in page and "$100.00" in page
    assert "12500" not in page  # never cents


def test_the_people_count_never_points_at_a_person(client):
    _funded_world()
    page = client.get("/").content.decode()
    assert "fewer than 10" in page
    assert "alice" not in page
    assert site_totals_compute().people_shown is None
    assert PEOPLE_SHOWN_FROM == 10


def test_totals_are_cached_and_a_finished_run_refreshes_them():
    _funded_world()
    assert site_totals().distributed == {"usd": 10_000}
    assert cache.get(TOTALS_CACHE_KEY) is not None
    DistributionRunFactory()  # takes the 25.00 that waited
    assert cache.get(TOTALS_CACHE_KEY) is None
    assert site_totals().distributed == {"usd": 12_500}


@pytest.mark.parametrize("n", [5, 60])
def test_home_queries_do_not_grow_with_projects(client, django_assert_max_num_queries, n):
    _funded_world()
    ProjectFactory.create_batch(n)
    cache.clear()  # the worst case: the totals are read, not cached
    with django_assert_max_num_queries(8):
        response = client.get("/")
    assert response.status_code == 200
