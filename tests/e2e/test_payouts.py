"""From a table entry (an unclaimed GitHub login) to claimed to paid, in Chromium, against
the local Stripe test server."""

import re

import pytest
from django.db import transaction

from payouts.connect.transfers import payout_run_start
from payouts.models import ConnectedAccount, Payout
from payouts.selectors import account_balance
from tests.factories import (
    CompanyFactory,
    DistributionRunFactory,
    InflowFactory,
    ProjectFactory,
    SocialAccountFactory,
    UserFactory,
)

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_github_login_claims_escrow_onboards_and_is_paid(page, live_server, stripe_settings):
    # A project's table names github:octocat, who is not on FairOSS; a run puts money in escrow.
    steward = UserFactory(username="steward")
    ProjectFactory(slug="numpy", steward=steward, table=[("github:octocat", 5_000_000)])
    company = CompanyFactory(
        slug="acme", name="Acme", owner=steward, table=[("project:numpy", 10_000_000)]
    )
    InflowFactory(company=company, amount=10_000, reference="W1")
    DistributionRunFactory()
    assert account_balance(owner="github:octocat", purpose="escrow", currency="usd") == 5_000

    # Octocat signs in with GitHub (simulated: no internet; allauth's SocialAccount row).
    octo = SocialAccountFactory(
        user=UserFactory(username="octo"), login="octocat", uid="583231"
    ).user
    page.goto("/accounts/login/")
    page.fill("input[name=login]", "octo")
    page.fill("input[name=password]", "pw-for-tests-1")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/"))
    assert "Money is waiting for github:octocat" in page.content()

    # Earnings: the waiting money, claimed with one click.
    page.get_by_role("link", name="Earnings").click()
    claimable = page.locator("#claimable")
    assert "github:octocat" in claimable.inner_text() and "$50.00" in claimable.inner_text()
    assert "project:numpy" in claimable.inner_text()
    claimable.get_by_role("button", name="Claim").click()
    page.wait_for_url(re.compile(r"/payouts/earnings/$"))
    assert "Claimed github:octocat" in page.locator(".messages").inner_text()
    assert page.locator("#claimable").count() == 0
    assert account_balance(owner="user:octo", purpose="available", currency="usd") == 5_000

    # Get paid: Stripe onboarding (the local server's page) and back.
    page.get_by_role("link", name="Get paid").last.click()
    page.get_by_role("button", name="Set up payouts with Stripe").click()
    page.wait_for_url(re.compile(r"/onboarding/"))
    assert "TEST MODE" in page.content()
    page.get_by_role("button", name="Complete", exact=True).click()
    page.wait_for_url(re.compile(r"/payouts/get-paid/$"))
    assert page.locator("#account-status").inner_text() == "Payouts enabled"
    assert ConnectedAccount.objects.get(user=octo).can_receive

    # Staff's payout run (the daily schedule does the same) pays the balance.
    with transaction.atomic():
        payout_run_start()
    payout = Payout.objects.get()
    assert payout.status == "sent" and payout.amount == 5_000
    page.goto("/payouts/earnings/")
    row = page.locator("#payouts tbody tr").first
    assert "Sent" in row.inner_text() and "$50.00" in row.inner_text()
    assert payout.stripe_transfer_id in row.inner_text()
    assert account_balance(owner="user:octo", purpose="paid_out", currency="usd") == 5_000
    transfers = stripe_settings.requests(method="POST", path_prefix="/v1/transfers")
    assert len([r for r in transfers if r["status"] == 200 and not r["replayed"]]) == 1
