"""A new agreement says what it understood (money per developer and period, shares in
percent) before the draft is created (companies.agreement_views.agreement_new)."""

from __future__ import annotations

import html

import pytest

from companies.models import Agreement

pytestmark = pytest.mark.django_db

PLEDGE = {
    "currency": "usd",
    "start_date": "2025-01-01",
    "amount": "50",
    "developers": "12",
    "period": "monthly",
}


def new_agreement(client, kind: str, data: dict, step: str = "", **headers):
    body = data | ({"step": step} if step else {})
    return client.post(f"/companies/acme/agreements/new/{kind}/", body, **headers)


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def test_pledge_shows_the_total_and_creates_nothing_before_confirm(client, company, finance):
    client.force_login(finance)
    page = new_agreement(client, "pledge", PLEDGE)
    assert page.status_code == 200
    text = text_of(page)
    assert (
        "You are proposing: $50.00 per developer per month \u00d7 12 developers = $600.00/month."
    ) in text
    assert "In USD, from 2025-01-01, with no end date." in text
    assert not Agreement.objects.exists()

    done = new_agreement(client, "pledge", PLEDGE, step="confirm")
    assert done.status_code == 302
    agreement = Agreement.objects.get()
    assert (agreement.amount, agreement.developers, agreement.period) == (5_000, 12, "monthly")
    assert done["Location"] == f"/companies/acme/agreements/{agreement.pk}/"


def test_the_confirmation_carries_exactly_what_was_typed(client, company, finance):
    client.force_login(finance)
    page = new_agreement(client, "pledge", PLEDGE | {"amount": "2,000.50"}).content.decode()
    assert 'name="amount" value="2,000.50"' in page
    assert 'name="developers" value="12"' in page
    assert 'name="step" value="confirm"' in page and 'name="step" value="change"' in page


def test_dividend_share_is_shown_in_percent(client, company, owner):
    client.force_login(owner)
    data = {"currency": "usd", "start_date": "2025-01-01", "share": "1.5"}
    text = text_of(new_agreement(client, "dividend", data))
    assert "FairOSS's share: 1.5% of every dividend ACME Corp declares." in text
    assert "millibip" not in text.lower()
    assert not Agreement.objects.exists()
    new_agreement(client, "dividend", data, step="confirm")
    assert Agreement.objects.get().share_millibips == 150_000


def test_equity_shows_stake_and_vesting(client, company, owner):
    client.force_login(owner)
    data = {
        "currency": "eur",
        "start_date": "2025-01-01",
        "end_date": "2030-01-01",
        "share": "0.5",
        "share_count": "1000",
        "share_class": "Common",
        "cliff_months": "12",
        "vesting_months": "48",
        "time_vesting": "75",
        "milestones": "25; Series A closed",
    }
    text = text_of(new_agreement(client, "equity", data))
    assert "FairOSS's stake: 0.5% of the fully diluted shares (1,000 shares of Common)." in text
    assert "Vesting: 75% over 48 months after a 12-month cliff." in text
    assert "Milestone: 25% on “Series A closed”." in text
    assert "In EUR, from 2025-01-01 until 2030-01-01." in text
    assert not Agreement.objects.exists()
    new_agreement(client, "equity", data, step="confirm")
    agreement = Agreement.objects.get()
    assert agreement.milestones.get().title == "Series A closed"


def test_change_goes_back_to_the_filled_in_form(client, company, finance):
    client.force_login(finance)
    page = new_agreement(client, "pledge", PLEDGE | {"amount": "2,000.50"}, step="change")
    html_text = page.content.decode()
    assert page.status_code == 200
    assert 'id="agreement-form"' in html_text and 'value="2,000.50"' in html_text
    assert not Agreement.objects.exists()


def test_what_the_draft_would_refuse_is_said_before_the_confirmation(client, company, owner):
    client.force_login(owner)
    data = {"currency": "usd", "start_date": "2025-01-01", "share": "75"}
    page = new_agreement(client, "dividend", data)
    text = text_of(page)
    assert "Give a share above 0% and at most 50%." in text
    assert "You are proposing" not in text and "millibip" not in text.lower()
    too_much = PLEDGE | {"amount": "1,000,000,000", "developers": "100"}
    text = text_of(new_agreement(client, "pledge", too_much))
    assert "must be at most $10,000,000,000.00" in text and "minor units" not in text
    assert not Agreement.objects.exists()


def test_a_pledge_typed_in_german_is_read_and_shown_the_german_way(client, company, finance):
    client.force_login(finance)
    data = PLEDGE | {"amount": "2.000,50", "developers": "1", "period": "yearly"}
    text = text_of(new_agreement(client, "pledge", data, HTTP_ACCEPT_LANGUAGE="de"))
    assert "2.000,50\xa0$ per developer per year \u00d7 1 developer = 2.000,50\xa0$/year." in text
    refused = text_of(new_agreement(client, "pledge", data))  # English: ambiguous
    assert "Did you mean 2,000.50?" in refused
    assert not Agreement.objects.exists()
