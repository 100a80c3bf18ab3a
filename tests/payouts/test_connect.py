"""Get paid: Stripe Connect onboarding against the local server, status, threshold."""

from __future__ import annotations

import pytest

from payouts.models import ConnectedAccount
from tests.factories import UserFactory

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]


def open_page(url, form=None):
    from tests.payouts.stripe_fixtures import open_page as real

    return real(url, form)


@pytest.fixture
def signed_in(client, db, stripe_settings, ledger_checked):
    user = UserFactory(username="alice")
    client.force_login(user)
    return user


def start(client) -> str:
    response = client.post("/payouts/get-paid/connect/")
    assert response.status_code == 302
    return response["Location"]


def test_get_paid_page_without_an_account(client, signed_in):
    page = client.get("/payouts/get-paid/").content.decode()
    assert "Set up payouts with Stripe" in page and "Not set up" in page


def test_onboarding_complete_enables_payouts(client, signed_in, stripe_settings):
    link = start(client)
    assert "/onboarding/" in link
    account = ConnectedAccount.objects.get(user=signed_in)
    assert account.status == "onboarding"
    status, _, location = open_page(link, {"action": "complete"})
    assert status in (302, 303) and location.endswith("/payouts/get-paid/return/")
    response = client.get("/payouts/get-paid/return/", follow=True)
    account.refresh_from_db()
    assert account.status == ConnectedAccount.Status.ENABLED and account.can_receive
    assert "Payouts enabled" in response.content.decode()


@pytest.mark.parametrize(
    ("outcome", "status"), [("incomplete", "onboarding"), ("restrict", "restricted")]
)
def test_onboarding_other_outcomes(client, signed_in, outcome, status):
    status_code, _, _ = open_page(start(client), {"action": outcome})
    assert status_code in (302, 303)
    page = client.get("/payouts/get-paid/return/", follow=True).content.decode()
    assert ConnectedAccount.objects.get(user=signed_in).status == status
    assert "Continue onboarding" in page


def test_expired_link_goes_to_refresh_which_makes_a_new_link(client, signed_in, stripe_settings):
    link = start(client)
    stripe_settings.advance(600)  # links live 5 minutes
    _status, _, location = open_page(link)
    assert location.endswith("/payouts/get-paid/refresh/")
    response = client.get("/payouts/get-paid/refresh/")
    new_link = response["Location"]
    assert "/onboarding/" in new_link and new_link != link
    assert open_page(new_link)[0] == 200
    # Continuing later reuses the same Stripe account.
    start(client)
    assert ConnectedAccount.objects.count() == 1
    assert len(stripe_settings.requests(method="POST", path_prefix="/v1/accounts")) == 1


def test_stripe_down_shows_a_message_and_changes_nothing(client, signed_in, stripe_settings):
    stripe_settings.fault("/v1/accounts", "500", count=10)
    response = client.post("/payouts/get-paid/connect/", follow=True)
    assert "could not be reached" in response.content.decode()
    assert not ConnectedAccount.objects.exists()


def test_threshold_form(client, signed_in, stripe_settings, settings):
    open_page(start(client), {"action": "complete"})
    confirmed = {"threshold": "50.5", "step": "confirm"}
    assert client.post("/payouts/get-paid/", confirmed).status_code == 302
    assert ConnectedAccount.objects.get().payout_threshold == 5050
    for bad in ("0.5", "abc", "-3", "1.234", ""):
        response = client.post("/payouts/get-paid/", {"threshold": bad})
        assert response.status_code == 400
        assert "threshold:" in response.content.decode()
    assert ConnectedAccount.objects.get().payout_threshold == 5050


def test_pages_need_sign_in(client, db):
    for url in ("/payouts/get-paid/", "/payouts/get-paid/return/", "/payouts/get-paid/refresh/"):
        assert client.get(url).status_code == 302
    assert client.post("/payouts/get-paid/connect/").status_code == 302
