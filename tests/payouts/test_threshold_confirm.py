"""The payout threshold says the amount it understood before it is saved
(payouts.views.get_paid)."""

from __future__ import annotations

import html

import pytest

from payouts.models import ConnectedAccount
from tests.factories import ConnectedAccountFactory

pytestmark = pytest.mark.django_db

URL = "/payouts/get-paid/"


@pytest.fixture
def account(client, user):
    client.force_login(user)
    return ConnectedAccountFactory(user=user, payout_threshold=2_500)


def saved(account) -> int | None:
    return ConnectedAccount.objects.get(pk=account.pk).payout_threshold


def test_the_threshold_is_shown_and_saved_only_when_confirmed(client, account, settings):
    settings.FAIROSS_CURRENCIES = ["usd", "eur"]
    page = client.post(URL, {"threshold": "1,250.5"})
    text = html.unescape(page.content.decode())
    assert page.status_code == 200
    assert "Your payout threshold will be $1,250.50" in text
    assert "The same number in the other currencies: €1,250.50." in text
    assert 'name="threshold" value="1,250.5"' in text
    assert saved(account) == 2_500

    done = client.post(URL, {"threshold": "1,250.5", "step": "confirm"}, follow=True)
    assert "Payout threshold saved: $1,250.50." in done.content.decode()
    assert saved(account) == 125_050


def test_change_goes_back_to_the_field_still_filled_in(client, account):
    page = client.post(URL, {"threshold": "80", "step": "change"}).content.decode()
    assert 'id="threshold-form"' in page and 'value="80"' in page
    assert saved(account) == 2_500


def test_refusals_say_money_and_suggest_the_reading(client, account, settings):
    settings.FAIROSS_PAYOUT_THRESHOLD_MIN = 500
    low = client.post(URL, {"threshold": "4.99"})
    assert low.status_code == 400
    text = html.unescape(low.content.decode())
    assert "The threshold must be at least $5.00." in text and "minor units" not in text
    ambiguous = html.unescape(client.post(URL, {"threshold": "2000,50"}).content.decode())
    assert "Did you mean 2,000.50?" in ambiguous
    assert 'value="2000,50"' in ambiguous  # what was typed stays, to correct it
    # A confirmation sent with a changed value is read again, never saved blindly.
    assert client.post(URL, {"threshold": "1", "step": "confirm"}).status_code == 400
    assert saved(account) == 2_500


def test_german_threshold(client, account):
    page = client.post(URL, {"threshold": "2.000,50"}, HTTP_ACCEPT_LANGUAGE="de")
    assert "Your payout threshold will be 2.000,50\xa0$" in html.unescape(page.content.decode())
    client.post(URL, {"threshold": "2.000,50", "step": "confirm"}, HTTP_ACCEPT_LANGUAGE="de")
    assert saved(account) == 200_050
