"""The market's pages and API v1 over the primary flow: an investor commits through the
page (reviewing the amount first) and through the API; the pages show the result."""

from __future__ import annotations

import pytest

from market.models import Commitment
from market.services import offerings

from .primary_helpers import after_deadline, investor, open_offering, run_inflow, world

__all__ = ["world"]


@pytest.fixture
def offering(world):
    return open_offering(world)


def test_the_pages_show_the_ticker_and_its_offering(client, world, offering):
    assert "NUMPY" in client.get("/market/").content.decode()
    page = client.get("/market/NUMPY/").content.decode()
    assert "FairOSS Series LLC - Series NUMPY" in page and "Offering 1" in page
    page = client.get(f"/market/offerings/{offering.pk}/").content.decode()
    assert "Two years of maintenance." in page and "$1.00 a unit" in page


def test_committing_through_the_page_shows_the_amount_before_confirming(client, world, offering):
    ivy = investor("ivy", cash=100_000)
    client.force_login(ivy)
    form = {"action": "commit", "units": "600", "disclosure_version": "1", "confirm_read": "on"}
    review = client.post(f"/market/offerings/{offering.pk}/", form).content.decode()
    assert "$600.00" in review and "Confirm $600.00" in review
    assert not Commitment.objects.exists()
    done = client.post(f"/market/offerings/{offering.pk}/", {**form, "step": "confirm"})
    assert done.status_code == 302
    commitment = Commitment.objects.get()
    assert (commitment.units, commitment.amount) == (600, 60_000)
    dashboard = client.get("/market/me/").content.decode()
    assert "$400.00" in dashboard  # cash left
    # Cancel from the page.
    client.post(f"/market/commitments/{commitment.pk}/cancel/")
    commitment.refresh_from_db()
    assert commitment.status == Commitment.Status.CANCELLED


def test_api_commit_holdings_cash_and_statement(client, api_client, world, offering):
    ivy = investor("ivy", cash=100_000)
    api_client.force_authenticate(ivy)
    listed = api_client.get("/api/v1/market/tickers/").json()
    assert [t["symbol"] for t in listed] == ["NUMPY"]
    detail = api_client.get(f"/api/v1/market/offerings/{offering.pk}/").json()
    assert detail["disclosure_version"] == 1 and detail["units"] == 1_000
    bad = api_client.post(
        f"/api/v1/market/offerings/{offering.pk}/commit/",
        {"units": "600", "disclosure_version": 1},
        format="json",
    )
    assert bad.status_code == 400 and "units" in bad.json()
    made = api_client.post(
        f"/api/v1/market/offerings/{offering.pk}/commit/",
        {"units": 700, "disclosure_version": 1},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["amount"] == 70_000
    assert api_client.get("/api/v1/market/cash/").json()["cash"] == 30_000
    offerings.offering_close(offering=offering, now=after_deadline(offering))
    assert api_client.get("/api/v1/market/holdings/").json() == [
        {"ticker": "NUMPY", "units": 700, "reserved_units": 0}
    ]
    assert api_client.get("/api/v1/market/commitments/").json()[0]["status"] == "allocated"
    run_inflow("acme", 1_000_000)
    client.force_login(ivy)
    year = offering.deadline.year
    csv_text = client.get(f"/market/me/statements/{year}.csv").content.decode()
    assert "bought in offering" in csv_text
    pdf = client.get(f"/market/me/statements/{year}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_others_cannot_see_or_cancel_a_commitment(api_client, world, offering):
    ivy = investor("ivy", cash=100_000)
    joe = investor("joe")
    c = offerings.commitment_create(offering=offering, investor=ivy, units=1, disclosure_version=1)
    api_client.force_authenticate(joe)
    assert api_client.get("/api/v1/market/commitments/").json() == []
    assert api_client.post(f"/api/v1/market/commitments/{c.pk}/cancel/").status_code == 404
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/market/holdings/").status_code in (401, 403)
