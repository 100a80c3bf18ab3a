"""The public escrow notice on a project page, and escrow returns (issue 11)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from payouts.connect import escrow
from payouts.distribution import runs
from payouts.inflows import inflow_record
from payouts.selectors import account_balance
from projects.models import Project
from tests.factories import CompanyFactory, ProjectFactory, UserFactory

pytest_plugins = ["tests.payouts.payout_fixtures"]


def bal(owner: str, purpose: str) -> int:
    return account_balance(owner=owner, purpose=purpose, currency="usd")


def run_now() -> None:
    run = runs.distribution_run_create()
    runs.distribution_run_execute(run_id=run.pk)


def notice_of(client, slug: str) -> str:
    page = client.get(f"/projects/{slug}/").content.decode()
    start = page.index('id="escrow-notice"')
    return page[start : page.index("</div>", start)]


@pytest.fixture
def two_tables(db, ledger_checked):
    """acme → alpha 50%, beta 50%; alpha → github:dana 10%; beta → github:dana 30%."""
    steward = UserFactory(username="steward")
    ProjectFactory(slug="alpha", steward=steward, table=[("github:dana", 1_000_000)])
    ProjectFactory(slug="beta", steward=steward, table=[("github:dana", 3_000_000)])
    return CompanyFactory(
        slug="acme",
        owner=steward,
        table=[("project:alpha", 5_000_000), ("project:beta", 5_000_000)],
    )


def test_a_project_page_shows_only_the_money_its_own_table_sent(two_tables, client):
    inflow_record(company=two_tables, amount=100_000, currency="usd", reference="W1")
    run_now()
    assert bal("github:dana", "escrow") == 20_000  # 5,000 from alpha, 15,000 from beta
    alpha = notice_of(client, "alpha")
    beta = notice_of(client, "beta")
    # Before the fix alpha's page said all $200.00 would return to alpha's reserve.
    assert "dana (GitHub)" in alpha and "$50.00" in alpha and "$200.00" not in alpha
    assert "dana (GitHub)" in beta and "$150.00" in beta and "$200.00" not in beta
    notices = escrow.escrow_notices_for_owner(owner_key="project:alpha")["identities"]
    assert [(n["identity"], n["amount"]) for n in notices] == [("github:dana", 5_000)]
    # And what the notice promised is what returns: each reserve gets its own table's part.
    later = timezone.now() + dt.timedelta(days=400)
    escrow.escrow_return_expired(now=later)
    assert bal("project:alpha", "reserve") - 45_000 == 5_000
    assert bal("project:beta", "reserve") - 35_000 == 15_000
    assert 'id="escrow-notice"' not in client.get("/projects/alpha/").content.decode()


def test_escrow_sent_by_a_now_unverified_table_is_not_returned_to_its_reserve(two_tables):
    inflow_record(company=two_tables, amount=100_000, currency="usd", reference="W1")
    run_now()
    # alpha loses its verification (say, an ownership dispute decided against its stewards).
    Project.objects.filter(slug="alpha").update(verified_at=None)
    escrow.escrow_return_expired(now=timezone.now() + dt.timedelta(days=400))
    # beta's part returned to beta's reserve; alpha's part still waits for dana (or for
    # alpha's verification) and never lands in an unproven reserve.
    assert bal("project:beta", "reserve") == 35_000 + 15_000
    assert bal("project:alpha", "reserve") == 45_000
    assert bal("github:dana", "escrow") == 5_000


def test_an_unverified_projects_own_escrow_never_returns(db, ledger_checked):
    ProjectFactory(slug="fresh", unverified=True)
    company = CompanyFactory(slug="acme", table=[("project:fresh", 10_000_000)])
    inflow_record(company=company, amount=1_234, currency="usd", reference="W1")
    run_now()
    assert escrow.escrow_return_expired(now=timezone.now() + dt.timedelta(days=4000)) == []
    assert bal("project:fresh", "escrow") == 1_234
    assert bal("company:acme", "reserve") == 0
