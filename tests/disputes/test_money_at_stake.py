"""The dispute form takes the money at stake in currency units, read by the person's
language, never in cents (disputes.forms.DisputeFileForm)."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from disputes.models import Dispute

pytestmark = pytest.mark.django_db


def file(client, world, amount: str, currency: str = "usd", **headers):
    url = reverse("disputes:new") + f"?about=table_entry:{world.entry.pk}"
    data = {
        "target": f"table_entry:{world.entry.pk}",
        "kind": "missing_credit",
        "title": "Credit me",
        "description": "I wrote it",
        "amount_at_stake": amount,
        "currency": currency,
    }
    return client.post(url, data, **headers)


def test_the_form_speaks_money_not_cents(client, world):
    client.force_login(world.carol)
    url = reverse("disputes:new") + f"?about=table_entry:{world.entry.pk}"
    page = client.get(url).content.decode().lower()
    assert "money at stake" in page and "cents" not in page and "minor units" not in page


def test_money_at_stake_is_read_in_currency_units(client, world):
    client.force_login(world.carol)
    assert file(client, world, "2,000.50", "eur").status_code == 302
    dispute = Dispute.objects.get()
    assert (dispute.amount_at_stake, dispute.currency) == (200_050, "eur")


def test_an_ambiguous_amount_is_refused_with_its_reading(client, world):
    client.force_login(world.carol)
    page = file(client, world, "2000,50")
    assert page.status_code == 200
    assert "Did you mean 2,000.50?" in html.unescape(page.content.decode())
    assert not Dispute.objects.exists()
    assert file(client, world, "2000,50", HTTP_ACCEPT_LANGUAGE="de").status_code == 302
    assert Dispute.objects.get().amount_at_stake == 200_050
