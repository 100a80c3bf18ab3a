"""Helpers for payout tests (the fixtures are in payout_fixtures)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import stripe

from payouts import services
from payouts.ledger import PLATFORM, Leg, ledger_post
from payouts.models import ConnectedAccount, LedgerTransaction, Payout
from tests.factories import CompanyFactory, UserFactory

_refs = itertools.count(1)


def credit(
    recipient: str, amount: int, *, purpose: str = "available", currency: str = "usd"
) -> None:
    """Put money in ``recipient``'s account the way a run does: inflow → pool → recipient."""
    company = CompanyFactory.create(slug="acme")
    ref = f"test-{next(_refs)}-{time.monotonic_ns()}"
    services.inflow_record(company=company, amount=amount, currency=currency, reference=ref)
    ledger_post(
        idempotency_key=f"test-credit:{ref}",
        kind=LedgerTransaction.Kind.DISTRIBUTION,
        reference=f"test:{ref}",
        legs=[Leg(PLATFORM, "pool", currency, -amount), Leg(recipient, purpose, currency, amount)],
    )


def onboarded(username: str, control: Any, outcome: str = "complete") -> ConnectedAccount:
    """A user with a connected account on the local server, onboarded with ``outcome``."""
    user = UserFactory(username=username)
    account = services.connected_account_get_or_create(user=user)
    control.onboard(account.stripe_account_id, outcome)
    return services.connected_account_refresh(account=account)


def transfers_for(payout: Payout) -> list[Any]:
    """The transfers the local server holds for a payout (by its transfer group)."""
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": stripe.api_base})
    return list(
        client.v1.transfers.list(
            params={"transfer_group": payout.transfer_group, "limit": 100}
        ).data
    )


def signed(payload: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header."""
    body = json.dumps(payload).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    sig = stripe.WebhookSignature._compute_signature(f"{ts}.{body.decode()}", secret)
    return body, f"t={ts},v1={sig}"
