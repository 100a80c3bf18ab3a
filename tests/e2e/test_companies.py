"""Each agreement kind in real Chromium: sign-up, company, table, agreement, signature,
countersignature, money due, paid on the local Stripe Checkout page, distributed."""

import re

import pytest
from django.core import mail

from companies import services
from companies.models import Agreement, Invoice
from payouts.models import Inflow, RunAllocation
from tests.factories import ProjectFactory, StaffFactory

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_up(page, username):
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", f"{username}@example.org")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", "a-long-safe-passphrase-42")
    page.fill("input[name=password2]", "a-long-safe-passphrase-42")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body)
    page.goto(link.group(1))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/" not in url)


TERMS = {
    "pledge": {"#id_amount": "2000", "#id_developers": "3"},
    "dividend": {"#id_share": "1"},
    "equity": {
        "#id_share": "0.5",
        "#id_share_count": "5000",
        "#id_share_class": "Common Stock",
        "#id_cliff_months": "0",
        "#id_vesting_months": "0",
        "#id_time_vesting": "100",
    },
    "carry": {"#id_share": "2", "#id_fund_name": "Seed Fund I"},
}
EVENTS = {
    "dividend": ({"#id_amount": "250000"}, "$2,500.00"),
    "equity": ({"#id_proceeds": "10000000"}, "$50,000.00"),
    "carry": ({"#id_amount": "125000"}, "$2,500.00"),
}


@pytest.mark.parametrize("kind", ["pledge", "dividend", "equity", "carry"])
def test_agreement_from_signup_to_money_distributed(page, live_server, stripe_settings, kind):
    ProjectFactory(slug="numpy", name="NumPy")
    staff = StaffFactory(username="sam")
    sign_up(page, f"cfo{kind}")  # one address per test: allauth rate-limits confirmation mail

    # the company
    page.goto("/companies/")
    page.get_by_role("link", name="Add your company").click()
    page.fill("#id_name", "ACME Corp")
    page.fill("#id_slug", "acme")
    page.select_option("#id_kind", "vc_fund" if kind == "carry" else "startup")
    page.fill("#id_country", "US")
    page.get_by_role("button", name="Create company").click()
    page.wait_for_url("**/companies/acme/")
    assert "owner" in page.locator("#my-role").inner_text()

    # its share table
    page.locator("#company-table").get_by_role("link", name="Edit table").click()
    row = page.locator("#rows tbody tr").first
    row.locator("[name=recipient]").fill("project:numpy")
    row.locator("[name=percent]").fill("100")
    assert "Reserve: 0%" in page.locator("#totals").inner_text()
    page.get_by_role("button", name="Save as proposal").click()
    page.wait_for_url("**/table/history/")
    assert "Version 1 is active" in page.locator(".messages").inner_text()

    # the agreement, signed
    page.goto("/companies/acme/")
    page.locator("#agreements").get_by_role("link", name=re.compile(kind, re.I)).click()
    for selector, value in TERMS[kind].items():
        page.fill(selector, value)
    page.get_by_role("button", name="Create draft").click()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/agreements/\d+/$"))
    assert "Draft" in page.locator("#agreement-status").inner_text()
    page.get_by_label(re.compile("I have read the agreement")).check()
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_url(re.compile(r"/agreements/\d+/$"))
    assert "Signed by the company" in page.locator("#agreement-status").inner_text()
    assert f"cfo{kind}" in page.locator("#signatures").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")

    # FairOSS countersigns (the admin action's service)
    agreement = Agreement.objects.get()
    services.agreement_countersign(agreement=agreement, staff=staff)
    page.reload()
    assert "Active" in page.locator("#agreement-status").inner_text()

    # money becomes due
    if kind == "pledge":
        due = "$6,000.00"
    else:
        fields, due = EVENTS[kind]
        if kind == "equity":  # an IPO: an acquisition would end the agreement
            page.locator("#record").locator("#id_kind").select_option("ipo")
        for selector, value in fields.items():
            page.locator("#record").locator(selector).fill(value)
        page.locator("#record").get_by_role("button", name="Record").click()
        # the page says what it understood before anything is recorded
        typed = next(iter(fields.values()))
        assert f"${int(typed):,}.00" in page.locator("#understood").inner_text()
        assert not Invoice.objects.exists()
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url(re.compile(r"/agreements/\d+/$"))
        assert "FairOSS's part is due" in page.locator(".messages").inner_text()
    invoice = Invoice.objects.get()
    page.goto("/companies/acme/")
    assert due in page.locator("#open-invoices").inner_text()

    # paid on the local Stripe Checkout page
    page.get_by_role("button", name=f"Pay {invoice.number}").click()
    page.wait_for_url(re.compile(r"/pay/cs_test_"))
    assert "TEST MODE" in page.content()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    page.wait_for_url("**/companies/acme/")
    assert f"{invoice.number} is paid" in page.locator(".messages").inner_text()
    assert due in page.locator("#paid").inner_text()
    assert page.locator("#paid-chart svg").count() == 1
    inflow = Inflow.objects.get()
    assert inflow.amount == invoice.amount and inflow.source == "stripe"

    # distributed, and shown where it went
    from payouts.distribution.runs import distribution_run_start

    run = distribution_run_start()
    run.refresh_from_db()
    assert run.status == "done", run.error
    assert RunAllocation.objects.get(run=run, recipient="project:numpy").amount == invoice.amount
    page.reload()
    reached = page.locator("#reached").inner_text()
    assert "numpy" in reached and due in reached
    page.goto("/companies/groundwater/")
    assert "ACME Corp" in page.locator("#gw-companies").inner_text()
    assert "NumPy" in page.locator("#gw-projects").inner_text()
    page.goto("/companies/groundwater/acme/badge.svg")
    assert "participant" in page.content()
