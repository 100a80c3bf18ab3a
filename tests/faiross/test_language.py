"""A person chooses the language in the footer (Django's set_language at /i18n/setlang/);
money forms then read and show numbers that language's way (Babel)."""

from __future__ import annotations

import html

import pytest
from django.conf import settings

from payouts.models import ConnectedAccount
from tests.factories import CompanyFactory, ConnectedAccountFactory

pytestmark = pytest.mark.django_db

GET_PAID = "/payouts/get-paid/"


def choose(client, language: str, next_url: str = GET_PAID):
    return client.post("/i18n/setlang/", {"language": language, "next": next_url})


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_footer_offers_english_and_german(client, db):
    page = client.get("/").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert '<option value="en" selected>English</option>' in page
    assert '<option value="de">Deutsch</option>' in page
    assert '<html lang="en">' in page


def test_choosing_deutsch_reads_and_shows_money_the_german_way(client, user):
    client.force_login(user)
    account = ConnectedAccountFactory(user=user)
    chosen = choose(client, "de")
    assert chosen.status_code == 302 and chosen["Location"] == GET_PAID
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"

    page = client.get(GET_PAID).content.decode()
    assert '<html lang="de">' in page and '<option value="de" selected>' in page
    understood = text(client.post(GET_PAID, {"threshold": "2.000,50"}))
    assert "Your payout threshold will be 2.000,50\xa0$" in understood
    client.post(GET_PAID, {"threshold": "2.000,50", "step": "confirm"})
    assert ConnectedAccount.objects.get(pk=account.pk).payout_threshold == 200_050
    # The saved threshold is written back into its field the German way.
    assert 'value="2.000,50"' in client.get(GET_PAID).content.decode()

    choose(client, "en")
    english = text(client.post(GET_PAID, {"threshold": "2,000.50"}))
    assert "Your payout threshold will be $2,000.50" in english
    refused = text(client.post(GET_PAID, {"threshold": "2.000,50"}))
    assert "Did you mean 2,000.50?" in refused


def test_german_agreement_form_says_how_to_type(client, user):
    CompanyFactory(slug="acme", name="ACME Corp", owner=user)
    client.force_login(user)
    choose(client, "de")
    form = text(client.get("/companies/acme/agreements/new/pledge/"))
    assert "Typed as in German: e.g. 2.000,50." in form
    data = {
        "currency": "usd",
        "start_date": "2025-01-01",
        "amount": "2.000,50",
        "developers": "2",
        "period": "yearly",
    }
    confirm = text(client.post("/companies/acme/agreements/new/pledge/", data))
    assert (
        "2.000,50\xa0$ per developer per year \u00d7 2 developers = 4.001,00\xa0$/year." in confirm
    )


def test_an_unknown_language_changes_nothing(client, db):
    choose(client, "xx")
    assert '<html lang="en">' in client.get("/").content.decode()
