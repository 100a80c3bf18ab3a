"""Bad input to every companies write endpoint: a 400 naming the field, nothing stored.

The input serializers (companies/serializers.py, faiross/kernel/api_fields.py) parse each
call before a service runs: wrong JSON types, missing fields, NUL characters, numbers and
dates out of range and bad recipients never reach a service and never become a 500.
"""

import datetime as dt

import pytest

from companies.models import (
    Agreement,
    CarryDistribution,
    Company,
    CompanyInvitation,
    DividendDeclaration,
    Invoice,
    LiquidityEvent,
)
from payouts.models import Inflow
from projects.models import TableVersion
from tests.api_helpers import as_user
from tests.factories import AGREEMENT_TERMS, AgreementFactory, InvoiceFactory

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]
pytestmark = pytest.mark.django_db

NUL = "a\x00b"


def assert_400_naming(response, field):
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    # A NUL character is refused by the JSON parser at its exact place: entries[0].recipient.
    names = [k for k in body if k == field or k.startswith((f"{field}[", f"{field}."))]
    assert names, body
    messages = [m for name in names for m in body[name]]
    assert isinstance(messages, list) and messages, body
    assert all(isinstance(m, str) for m in messages), body
    return messages


# --- companies ----------------------------------------------------------------------------

GOOD_COMPANY = {"slug": "initech", "name": "Initech"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": 5}, "slug"),
        ({"slug": ["initech"]}, "slug"),
        ({"slug": None}, "slug"),
        ({"slug": NUL}, "slug"),
        ({"slug": "x" * 51}, "slug"),
        ({"name": True}, "name"),
        ({"name": {"legal": "Initech"}}, "name"),
        ({"name": NUL}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"kind": "bank"}, "kind"),
        ({"kind": ["startup"]}, "kind"),
        ({"country": 49}, "country"),
        ({"country": "DEU"}, "country"),
        ({"country": "D\x00"}, "country"),
        ({"website": ["https://initech.example"]}, "website"),
        ({"website": "https://initech.example/\x00"}, "website"),
        ({"require_mfa": "yes"}, "require_mfa"),
        ({"require_mfa": 1}, "require_mfa"),
        ({"require_mfa": "true"}, "require_mfa"),
        ({"require_mfa": None}, "require_mfa"),
    ],
)
def test_company_create_bad_input(owner, changes, field):
    r = as_user(owner).post("/api/v1/companies/", GOOD_COMPANY | changes, format="json")
    assert_400_naming(r, field)
    assert not Company.objects.exists()


@pytest.mark.parametrize("missing", ["slug", "name"])
def test_company_create_missing_field(owner, missing):
    body = {k: v for k, v in GOOD_COMPANY.items() if k != missing}
    r = as_user(owner).post("/api/v1/companies/", body, format="json")
    assert "required" in assert_400_naming(r, missing)[0]
    assert not Company.objects.exists()


def test_company_create_body_not_an_object(owner):
    r = as_user(owner).post("/api/v1/companies/", [GOOD_COMPANY], format="json")
    assert_400_naming(r, "non_field_errors")
    assert not Company.objects.exists()


def test_company_create_good_input_still_works(owner):
    r = as_user(owner).post(
        "/api/v1/companies/", GOOD_COMPANY | {"require_mfa": False}, format="json"
    )
    assert r.status_code == 201, r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": NUL}, "name"),
        ({"kind": "bank"}, "kind"),
        ({"country": ["US"]}, "country"),
        ({"website": NUL}, "website"),
        ({"require_mfa": "false"}, "require_mfa"),
        ({"require_mfa": 0}, "require_mfa"),
    ],
)
def test_company_patch_bad_input(company, owner, body, field):
    before = Company.objects.values().get(pk=company.pk)
    r = as_user(owner).patch("/api/v1/companies/acme/", body, format="json")
    assert_400_naming(r, field)
    assert Company.objects.values().get(pk=company.pk) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "viewer"}, "target"),
        ({"target": 5, "role": "viewer"}, "target"),
        ({"target": ["newbie"], "role": "viewer"}, "target"),
        ({"target": NUL, "role": "viewer"}, "target"),
        ({"target": "x" * 255, "role": "viewer"}, "target"),
        ({"target": "newbie"}, "role"),
        ({"target": "newbie", "role": "admin"}, "role"),
        ({"target": "newbie", "role": ["viewer"]}, "role"),
        ({"target": "newbie", "role": "viewer\x00"}, "role"),
    ],
)
def test_invitation_bad_input(company, owner, body, field):
    r = as_user(owner).post("/api/v1/companies/acme/invitations/", body, format="json")
    assert_400_naming(r, field)
    assert not CompanyInvitation.objects.exists()


# --- the company table (the projects' table views, shared) --------------------------------


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([{"recipient": "robot:x", "millibips": 5}], "is not a recipient"),
        ([{"recipient": "project:numpy", "millibips": "5"}], "whole number"),
        ([{"recipient": "project:numpy", "millibips": 10_000_001}], "more than 100%"),
        ([{"recipient": "email:nope", "millibips": 5}], "valid email"),
        ([{"recipient": "github:oct\x00cat", "millibips": 5}], "NUL"),
        ("project:numpy", "must be a list"),
    ],
)
def test_company_table_bad_entries(company, owner, dependency, entries, words):
    r = as_user(owner).post(
        "/api/v1/companies/acme/table/versions/", {"entries": entries}, format="json"
    )
    assert words in " ".join(assert_400_naming(r, "entries"))
    assert not TableVersion.objects.exists()


# --- agreements ---------------------------------------------------------------------------


def terms(kind, **changes):
    return (
        {"kind": kind, "currency": "usd", "start_date": "2025-01-01"}
        | AGREEMENT_TERMS[kind]
        | changes
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "kind"),
        ({"kind": "loan"}, "kind"),
        ({"kind": ["pledge"]}, "kind"),
        ({"kind": None}, "kind"),
        # common terms
        (terms("pledge", currency=840), "currency"),
        (terms("pledge", currency="doge"), "currency"),
        (terms("pledge", currency="us\x00"), "currency"),
        (terms("pledge", start_date=20250101), "start_date"),
        (terms("pledge", start_date="2025-13-01"), "start_date"),
        (terms("pledge", start_date="2025-01-01\x00"), "start_date"),
        (terms("pledge", start_date=None), "start_date"),
        (terms("pledge", end_date=["2026-01-01"]), "end_date"),
        (terms("pledge", end_date="someday"), "end_date"),
        (terms("pledge", surprise=1), "non_field_errors"),
        # pledge
        (terms("pledge", amount="200000"), "amount"),
        (terms("pledge", amount=True), "amount"),
        (terms("pledge", amount=20.5), "amount"),
        (terms("pledge", amount=0), "amount"),
        (terms("pledge", amount=10**12 + 1), "amount"),
        (terms("pledge", developers="3"), "developers"),
        (terms("pledge", developers=0), "developers"),
        (terms("pledge", developers=100_001), "developers"),
        (terms("pledge", period="fortnightly"), "period"),
        (terms("pledge", period=12), "period"),
        ({k: v for k, v in terms("pledge").items() if k != "amount"}, "amount"),
        # dividend
        (terms("dividend", share_millibips="100000"), "share_millibips"),
        (terms("dividend", share_millibips=0), "share_millibips"),
        (terms("dividend", share_millibips=5_000_001), "share_millibips"),
        (terms("dividend", share_millibips=[100_000]), "share_millibips"),
        (terms("dividend", amount=5), "non_field_errors"),
        # equity
        (terms("equity", share_count="5000"), "share_count"),
        (terms("equity", share_count=10**15 + 1), "share_count"),
        (terms("equity", share_class=5), "share_class"),
        (terms("equity", share_class=NUL), "share_class"),
        (terms("equity", share_class="x" * 61), "share_class"),
        (terms("equity", cliff_months=-1), "cliff_months"),
        (terms("equity", vesting_months=121), "vesting_months"),
        (terms("equity", vesting_months=True), "vesting_months"),
        (terms("equity", time_vesting_millibips=10_000_001), "time_vesting_millibips"),
        (terms("equity", milestones="Series A"), "milestones"),
        (terms("equity", milestones=[{"title": 5, "millibips": 2_500_000}]), "milestones"),
        (terms("equity", milestones=[{"title": NUL, "millibips": 2_500_000}]), "milestones"),
        (terms("equity", milestones=[{"title": "A", "millibips": "2500000"}]), "milestones"),
        (terms("equity", milestones=[{"title": "A", "millibips": 0}]), "milestones"),
        (terms("equity", milestones=["Series A"]), "milestones"),
        (
            terms("equity", milestones=[{"title": f"m{i}", "millibips": 1} for i in range(21)]),
            "milestones",
        ),
        # carry
        (terms("carry", fund_name=["Seed Fund I"]), "fund_name"),
        (terms("carry", fund_name=NUL), "fund_name"),
        (terms("carry", fund_name="x" * 201), "fund_name"),
        (terms("carry", share_millibips=None), "share_millibips"),
    ],
)
def test_agreement_create_bad_input(company, owner, body, field):
    r = as_user(owner).post("/api/v1/companies/acme/agreements/", body, format="json")
    assert_400_naming(r, field)
    assert not Agreement.objects.exists()


def test_agreement_errors_are_flat_and_name_the_milestone(company, owner):
    body = terms(
        "equity",
        milestones=[{"title": "ok", "millibips": 1}, {"title": 5, "millibips": "1"}],
    )
    r = as_user(owner).post("/api/v1/companies/acme/agreements/", body, format="json")
    messages = assert_400_naming(r, "milestones")
    assert all(m.startswith("milestone 2: ") for m in messages), messages
    assert {m.split(": ")[1] for m in messages} == {"title", "millibips"}


def test_agreement_create_good_input_still_works(company, owner):
    api = as_user(owner)
    r = api.post("/api/v1/companies/acme/agreements/", terms("pledge", end_date=""), format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["end_date"] is None
    r = api.post("/api/v1/companies/acme/agreements/", terms("equity"), format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["milestones"][0]["millibips"] == 2_500_000


@pytest.fixture
def dividend(company, owner, staff):
    return AgreementFactory(
        company=company, actor=owner, staff=staff, start_date=dt.date(2025, 1, 1)
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": 5}, "reason"),
        ({"reason": ["done"]}, "reason"),
        ({"reason": NUL}, "reason"),
        ({"reason": "x" * 501}, "reason"),
    ],
)
def test_agreement_end_bad_input(dividend, owner, body, field):
    r = as_user(owner).post(
        f"/api/v1/companies/acme/agreements/{dividend.pk}/end/", body, format="json"
    )
    assert_400_naming(r, field)
    dividend.refresh_from_db()
    assert dividend.status == "active"


DECLARATION = {"amount": 100_000, "currency": "usd", "declared_on": "2025-02-01"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "100000"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": [100_000]}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 10**15 + 1}, "amount"),
        ({"amount": None}, "amount"),
        ({"currency": 840}, "currency"),
        ({"currency": "doge"}, "currency"),
        ({"currency": NUL}, "currency"),
        ({"declared_on": 20250201}, "declared_on"),
        ({"declared_on": "01/02/2025"}, "declared_on"),
        ({"declared_on": "2025-02-30"}, "declared_on"),
        ({"declared_on": "2025-02-01\x00"}, "declared_on"),
        ({"declared_on": ["2025-02-01"]}, "declared_on"),
    ],
)
def test_declaration_bad_input(dividend, owner, changes, field):
    r = as_user(owner).post(
        f"/api/v1/companies/acme/agreements/{dividend.pk}/declarations/",
        DECLARATION | changes,
        format="json",
    )
    assert_400_naming(r, field)
    assert not DividendDeclaration.objects.exists()
    assert not Invoice.objects.exists()


@pytest.mark.parametrize("missing", ["amount", "currency", "declared_on"])
def test_declaration_missing_field(dividend, owner, missing):
    body = {k: v for k, v in DECLARATION.items() if k != missing}
    r = as_user(owner).post(
        f"/api/v1/companies/acme/agreements/{dividend.pk}/declarations/", body, format="json"
    )
    assert "required" in assert_400_naming(r, missing)[0]
    assert not DividendDeclaration.objects.exists()


def test_large_declarations_are_still_accepted(dividend, owner):
    """Dividends (not invoices) may exceed MAX_AMOUNT: the event limit is 10**15."""
    r = as_user(owner).post(
        f"/api/v1/companies/acme/agreements/{dividend.pk}/declarations/",
        DECLARATION | {"amount": 10**13},
        format="json",
    )
    assert r.status_code == 201, r.json()


LIQUIDITY = {
    "kind": "secondary",
    "occurred_on": "2025-02-01",
    "proceeds": 1_000_000,
    "currency": "usd",
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "merger"}, "kind"),
        ({"kind": 1}, "kind"),
        ({"occurred_on": 1}, "occurred_on"),
        ({"occurred_on": "tomorrow"}, "occurred_on"),
        ({"proceeds": "1000000"}, "proceeds"),
        ({"proceeds": 0}, "proceeds"),
        ({"proceeds": 10**15 + 1}, "proceeds"),
        ({"currency": ["usd"]}, "currency"),
        ({"portion_millibips": "5"}, "portion_millibips"),
        ({"portion_millibips": 0}, "portion_millibips"),
        ({"portion_millibips": 10_000_001}, "portion_millibips"),
        ({"portion_millibips": False}, "portion_millibips"),
    ],
)
def test_liquidity_event_bad_input(company, owner, staff, changes, field):
    equity = AgreementFactory(
        company=company, actor=owner, staff=staff, kind="equity", start_date=dt.date(2025, 1, 1)
    )
    r = as_user(owner).post(
        f"/api/v1/companies/acme/agreements/{equity.pk}/liquidity-events/",
        LIQUIDITY | changes,
        format="json",
    )
    assert_400_naming(r, field)
    assert not LiquidityEvent.objects.exists()
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "25000000"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"currency": "xyz"}, "currency"),
        ({"distributed_on": 2025}, "distributed_on"),
        ({"distributed_on": NUL}, "distributed_on"),
    ],
)
def test_carry_distribution_bad_input(fund, owner, staff, changes, field):
    carry = AgreementFactory(
        company=fund, actor=owner, staff=staff, kind="carry", start_date=dt.date(2025, 1, 1)
    )
    body = {"amount": 25_000_000, "currency": "usd", "distributed_on": "2025-06-30"} | changes
    r = as_user(owner).post(
        f"/api/v1/companies/seedfund/agreements/{carry.pk}/carry-distributions/",
        body,
        format="json",
    )
    assert_400_naming(r, field)
    assert not CarryDistribution.objects.exists()
    assert not Invoice.objects.exists()


# --- invoices, preview, inflows ---------------------------------------------------------------


@pytest.fixture
def invoice(company, owner, staff):
    return InvoiceFactory(
        agreement=AgreementFactory(
            company=company, actor=owner, staff=staff, start_date=dt.date(2025, 1, 1)
        )
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"success_url": 5}, "success_url"),
        ({"success_url": ["https://example.org"]}, "success_url"),
        ({"success_url": "ftp://example.org"}, "success_url"),
        ({"success_url": "https://example.org/\x00"}, "success_url"),
        ({"success_url": "https://example.org/" + "x" * 1000}, "success_url"),
        ({"cancel_url": "javascript:alert(1)"}, "cancel_url"),
        ({"cancel_url": True}, "cancel_url"),
    ],
)
def test_invoice_checkout_bad_input(invoice, owner, body, field):
    r = as_user(owner).post(
        f"/api/v1/companies/acme/invoices/{invoice.pk}/checkout/", body, format="json"
    )
    assert_400_naming(r, field)
    invoice.refresh_from_db()
    assert invoice.status == "open" and not invoice.stripe_checkout_session


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"session_id": 5},
        {"session_id": ["cs_1"]},
        {"session_id": "cs_\x00"},
        {"session_id": ""},
    ],
)
def test_invoice_confirm_bad_input(invoice, owner, body):
    r = as_user(owner).post(
        f"/api/v1/companies/acme/invoices/{invoice.pk}/confirm/", body, format="json"
    )
    assert_400_naming(r, "session_id")
    invoice.refresh_from_db()
    assert invoice.status == "open"


@pytest.mark.parametrize("reference", [5, ["WIRE-1"], NUL, "x" * 151, None])
def test_invoice_wire_bad_input(invoice, staff, reference):
    inflows = Inflow.objects.count()
    r = as_user(staff).post(
        f"/api/v1/companies/acme/invoices/{invoice.pk}/wire/",
        {"reference": reference},
        format="json",
    )
    assert_400_naming(r, "reference")
    invoice.refresh_from_db()
    assert invoice.status == "open" and Inflow.objects.count() == inflows


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("currency=usd", "amount"),
        ("amount=&currency=usd", "amount"),
        ("amount=abc&currency=usd", "amount"),
        ("amount=1.5&currency=usd", "amount"),
        ("amount=0&currency=usd", "amount"),
        ("amount=1e3&currency=usd", "amount"),
        ("amount=1000000000001&currency=usd", "amount"),
        ("amount=100", "currency"),
        ("amount=100&currency=doge", "currency"),
        ("amount=100&currency=us%00", "currency"),
    ],
)
def test_preview_bad_query(company, owner, query, field):
    r = as_user(owner).get(f"/api/v1/companies/acme/preview/?{query}")
    assert_400_naming(r, field)


INFLOW = {"company": "acme", "amount": 250_000, "currency": "usd", "reference": "WIRE-9"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"company": 5}, "company"),
        ({"company": ["acme"]}, "company"),
        ({"company": "ac\x00me"}, "company"),
        ({"company": "ghost"}, "company"),
        ({"amount": "250000"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 2.5}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": 10**12 + 1}, "amount"),
        ({"currency": 840}, "currency"),
        ({"currency": "doge"}, "currency"),
        ({"reference": 9}, "reference"),
        ({"reference": ""}, "reference"),
        ({"reference": NUL}, "reference"),
        ({"reference": "x" * 201}, "reference"),
    ],
)
def test_inflow_bad_input(company, staff, changes, field):
    r = as_user(staff).post("/api/v1/inflows/", INFLOW | changes, format="json")
    assert_400_naming(r, field)
    assert not Inflow.objects.exists()


def test_inflow_reports_every_bad_field_at_once(company, staff):
    r = as_user(staff).post(
        "/api/v1/inflows/", {"company": 1, "amount": "x", "currency": None}, format="json"
    )
    assert r.status_code == 400
    assert set(r.json()) == {"company", "amount", "currency", "reference"}
    assert not Inflow.objects.exists()


def test_openapi_documents_the_company_inputs():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    create = schema["paths"]["/api/v1/companies/{slug}/agreements/"]["post"]["requestBody"]
    body = create["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AgreementCreateInput"}
    assert set(components["AgreementCreateInput"]["discriminator"]["mapping"]) == {
        "pledge",
        "dividend",
        "equity",
        "carry",
    }
    assert components["InflowInput"]["properties"]["amount"]["maximum"] == 10**12
    preview = schema["paths"]["/api/v1/companies/{slug}/preview/"]["get"]["parameters"]
    assert {p["name"] for p in preview if p["in"] == "query"} == {"amount", "currency"}
