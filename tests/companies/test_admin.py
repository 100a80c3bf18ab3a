"""Admin lists and detail pages show money and shares as people read them ("$2,000.50",
"1%"), never minor units or millibips (companies, payouts and disputes admin); the company
CSV export carries decimal amounts with their currency."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model

from companies import services
from tests.factories import (
    AgreementFactory,
    HoldFactory,
    InflowFactory,
    OmbudsmanFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    superuser = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(superuser)
    return client


@pytest.fixture
def declared(company, owner, staff):
    """A dividend agreement (1%) of ACME with a declaration of $2,000.50 (part: $20.00)."""
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    services.dividend_declare(
        agreement=agreement, actor=owner, amount=200_050, currency="usd", declared_on="2025-06-30"
    )
    return agreement


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def test_company_admin_shows_formatted_money_and_percent(admin_client, declared):
    declaration = declared.declarations.get()
    listing = page(admin_client, "/admin/companies/dividenddeclaration/")
    assert "$2,000.50" in listing and "$20.00" in listing
    assert "200050" not in listing and "200,050" not in listing
    detail = page(admin_client, f"/admin/companies/dividenddeclaration/{declaration.pk}/change/")
    assert "$2,000.50" in detail and "200050" not in detail
    invoices = page(admin_client, "/admin/companies/invoice/")
    assert "$20.00" in invoices
    invoice = page(admin_client, f"/admin/companies/invoice/{declaration.invoice_id}/change/")
    assert "$20.00" in invoice and ">2000<" not in invoice
    agreements = page(admin_client, "/admin/companies/agreement/")
    assert "1%" in agreements and "100000" not in agreements
    agreement = page(admin_client, f"/admin/companies/agreement/{declared.pk}/change/")
    assert "1%" in agreement and "100000" not in agreement


def test_payouts_admin_shows_formatted_money(admin_client, company):
    inflow = InflowFactory(company=company, amount=200_050, currency="eur")
    listing = page(admin_client, "/admin/payouts/inflow/")
    assert "€2,000.50" in listing and "200050" not in listing
    detail = page(admin_client, f"/admin/payouts/inflow/{inflow.pk}/change/")
    assert "€2,000.50" in detail and "200050" not in detail
    postings = page(admin_client, "/admin/payouts/posting/")
    assert "€2,000.50" in postings and "-€2,000.50" in postings
    transaction = page(
        admin_client, f"/admin/payouts/ledgertransaction/{inflow.ledger_transaction_id}/change/"
    )
    assert "€2,000.50" in transaction and "200050" not in transaction


def test_disputes_admin_shows_formatted_money(client):
    ombudsman = OmbudsmanFactory(username="olga")
    hold = HoldFactory(amount=200_050, placed_by=ombudsman)
    client.force_login(ombudsman)
    listing = page(client, "/admin/disputes/hold/")
    assert "$2,000.50" in listing and "200050" not in listing
    detail = page(client, f"/admin/disputes/hold/{hold.pk}/change/")
    assert "$2,000.50" in detail and "200050" not in detail


def test_company_csv_has_decimal_amounts_with_their_currency(client, owner, declared):
    client.force_login(owner)
    response = client.get("/companies/acme/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    invoice = next(r for r in rows if r["section"] == "invoice")
    assert (invoice["currency"], invoice["amount"]) == ("usd", "20.00")
    assert "amount_minor" not in rows[0]
