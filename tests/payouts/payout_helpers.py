"""Helpers for payout tests (the fixtures are in payout_fixtures)."""

from __future__ import annotations

import json
import time
from typing import Any

import stripe

from payouts.connect import accounts
from payouts.models import ConnectedAccount, Payout
from tests.factories import UserFactory
from tests.factories import credit as credit  # re-exported: tests import it from here


def onboarded(username: str, control: Any, outcome: str = "complete") -> ConnectedAccount:
    """A user with a connected account on the local server, onboarded with ``outcome``."""
    user = UserFactory(username=username)
    account = accounts.connected_account_get_or_create(user=user)
    control.onboard(account.stripe_account_id, outcome)
    return accounts.connected_account_refresh(account=account)


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
