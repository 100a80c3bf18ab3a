"""Company impact report: per year what the company paid and where it went, exactly."""

import datetime as dt

import pytest

from companies import impact
from payouts.distribution import runs
from payouts.inflows import inflow_record
from projects.services.tables import EntryInput
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)
from tests.pdf_helpers import check_pdf, pdf_text

pytestmark = pytest.mark.django_db


def E(recipient, millibips):
    return EntryInput(recipient=recipient, millibips=millibips)


def at(year, month):
    return dt.datetime(year, month, 1, 12, tzinfo=dt.UTC)


def run_all():
    run = runs.distribution_run_create()
    return runs.distribution_run_execute(run_id=run.pk)


@pytest.fixture
def paid(company):
    """ACME (DE): its table numpy 60%, scipy 30% (10% kept); numpy → alice 50%, github:bob
    20%. ACME pays $1,000 in 2025 (run 1, with $10,000 of beta's), $500 in March 2026 (run 2)
    and $200 in November 2026 (not run yet); a pledge of 5 developers since 2026."""
    company.country = "DE"
    company.save(update_fields=["country"])
    alice = UserFactory(username="alice")
    ProjectFactory(slug="numpy", steward=alice)
    ProjectFactory(slug="scipy", steward=alice)
    TableVersionFactory(
        owner_key="project:numpy",
        actor=alice,
        entries=[E("user:alice", 5_000_000), E("github:bob", 2_000_000)],
    )
    TableVersionFactory(
        owner_key=company.owner_key,
        entries=[E("project:numpy", 6_000_000), E("project:scipy", 3_000_000)],
    )
    beta = CompanyFactory(slug="beta", owner=UserFactory(), table=[E("project:numpy", 10_000_000)])
    inflow_record(
        company=company, amount=100_000, currency="usd", reference="A25", received_at=at(2025, 6)
    )
    inflow_record(
        company=beta, amount=1_000_000, currency="usd", reference="B25", received_at=at(2025, 6)
    )
    run_all()
    inflow_record(
        company=company, amount=50_000, currency="usd", reference="A26", received_at=at(2026, 3)
    )
    run_all()
    inflow_record(
        company=company, amount=20_000, currency="usd", reference="A26b", received_at=at(2026, 11)
    )
    AgreementFactory(kind="pledge", company=company, developers=5, start_date=dt.date(2026, 1, 1))
    return company


def test_year_figures_are_exact_and_add_up(paid):
    (y25,) = impact.impact_year(company=paid, year=2025)
    assert (y25.paid, y25.distributed, y25.not_distributed) == (100_000, 100_000, 0)
    assert y25.own_reserve == 10_000 and y25.to_open_source == 90_000
    assert (y25.to_people, y25.people, y25.people_waiting, y25.to_people_waiting) == (
        42_000,  # alice 30,000 + bob 12,000 (beta's money is not ACME's)
        2,
        1,
        12_000,
    )
    assert y25.kept_by_projects == 18_000 + 30_000 and y25.projects_count == 2
    assert [(p.key, p.received, p.kept) for p in y25.projects] == [
        ("project:numpy", 60_000, 18_000),
        ("project:scipy", 30_000, 30_000),
    ]
    parts = y25.to_people + y25.kept_by_projects + y25.in_project_escrow + y25.own_reserve
    assert parts + y25.other == y25.distributed
    (y26,) = impact.impact_year(company=paid, year=2026)
    assert (y26.paid, y26.distributed, y26.not_distributed) == (70_000, 50_000, 20_000)
    assert y26.to_open_source == 45_000 and y26.per_person == 10_500  # (15,000 + 6,000) / 2
    report = impact.impact_report(company=paid, year=2026)
    assert report.developers == 5 and report.developers_source == "pledge"
    assert report.per_developer(report.lines[0]) == 9_000  # $450 / 5 developers
    assert report.countries == {"company": "DE", "people": "unknown", "projects": "unknown"}
    older = impact.impact_report(company=paid, year=2025)
    assert older.developers is None and older.per_developer(older.lines[0]) is None


def test_page_only_for_members_and_staff(paid, client, viewer, outsider, staff):
    url = f"/companies/{paid.slug}/impact/?year=2026"
    assert client.get(url).status_code == 302  # sign in first
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(viewer)
    html = client.get(url).content.decode()
    assert 'id="oss-usd">$450.00' in html and 'id="per-dev-usd">$90.00' in html
    assert 'id="people-usd">2' in html and "alice" not in html  # people counted, not named
    assert "people and projects unknown" in html
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_pdf_has_the_figures(paid, client, viewer):
    client.force_login(viewer)
    response = client.get(f"/companies/{paid.slug}/impact/2025.pdf")
    assert response["Content-Type"] == "application/pdf"
    check_pdf(response.content)
    text = pdf_text(response.content)
    assert "Impact report 2025" in text and paid.name in text
    assert "$900.00" in text and "$1,000.00" in text and "unknown" in text


def test_open_source_pledge_json(paid, client, viewer, outsider):
    client.force_login(outsider)
    assert client.get(f"/companies/{paid.slug}/impact/pledge.json").status_code == 404
    client.force_login(viewer)
    data = client.get(f"/companies/{paid.slug}/impact/pledge.json").json()
    assert data["name"] == paid.name
    assert {"description", "shortDescription", "url", "joinDate", "urlLearnMore"} <= set(data)
    by_year = {r["year"]: r for r in data["annualReports"]}
    assert set(by_year) == {"2025", "2026"}
    assert by_year["2026"]["usdAmountPaid"] == 450.0 == by_year["2026"]["payments"]
    assert by_year["2026"]["averageNumberOfDevs"] == 5.0
    assert by_year["2026"]["dateYearEnding"] == "2026-12-31"
    assert by_year["2025"]["averageNumberOfDevs"] is None  # no pledge then: not guessed
    given = client.get(f"/companies/{paid.slug}/impact/pledge.json?developers=10").json()
    assert {r["averageNumberOfDevs"] for r in given["annualReports"]} == {10.0}
    assert data["faiross"]["country"] == "DE"
