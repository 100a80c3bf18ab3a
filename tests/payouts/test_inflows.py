"""Money received (payouts.inflows): one reference is one payment, also when two requests
with it arrive at the same time; a different amount under a used reference is a 409."""

from __future__ import annotations

from typing import cast

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from faiross.kernel.conflicts import ConflictError
from payouts.inflows import inflow_record
from payouts.models import Inflow, LedgerTransaction
from payouts.selectors import account_balance
from tests.factories import CompanyFactory, StaffFactory
from tests.thread_helpers import run_at_once


def staff_client() -> APIClient:
    client = APIClient()
    staff = cast(User, StaffFactory(username="sam"))
    client.force_authenticate(staff)
    return client


@pytest.mark.django_db
def test_a_used_reference_with_another_amount_is_a_conflict_naming_the_first():
    acme = CompanyFactory(slug="acme")
    inflow_record(company=acme, amount=200_050, currency="usd", reference="W-1")
    with pytest.raises(ConflictError) as exc:
        inflow_record(company=acme, amount=200_500, currency="usd", reference="W-1")
    message = exc.value.message_dict["reference"][0]
    assert "already used for another inflow ($2,000.50)" in message
    assert isinstance(exc.value, ValidationError)  # forms show it like any refusal


@pytest.mark.django_db
def test_the_api_answers_409_for_a_used_reference_with_another_amount():
    CompanyFactory(slug="acme")
    client = staff_client()
    body = {"company": "acme", "amount": 250_000, "currency": "usd", "reference": "W-1"}
    assert client.post("/api/v1/inflows/", body, format="json").status_code == 201
    same = client.post("/api/v1/inflows/", body, format="json")
    assert same.status_code == 200 and same.json()["created"] is False
    other = client.post("/api/v1/inflows/", body | {"amount": 25_000}, format="json")
    assert other.status_code == 409
    assert "already used for another inflow" in other.json()["reference"][0]
    assert Inflow.objects.get().amount == 250_000


@pytest.mark.django_db(transaction=True)
def test_concurrent_inflows_with_one_reference_and_different_amounts():
    acme = CompanyFactory(slug="acme")
    amounts = [100_000, 200_000, 300_000, 400_000]

    def record(amount: int):
        def call():
            inflow, created = inflow_record(
                company=acme, amount=amount, currency="usd", reference="WIRE-RACE"
            )
            return amount, inflow.amount, created

        return call

    outcomes = run_at_once([record(a) for a in amounts])
    recorded = [o for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(recorded) == 1 and len(refused) == 3, outcomes
    asked, got, created = recorded[0]
    assert asked == got and created  # never another request's inflow
    assert Inflow.objects.get().amount == asked
    assert LedgerTransaction.objects.filter(kind="inflow").count() == 1
    assert account_balance(owner="platform", purpose="pool", currency="usd") == asked


@pytest.mark.django_db(transaction=True)
def test_concurrent_api_inflows_with_one_reference_get_409_not_anothers_inflow():
    CompanyFactory(slug="acme")
    StaffFactory(username="sam")

    def post(amount: int):
        def call():
            client = APIClient()
            from django.contrib.auth import get_user_model

            client.force_authenticate(get_user_model().objects.get(username="sam"))
            body = {"company": "acme", "amount": amount, "currency": "usd", "reference": "R"}
            response = client.post("/api/v1/inflows/", body, format="json")
            return amount, response.status_code, response.json()

        return call

    outcomes = run_at_once([post(a) for a in (1_000, 2_000, 3_000)])
    statuses = sorted(status for _, status, _ in outcomes)
    assert statuses == [201, 409, 409], outcomes
    for amount, status, body in outcomes:
        if status == 201:
            assert body["amount"] == amount
    assert Inflow.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_inflows_with_the_same_terms_record_one():
    acme = CompanyFactory(slug="acme")

    def call():
        return inflow_record(company=acme, amount=5_000, currency="usd", reference="SAME")

    outcomes = run_at_once([call] * 3)
    assert [created for _, created in outcomes].count(True) == 1
    assert {inflow.pk for inflow, _ in outcomes} == {Inflow.objects.get().pk}
