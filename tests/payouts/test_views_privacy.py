"""A distribution run's page is public only as project-level aggregates (money rule 9):
people are counted and summed, never named; staff see the full report."""

import pytest

from tests.factories import (
    CompanyFactory,
    DistributionRunFactory,
    InflowFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
    owner_actor,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(db):
    steward = UserFactory(username="steward-r")
    UserFactory(username="rita")
    ProjectFactory(slug="lib", steward=steward)
    TableVersionFactory(
        owner_key="project:lib",
        actor=steward,
        entries=[("user:rita", 3_000_000), ("email:eve.secret@example.org", 1_000_000)],
    )
    company = CompanyFactory(slug="payer")
    TableVersionFactory(
        owner_key=company.owner_key,
        actor=owner_actor(company.owner_key),
        entries=[("project:lib", 10_000_000)],
    )
    InflowFactory(company=company, amount=100_000)
    return DistributionRunFactory()


def test_public_run_page_names_no_person(client, run, other_user):
    for viewer in (None, other_user):
        if viewer:
            client.force_login(viewer)
        page = client.get(f"/payouts/runs/{run.pk}/").content.decode()
        assert "user:rita" not in page and "eve.secret" not in page
        assert "$300.00" not in page and "$100.00" not in page  # each person's amount
        assert "people (2)" in page and "$400.00" in page  # counted and summed exactly
        assert "project:lib" in page and "$600.00" in page  # the project's reserve


def test_staff_see_the_per_person_report(client, run, staff):
    client.force_login(staff)
    page = client.get(f"/payouts/runs/{run.pk}/").content.decode()
    # Named as people read them (the recipients table and the Sankey), the address unmasked.
    assert '<td class="mono small">rita</td>' in page and "$300.00" in page
    assert "Lib → rita: $300.00" in page
    assert "eve.secret@example.org" in page


def test_run_list_shows_money_not_cents(client, run):
    page = client.get("/payouts/runs/").content.decode()
    assert "$1,000.00" in page and "100000 usd" not in page
