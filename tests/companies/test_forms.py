"""Money forms a person can't get wrong: amounts read by the person's language, what was
understood shown before anything is recorded, and a second identical record only on purpose
(companies.forms, companies.agreement_views; the API's 409 for duplicates)."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from companies.models import CarryDistribution, DividendDeclaration, Invoice, LiquidityEvent
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

DAY = "2025-06-30"


@pytest.fixture
def dividend(company, owner, staff):
    """An active dividend agreement of ACME in USD, FairOSS's share 1%."""
    return AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")


def record_url(agreement) -> str:
    return f"/companies/{agreement.company.slug}/agreements/{agreement.pk}/record/"


def declare(client, agreement, amount: str, step: str = "", **extra):
    data = {"declared_on": DAY, "amount": amount, "currency": "usd", **extra}
    if step:
        data["step"] = step
    return client.post(record_url(agreement), data, **_language(extra))


def _language(extra: dict) -> dict:
    language = extra.pop("language", None)
    return {"HTTP_ACCEPT_LANGUAGE": language} if language else {}


def test_the_form_says_what_it_understood_and_records_only_when_confirmed(client, owner, dividend):
    client.force_login(owner)
    page = declare(client, dividend, "2,000.50")
    html = page.content.decode()
    assert page.status_code == 200
    assert "You are recording a dividend of $2,000.50 declared by ACME Corp on 2025-06-30." in html
    assert "FairOSS&#x27;s part (1%) will be invoiced: $20.00." in html
    assert 'name="amount" value="2,000.50"' in html  # confirming sends what was understood
    assert not DividendDeclaration.objects.exists() and not Invoice.objects.exists()

    done = declare(client, dividend, "2,000.50", step="confirm")
    assert done.status_code == 302
    declaration = DividendDeclaration.objects.get()
    assert declaration.amount == 200_050 and declaration.declared_on == dt.date(2025, 6, 30)
    assert Invoice.objects.get().amount == 2_000


def test_change_goes_back_to_the_filled_in_form(client, owner, dividend):
    client.force_login(owner)
    page = declare(client, dividend, "2,000.50", step="change")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="record"' in html
    assert 'value="2,000.50"' in html
    assert not DividendDeclaration.objects.exists()


def test_a_german_reader_types_and_sees_german_numbers(client, owner, dividend):
    client.force_login(owner)
    page = declare(client, dividend, "2.000,50", language="de")
    html = page.content.decode()
    assert "You are recording a dividend of 2.000,50\xa0$" in html
    assert "Typed as in" not in html  # the confirmation shows no form, only the reading
    declare(client, dividend, "2.000,50", step="confirm", language="de")
    assert DividendDeclaration.objects.get().amount == 200_050
    form = client.get(
        f"/companies/acme/agreements/{dividend.pk}/", HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    assert "Typed as in German" in form and "2.000,50" in form


@pytest.mark.parametrize(
    ("typed", "language", "suggestion"),
    [
        ("2000,50", "en", "Did you mean 2,000.50?"),
        ("1e6", "en", "Did you mean 1,000,000.00?"),
        ("1.000", "en", "Did you mean 1,000.00?"),
        ("2000.50", "de", "Did you mean 2.000,50?"),
    ],
)
def test_ambiguous_amounts_are_refused_with_the_likely_reading(
    client, owner, dividend, typed, language, suggestion
):
    client.force_login(owner)
    page = client.post(
        record_url(dividend),
        {"declared_on": DAY, "amount": typed, "currency": "usd"},
        HTTP_ACCEPT_LANGUAGE=language,
        follow=True,
    )
    assert suggestion in page.content.decode()
    assert not DividendDeclaration.objects.exists()


def test_an_identical_declaration_needs_record_it_again(client, owner, dividend):
    client.force_login(owner)
    declare(client, dividend, "2,000.50", step="confirm")
    again = declare(client, dividend, "2000.50", step="confirm")
    html = again.content.decode()
    assert again.status_code == 409
    assert "A dividend declaration of $2,000.50 on 2025-06-30 is already recorded" in html
    assert 'name="confirm_duplicate"' in html
    assert DividendDeclaration.objects.count() == 1

    declare(client, dividend, "2000.50", step="confirm", confirm_duplicate="yes")
    assert DividendDeclaration.objects.count() == 2
    # another amount or another day is no duplicate
    declare(client, dividend, "2000.51", step="confirm")
    assert DividendDeclaration.objects.count() == 3


def test_carry_and_liquidity_forms_confirm_too(client, owner, staff, company, fund):
    carry = AgreementFactory(company=fund, actor=owner, staff=staff, kind="carry")
    client.force_login(owner)
    page = client.post(
        record_url(carry), {"distributed_on": DAY, "amount": "125,000", "currency": "usd"}
    )
    html = page.content.decode()
    assert "You are recording $125,000.00 of carried interest realised by Seed Fund LP" in html
    assert "(2%) will be invoiced: $2,500.00" in html
    equity = AgreementFactory(company=company, actor=owner, staff=staff, kind="equity")
    today = dt.date.today().isoformat()
    page = client.post(
        record_url(equity),
        {"kind": "ipo", "occurred_on": today, "proceeds": "10,000,000", "currency": "usd"},
    )
    html = page.content.decode()
    assert "You are recording an event (ipo) of ACME Corp on" in html
    assert "proceeds of $10,000,000.00 for 100% of the fully diluted shares" in html
    assert not CarryDistribution.objects.exists() and not LiquidityEvent.objects.exists()


def test_the_api_answers_409_for_a_duplicate_unless_confirmed(owner, dividend):
    api = APIClient()
    api.force_authenticate(owner)
    url = f"/api/v1/companies/acme/agreements/{dividend.pk}/declarations/"
    body = {"amount": 200_050, "currency": "usd", "declared_on": DAY}
    assert api.post(url, body, format="json").status_code == 201
    again = api.post(url, body, format="json")
    assert again.status_code == 409
    assert "already recorded" in again.json()["confirm_duplicate"][0]
    assert DividendDeclaration.objects.count() == 1
    confirmed = api.post(url, body | {"confirm_duplicate": True}, format="json")
    assert confirmed.status_code == 201
    assert DividendDeclaration.objects.count() == 2
    refused = api.post(url, body | {"confirm_duplicate": "yes"}, format="json")
    assert refused.status_code == 400  # a JSON boolean, not a string


def test_no_agreement_form_speaks_in_millibips(client, owner, company, dividend):
    client.force_login(owner)
    for path in (
        "/companies/acme/agreements/new/dividend/",
        "/companies/acme/agreements/new/equity/",
        f"/companies/acme/agreements/{dividend.pk}/",
    ):
        html = client.get(path).content.decode()
        assert "millibip" not in html.lower() and "cents" not in html.lower()
