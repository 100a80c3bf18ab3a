"""Regression (found by the simulation, seed 5, step 242): an old payout whose send timed out
or hit Stripe's 409 "idempotency key in use" may still be being made at Stripe, so it is never
failed on a lookup that cannot see that transfer yet (failing it would pay the person twice)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import cast
from unittest import mock

import pytest
import stripe
from django.utils import timezone

from payouts.connect import transfers
from payouts.models import Payout
from tests.factories import PayoutFactory

pytestmark = pytest.mark.django_db


def _client_raising(exc: Exception) -> SimpleNamespace:
    """A Stripe client whose transfer create raises ``exc`` and whose list finds nothing."""
    create = mock.Mock(side_effect=exc)
    listing = mock.Mock(return_value=SimpleNamespace(data=[]))
    return SimpleNamespace(
        v1=SimpleNamespace(transfers=SimpleNamespace(create=create, list=listing))
    )


def _old_pending_payout() -> Payout:
    payout = cast(Payout, PayoutFactory())
    Payout.objects.filter(pk=payout.pk).update(
        created_at=timezone.now() - transfers.FAIL_UNREACHABLE_AFTER - dt.timedelta(hours=1)
    )
    return payout


@pytest.mark.parametrize(
    "error",
    [
        stripe.APIConnectionError("Request timed out"),
        stripe.IdempotencyError("Key in use by a request still running", http_status=409),
    ],
    ids=["timeout", "409-key-in-use"],
)
def test_an_old_payout_that_may_be_in_flight_stays_pending(error):
    payout = _old_pending_payout()
    with mock.patch.object(transfers, "_stripe", return_value=_client_raising(error)):
        result = transfers.payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    assert result == transfers.SendResult.RETRY
    assert payout.status == Payout.Status.PENDING  # the money stays in transit, not returned


def test_an_old_payout_stripe_answered_with_a_500_and_no_transfer_fails():
    payout = _old_pending_payout()
    error = stripe.APIError("Internal error", http_status=500)
    with mock.patch.object(transfers, "_stripe", return_value=_client_raising(error)):
        result = transfers.payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    assert result == transfers.SendResult.FAILED
    assert payout.status == Payout.Status.FAILED
