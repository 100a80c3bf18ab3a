"""What services refuse reaches the forms, so it speaks money and percent, never minor units
or millibips (issue 11); a message only the API can cause names its field's unit and adds
the reading (``... millibips ... (0% to 100%)``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from companies.services import agreement_terms_clean, dividend_declare
from disputes import services as dispute_services
from payouts.connect.accounts import payout_threshold_set
from projects.services.tables import EntryInput, table_propose
from tests.disputes.helpers import disputed_table
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    ConnectedAccountFactory,
    DisputeFactory,
    ProjectFactory,
    UserFactory,
    owner_actor,
)
from tests.faiross.test_no_units_in_ui import UNITS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    # Messages are written in the active language's numbers; an earlier test's request may
    # have left another one active.
    with translation.override("en"):
        yield


def refused(call, field: str) -> str:
    with pytest.raises(ValidationError) as info:
        call()
    text = " ".join(info.value.message_dict[field])
    return text


def test_payout_threshold_out_of_range_is_said_in_money():
    account = ConnectedAccountFactory()
    text = refused(lambda: payout_threshold_set(account=account, amount=1), "threshold")
    assert text == "The threshold must be from $5.00 to $10,000,000,000.00."
    text = refused(lambda: payout_threshold_set(account=account, amount="5"), "threshold")
    assert not UNITS.search(text)


def _terms(kind, **data):
    """A call of ``agreement_terms_clean`` for a new company's ``kind`` agreement."""
    company = CompanyFactory(kind="vc_fund" if kind == "carry" else "startup")
    base = {"currency": "usd", "start_date": dt.date.today().isoformat()}
    return lambda: agreement_terms_clean(kind=kind, company=company, data={**base, **data})


def test_agreement_shares_are_said_in_percent():
    text = refused(_terms("dividend", share_millibips=6_000_000), "share_millibips")
    assert text == "The share must be from 0.00001% to 50%."
    equity = {
        "share_millibips": 50_000,
        "share_count": 10,
        "share_class": "Common",
        "vesting_months": 48,
        "time_vesting_millibips": 10_000_001,
        "milestones": [{"title": "Series A", "millibips": 0}],
    }
    assert refused(_terms("equity", **equity), "time_vesting_millibips") == (
        "The part vesting over time must be from 0% to 100%."
    )
    assert refused(_terms("equity", **equity), "milestones") == (
        "milestone 1 (Series A): its part must be from 0.00001% to 100%."
    )


def test_a_pledge_above_the_limit_is_said_in_its_money():
    text = refused(
        _terms("pledge", amount=10**12, developers=2, period="monthly", currency="eur"), "amount"
    )
    assert text == "The pledge per period (amount x developers) must be at most €10,000,000,000.00."


def test_a_recorded_amount_out_of_range_is_said_in_the_agreements_money():
    agreement = AgreementFactory(kind="dividend", currency="eur")
    actor = owner_actor(agreement.company.owner_key)

    def declare(amount):
        return lambda: dividend_declare(
            agreement=agreement,
            actor=actor,
            amount=amount,
            currency="eur",
            declared_on="2024-06-30",
        )

    assert refused(declare(10**16), "amount") == (
        "The amount must be from €0.01 to €10,000,000,000,000.00."
    )
    # a 50% share of the largest dividend is above the invoice limit
    big = AgreementFactory(kind="dividend", currency="usd", share_millibips=5_000_000)
    text = refused(
        lambda: dividend_declare(
            agreement=big,
            actor=owner_actor(big.company.owner_key),
            amount=10**15,
            currency="usd",
            declared_on="2024-06-30",
        ),
        "amount",
    )
    assert "($5,000,000,000,000.00)" in text and "$10,000,000,000.00" in text
    assert not UNITS.search(text)


def test_table_refusals_are_said_in_percent():
    steward = UserFactory()
    ProjectFactory(slug="numpy", steward=steward)
    ProjectFactory(slug="python")

    def propose(*entries):
        return lambda: table_propose(
            owner_key="project:numpy", actor=steward, entries=[EntryInput(*e) for e in entries]
        )

    text = refused(
        propose(("project:python", 6_000_000), ("user:" + steward.username, 4_000_001)), "entries"
    )
    assert "The rows add up to 100.00001%, more than 100%." in text
    text = refused(propose(("project:python", 0)), "entries")
    assert "must be positive (above 0%)" in text and not UNITS.search(text)
    text = refused(propose(("project:python", 10_000_001)), "entries")
    assert "100.00001% is more than 100%" in text and not UNITS.search(text)


def test_dispute_amounts_are_said_in_money():
    world = disputed_table(ombudsmen=("dana",))
    dispute = DisputeFactory(filer=world.carol, target=f"table_entry:{world.entry.pk}")
    ombudsman = world.dana
    text = refused(
        lambda: dispute_services.dispute_stake_set(
            dispute=dispute, actor=ombudsman, amount=10**13, currency="eur", reason="r"
        ),
        "amount",
    )
    assert text == "The amount must be from €0.01 to €10,000,000,000.00."
    text = refused(
        lambda: dispute_services.hold_place(
            dispute=dispute, actor=ombudsman, amount="12", currency="usd", reason="r"
        ),
        "amount",
    )
    assert not UNITS.search(text)
