"""Cash in by Stripe Checkout (the local server) and by wire; cash out by Connect payout."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from market.models import Deposit, Withdrawal
from market.services import cash
from payouts.models import Payout

from .primary_helpers import bal, broker_dealer

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]
pytestmark = pytest.mark.django_db


def open_page(url, form=None):
    from tests.payouts.stripe_fixtures import open_page as real

    return real(url, form)


BACK = "http://testserver/market/me/?deposit={CHECKOUT_SESSION_ID}"


def test_a_card_deposit_is_credited_once_less_its_fee(stripe_settings, ledger_checked):
    from tests.factories import UserFactory

    ivy = UserFactory(username="ivy")
    deposit = cash.deposit_checkout_start(
        investor=ivy, amount=10_000, currency="usd", success_url=BACK, cancel_url=BACK
    )
    assert deposit.checkout_url.startswith(stripe_settings.base_url)
    # Not paid yet: nothing credited.
    assert cash.deposit_checkout_confirm(deposit=deposit).status == Deposit.Status.PENDING
    status, _, location = open_page(deposit.checkout_url, {"action": "pay"})
    assert status == 303 and deposit.checkout_session_id in location
    fee = cash.card_fee(amount=10_000)
    assert fee == 290 + 30  # 2.9% of $100.00 plus $0.30
    assert cash.deposit_checkout_confirm(deposit=deposit).status == Deposit.Status.COMPLETED
    assert cash.deposits_reconcile() == 0  # already credited: nothing twice
    assert bal("user:ivy", "cash") == 10_000 - fee
    assert bal("platform", "fees") == fee


def test_checkout_returns_only_to_faiross(stripe_settings):
    from tests.factories import UserFactory

    with pytest.raises(ValidationError, match="own site"):
        cash.deposit_checkout_start(
            investor=UserFactory(),
            amount=10_000,
            currency="usd",
            success_url="https://evil.example/",
            cancel_url=BACK,
        )


def test_wires_are_recorded_by_the_broker_dealer_once_per_reference(db, ledger_checked):
    from tests.factories import StaffFactory, UserFactory

    ivy = UserFactory(username="ivy")
    bea = broker_dealer()
    with pytest.raises(PermissionDenied):
        cash.deposit_wire_record(
            investor=ivy, actor=StaffFactory(), amount=100, currency="usd", reference="W1"
        )
    first = cash.deposit_wire_record(
        investor=ivy, actor=bea, amount=50_000, currency="usd", reference="W1"
    )
    again = cash.deposit_wire_record(
        investor=ivy, actor=bea, amount=50_000, currency="usd", reference="W1"
    )
    assert first.pk == again.pk and bal("user:ivy", "cash") == 50_000
    with pytest.raises(ValidationError, match="recorded already"):
        cash.deposit_wire_record(
            investor=UserFactory(), actor=bea, amount=50_000, currency="usd", reference="W1"
        )


def test_cash_out_pays_the_connect_account(stripe_settings, ledger_checked):
    from tests.payouts.payout_helpers import onboarded

    account = onboarded("ivy", stripe_settings)
    ivy = account.user
    cash.deposit_wire_record(
        investor=ivy, actor=broker_dealer(), amount=5_000, currency="usd", reference="W9"
    )
    with pytest.raises(ValidationError, match="cash balance"):
        cash.withdrawal_request(user=ivy, currency="usd", amount=6_000)
    w = cash.withdrawal_request(user=ivy, currency="usd", amount=4_000)
    assert w.status == Withdrawal.Status.SENT
    payout = Payout.objects.get(pk=w.payout_id)
    assert (payout.amount, payout.destination) == (4_000, account.stripe_account_id)
    assert bal("user:ivy", "cash") == 1_000
    call_command("ledger_check", stdout=StringIO())


def test_distributions_can_be_kept_as_market_cash(db, ledger_checked):
    from tests.factories import UserFactory, credit

    ivy = UserFactory(username="ivy")
    credit("user:ivy", 2_500)
    assert cash.available_to_cash(user=ivy, currency="usd", amount=2_000) == 2_000
    assert bal("user:ivy", "available") == 500
    with pytest.raises(ValidationError, match="available balance"):
        cash.available_to_cash(user=ivy, currency="usd", amount=501)
