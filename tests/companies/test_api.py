"""API v1 of companies: each agreement kind from sign-up to money received to distributed,
and every refusal (400 per field, 401/403, 404 for what the caller may not see)."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from companies.models import Agreement, Invoice
from payouts.models import Inflow, RunAllocation
from tests.api_helpers import as_user
from tests.factories import (
    AGREEMENT_TERMS,
    AgreementFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]
pytestmark = pytest.mark.django_db


def open_page(url, form=None):
    # imported late: tests/local_stripe/test_server.py registers the module for assert
    # rewriting, which must happen before anything imports it
    from tests.payouts.stripe_fixtures import open_page as _open_page

    return _open_page(url, form)


EVENTS = {
    "dividend": (
        "declarations",
        {"amount": 50_000_000, "currency": "usd", "declared_on": "2025-06-30"},
        500_000,
    ),
    "equity": (
        "liquidity-events",
        {
            "kind": "acquisition",
            "occurred_on": str(dt.date.today()),
            "proceeds": 1_000_000_000,
            "currency": "usd",
        },
        5_000_000,
    ),
    "carry": (
        "carry-distributions",
        {"amount": 25_000_000, "currency": "usd", "distributed_on": "2025-06-30"},
        500_000,
    ),
}


@pytest.mark.parametrize("kind", ["pledge", "dividend", "equity", "carry"])
def test_each_kind_from_signup_to_distributed(
    kind, stripe_settings, django_capture_on_commit_callbacks
):
    ProjectFactory(slug="numpy", name="NumPy")
    ana = UserFactory(username="ana")
    staff = as_user(UserFactory(username="sam", is_staff=True))
    api = as_user(ana)
    r = api.post(
        "/api/v1/companies/",
        {"slug": "acme", "name": "ACME Corp", "kind": "vc_fund" if kind == "carry" else "startup"},
        format="json",
    )
    assert r.status_code == 201 and r.json()["role"] == "owner", r.content
    r = api.post(
        "/api/v1/companies/acme/table/versions/",
        {
            "entries": [
                {"recipient": "project:numpy", "millibips": 7_000_000},
                {"recipient": "github:octocat", "millibips": 3_000_000},
            ]
        },
        format="json",
    )
    assert r.status_code == 201 and r.json()["status"] == "active", r.content
    assert api.get("/api/v1/companies/acme/table/").json()["owner"] == "company:acme"

    r = api.post(
        "/api/v1/companies/acme/agreements/",
        {"kind": kind, "currency": "usd", "start_date": "2021-01-01", **AGREEMENT_TERMS[kind]},
        format="json",
    )
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    base = f"/api/v1/companies/acme/agreements/{pk}/"
    r = api.post(base + "sign/", HTTP_USER_AGENT="pytest")
    assert r.status_code == 200 and r.json()["status"] == "signed"
    assert r.json()["signatures"][0]["username"] == "ana"
    assert api.post(base + "countersign/").status_code == 403
    r = staff.post(base + "countersign/")
    assert r.status_code == 200 and r.json()["status"] == "active"

    if kind == "pledge":
        expected = 600_000
    else:
        if kind == "equity":
            milestone = r.json()["milestones"][0]["id"]
            assert staff.post(base + f"milestones/{milestone}/met/").status_code == 200
        path, body, expected = EVENTS[kind]
        r = api.post(base + path + "/", body, format="json")
        assert r.status_code == 201, r.content
        assert r.json()["due_amount"] == expected
    invoices = api.get("/api/v1/companies/acme/invoices/").json()["results"]
    invoice = invoices[-1]
    assert invoice["amount"] == expected and invoice["status"] == "open"

    r = api.post(f"/api/v1/companies/acme/invoices/{invoice['id']}/checkout/", {}, format="json")
    assert r.status_code == 200, r.content
    status, _, location = open_page(r.json()["url"], {"action": "pay"})
    assert status == 303 and "session_id=cs_test_" in location
    r = api.post(
        f"/api/v1/companies/acme/invoices/{invoice['id']}/confirm/",
        {"session_id": r.json()["session_id"]},
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == "paid"
    inflow = Inflow.objects.get(invoice__pk=invoice["id"])
    assert inflow.amount == expected

    from payouts.distribution.runs import distribution_run_start

    with django_capture_on_commit_callbacks(execute=True):
        run = distribution_run_start()
    run.refresh_from_db()
    assert run.status == "done", run.error
    inflow.refresh_from_db()
    assert inflow.run == run
    numpy = RunAllocation.objects.get(run=run, recipient="project:numpy").amount
    octocat = RunAllocation.objects.get(run=run, recipient="github:octocat").amount
    total = sum(Inflow.objects.filter(run=run).values_list("amount", flat=True))
    assert numpy + octocat == total and numpy == total * 7 // 10

    from companies.models import Company
    from companies.selectors import company_money_reached

    reached = {r.recipient: r.amount for r in company_money_reached(company=Company.objects.get())}
    assert reached == {"project:numpy": numpy, "github:octocat": octocat}


def test_anonymous_gets_401_and_outsiders_see_nothing(company, owner, outsider, viewer, staff):
    assert APIClient().get("/api/v1/companies/").status_code == 401
    assert APIClient().get("/api/v1/companies/acme/").status_code == 401
    pk = AgreementFactory(company=company, actor=owner, status="draft").pk
    them = as_user(outsider)
    assert [c["slug"] for c in them.get("/api/v1/companies/").json()["results"]] == ["globex"]
    for path in (
        "",
        "table/",
        "table/versions/",
        "agreements/",
        f"agreements/{pk}/",
        "invoices/",
        "faiross.toml",
        "preview/?amount=100&currency=usd",
        f"agreements/{pk}/ocf/",
    ):
        assert them.get(f"/api/v1/companies/acme/{path}").status_code == 404, path
    for path in (f"agreements/{pk}/sign/", "agreements/", "table/versions/", "invitations/"):
        assert them.post(f"/api/v1/companies/acme/{path}", {}, format="json").status_code == 404
    assert them.patch("/api/v1/companies/acme/", {"name": "x"}, format="json").status_code == 404
    # viewers read but cannot act on money
    v = as_user(viewer)
    assert v.get(f"/api/v1/companies/acme/agreements/{pk}/").status_code == 200
    assert v.post(f"/api/v1/companies/acme/agreements/{pk}/sign/").status_code == 403
    assert (
        v.post("/api/v1/companies/acme/table/versions/", {"entries": []}, format="json").status_code
        == 403
    )
    assert v.patch("/api/v1/companies/acme/", {"name": "x"}, format="json").status_code == 403
    assert Agreement.objects.get().status == "draft"
    # staff see every company
    assert as_user(staff).get("/api/v1/companies/acme/").status_code == 200


def equity(**terms):
    """The API body of an equity agreement from 2025 on 0.5% of the company (10 shares of
    class A), with ``terms``."""
    return {
        "kind": "equity",
        "currency": "usd",
        "start_date": "2025-01-01",
        "share_millibips": 50_000,
        "share_count": 10,
        "share_class": "A",
        **terms,
    }


def test_bad_input_is_400_per_field_and_nothing_stored(company, owner, staff):
    api = as_user(owner)
    r = api.post("/api/v1/companies/", {"slug": "Bad!", "name": ""}, format="json")
    assert r.status_code == 400 and set(r.json()) >= {"slug", "name"}
    r = api.post("/api/v1/companies/", ["x"], format="json")
    assert r.status_code == 400
    r = api.post(
        "/api/v1/companies/acme/agreements/",
        {
            "kind": "pledge",
            "currency": "usd",
            "start_date": "2025-01-01",
            "amount": -200,
            "developers": 3,
            "period": "fortnightly",
        },
        format="json",
    )
    assert r.status_code == 400 and set(r.json()) == {"amount", "period"}, r.json()
    r = api.post(
        "/api/v1/companies/acme/agreements/",
        equity(time_vesting_millibips=9_000_000, milestones=[]),
        format="json",
    )
    assert r.status_code == 400 and "add up to 90%" in r.json()["milestones"][0]
    r = api.post("/api/v1/companies/acme/agreements/", {"kind": "loan"}, format="json")
    assert r.status_code == 400 and "kind" in r.json()
    assert not Agreement.objects.exists()

    agreement = AgreementFactory(
        company=company, actor=owner, staff=staff, start_date=dt.date(2025, 1, 1)
    )
    pk = agreement.pk
    url = f"/api/v1/companies/acme/agreements/{pk}/declarations/"
    r = api.post(
        url, {"amount": 100_000, "currency": "eur", "declared_on": "2025-02-01"}, format="json"
    )
    assert r.status_code == 400 and "currency" in r.json()
    r = api.post(
        url, {"amount": 100_000, "currency": "usd", "declared_on": "2024-02-01"}, format="json"
    )
    assert r.status_code == 400 and "declared_on" in r.json()
    r = api.post(
        url, {"amount": "lots", "currency": "usd", "declared_on": "2025-02-01"}, format="json"
    )
    assert r.status_code == 400 and "amount" in r.json()
    r = api.post(
        f"/api/v1/companies/acme/agreements/{pk}/liquidity-events/",
        {"kind": "ipo", "occurred_on": "2025-02-01", "proceeds": 1, "currency": "usd"},
        format="json",
    )
    assert r.status_code == 400 and "agreement" in r.json()
    assert not Invoice.objects.exists()
    r = api.get("/api/v1/companies/acme/preview/?amount=-5&currency=usd")
    assert r.status_code == 400 and "amount" in r.json()


def test_invitations_over_the_api(company, owner, finance):
    UserFactory(username="newbie")
    r = as_user(owner).post(
        "/api/v1/companies/acme/invitations/", {"target": "newbie", "role": "viewer"}, format="json"
    )
    assert r.status_code == 201 and r.json()["status"] == "pending"
    r = as_user(finance).post(
        "/api/v1/companies/acme/invitations/", {"target": "newbie", "role": "viewer"}, format="json"
    )
    assert r.status_code == 403


def test_preview_and_ocf(company, owner, staff, dependency):
    TableVersionFactory(
        owner_key=company.owner_key, actor=owner, entries=[("project:numpy", 10_000_000)]
    )
    api = as_user(owner)
    r = api.get("/api/v1/companies/acme/preview/?amount=100001&currency=usd")
    assert r.status_code == 200
    rows = r.json()["recipients"]
    assert sum(x["amount"] for x in rows) == 100_001
    assert rows[0]["recipient"] == "project:numpy"
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="equity")
    r = api.get(f"/api/v1/companies/acme/agreements/{agreement.pk}/ocf/")
    assert (
        r.status_code == 200 and r.json()["Manifest.ocf.json"]["file_type"] == "OCF_MANIFEST_FILE"
    )


def test_nul_bytes_in_json_are_400(company, owner):
    api = as_user(owner)
    r = api.post("/api/v1/companies/", {"slug": "nul", "name": "A\x00B"}, format="json")
    assert r.status_code == 400 and "name" in r.json()
    r = api.post(
        "/api/v1/companies/acme/invitations/", {"target": "a\x00b", "role": "viewer"}, format="json"
    )
    assert r.status_code == 400 and "target" in r.json()
    r = api.post(
        "/api/v1/companies/acme/agreements/",
        equity(
            share_class="A\x00",
            time_vesting_millibips=0,
            milestones=[{"title": "x\x00", "millibips": 10_000_000}],
        ),
        format="json",
    )
    assert r.status_code == 400 and {"share_class", "milestones[0].title"} <= set(r.json())
