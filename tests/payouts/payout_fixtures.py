"""Fixtures for payout tests: Django pointed at the local Stripe server, paid-up people.

Load with ``pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]``.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.fixture
def stripe_settings(settings, stripe_env, local_stripe):
    """Django's Stripe settings pointed at the (reset) local server; yields its Control."""
    settings.STRIPE_API_BASE = local_stripe.url
    settings.STRIPE_SECRET_KEY = "sk_test_faiross_tests"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_faiross_tests"
    settings.STRIPE_RATE_LIMIT = 0  # no client-side limit in tests (bench_payouts uses it)
    settings.FAIROSS_PAYOUT_THRESHOLD_MIN = 100
    settings.FAIROSS_PAYOUT_THRESHOLD_DEFAULT = 1000
    return stripe_env


@pytest.fixture
def payer(db):
    """The company money comes from: acme, with no members."""
    from tests.factories import CompanyFactory

    return CompanyFactory(slug="acme", name="Acme")


@pytest.fixture
def alice(db, stripe_settings, ledger_checked):
    """alice's connected account, onboarded on the local server, with 123.45 USD available."""
    from tests.payouts.payout_helpers import credit, onboarded

    account = onboarded("alice", stripe_settings)
    credit("user:alice", 12_345)
    return account


@pytest.fixture
def ledger_checked(db):
    """``ledger_check`` must pass after the test."""
    yield
    call_command("ledger_check", stdout=StringIO())
