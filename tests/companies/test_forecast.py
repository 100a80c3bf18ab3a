"""Forecast: what the next run is expected to bring, from real agreements and tables."""

import datetime as dt

import pytest
from django.utils import timezone

from companies import forecast
from companies.models import Invoice
from payouts.distribution import estimate
from payouts.inflows import inflow_record
from projects.services.tables import EntryInput
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def E(recipient, millibips):
    return EntryInput(recipient=recipient, millibips=millibips)


@pytest.fixture
def expected(db):
    """acme → numpy 100%; numpy → alice 50%. acme has $1,000 received and not yet run, and
    an active pledge of 3 developers x $2,000 a year from today (its first invoice open)."""
    alice = UserFactory(username="alice")
    ProjectFactory(slug="numpy", steward=alice)
    TableVersionFactory(
        owner_key="project:numpy", actor=alice, entries=[E("user:alice", 5_000_000)]
    )
    acme = CompanyFactory(
        slug="acme", owner=UserFactory(username="olivia"), table=[E("project:numpy", 10_000_000)]
    )
    inflow_record(company=acme, amount=100_000, currency="usd", reference="W1")
    pledge = AgreementFactory(kind="pledge", company=acme, start_date=timezone.localdate())
    assert Invoice.objects.get(agreement=pledge).amount == 600_000
    return alice, acme, pledge


def test_expected_money_by_source(expected):
    _, _, pledge = expected
    today = timezone.localdate()
    lines = forecast.expected_inflows(until=today + dt.timedelta(days=400), today=today)
    assert sorted((i.source, i.owner, i.amount) for i in lines) == [
        ("invoiced", "company:acme", 600_000),
        ("pledge", "company:acme", 600_000),  # next year's period, not invoiced yet
        ("received", "company:acme", 100_000),
    ]
    pledge_line = next(i for i in lines if i.source == "pledge")
    assert pledge.reference in pledge_line.description
    # Until today only what is received and invoiced counts.
    assert {i.source for i in forecast.expected_inflows(until=today, today=today)} == {
        "invoiced",
        "received",
    }


def test_forecast_runs_the_engine_and_is_cached(expected, monkeypatch):
    alice, _, _ = expected
    calls = []
    real = estimate.estimate_compute

    def counting(**kwargs):
        calls.append(1)
        return real(**kwargs)

    monkeypatch.setattr(forecast, "estimate_compute", counting)
    # No run yet: the next run is expected now, so received + invoiced ($7,000) is split.
    person = forecast.forecast_for(recipient="user:alice")
    assert person.amounts == {"usd": 350_000} and person.measure == "credited"
    project = forecast.forecast_for(recipient="project:numpy")
    assert project.amounts == {"usd": 700_000} and project.measure == "received"
    assert forecast.forecast_for(recipient="user:nobody").amounts == {}
    assert len(calls) == 1  # one computation answered all three
    # A new table version changes the inputs: the next read computes again.
    TableVersionFactory(
        owner_key="project:numpy", actor=alice, entries=[E("user:alice", 2_500_000)]
    )
    assert forecast.forecast_for(recipient="user:alice").amounts == {"usd": 175_000}
    assert len(calls) == 2


def test_api_marks_estimate_and_keeps_people_private(expected, api_client):
    alice, _, _ = expected
    url = "/api/v1/forecast/?recipient=user:alice"
    assert api_client.get(url).status_code == 404
    api_client.force_authenticate(UserFactory(username="mallory"))
    assert api_client.get(url).status_code == 404
    api_client.force_authenticate(alice)
    data = api_client.get(url).json()
    assert data["estimate"] is True
    assert data["amounts"] == [{"currency": "usd", "amount": 350_000}]
    assert {(m["source"], m["amount"]) for m in data["money_in"]} == {
        ("received", 100_000),
        ("invoiced", 600_000),
    }
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/forecast/?recipient=project:numpy").status_code == 200


def test_page_says_estimate(expected, client):
    alice, _, _ = expected
    client.force_login(alice)
    html = client.get("/forecast/").content.decode()
    assert 'id="estimate-badge"' in html and "≈ $3,500.00" in html
    assert "not a promise" in html
    assert "INV-" not in html  # the line-by-line list is for staff
    page = client.get("/forecast/?recipient=project:numpy").content.decode()
    assert "≈ $7,000.00" in page
