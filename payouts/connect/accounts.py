"""People's Stripe Connect (Express) accounts: creation, onboarding links, status, and the
payout threshold each person sets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from faiross.kernel.money import MAX_AMOUNT, money_format
from payouts.connect._common import _get, _stripe
from payouts.models import ConnectedAccount


def connected_account_fields(*, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields for a Stripe account object (a dict from the API or a webhook)."""
    details = bool(_get(data, "details_submitted", default=False))
    payouts = bool(_get(data, "payouts_enabled", default=False))
    transfers = _get(data, "capabilities", "transfers") == "active"
    if payouts and transfers:
        status = ConnectedAccount.Status.ENABLED
    elif not details:
        status = ConnectedAccount.Status.ONBOARDING
    else:
        status = ConnectedAccount.Status.RESTRICTED
    due = _get(data, "requirements", "currently_due", default=[]) or []
    return {
        "status": status,
        "details_submitted": details,
        "payouts_enabled": payouts,
        "transfers_active": transfers,
        "disabled_reason": str(_get(data, "requirements", "disabled_reason", default="") or "")[
            :200
        ],
        "currently_due": [str(x) for x in due][:50],
    }


def connected_account_apply(
    *, account: ConnectedAccount, data: Mapping[str, Any], event_created: dt.datetime | None = None
) -> ConnectedAccount:
    """Store Stripe's view of ``account``. With ``event_created`` (a webhook), an event older
    than the last event applied or the last fetch from the API changes nothing, so events may
    arrive in any order."""
    with transaction.atomic():
        account = ConnectedAccount.objects.select_for_update().get(pk=account.pk)
        if event_created is not None:
            if account.stripe_updated_at and event_created < account.stripe_updated_at:
                return account
            account.stripe_updated_at = event_created
        else:
            # Fetched from the API just now: events created before this second are older.
            fetched = timezone.now().replace(microsecond=0)
            if account.stripe_updated_at is None or account.stripe_updated_at < fetched:
                account.stripe_updated_at = fetched
        for name, value in connected_account_fields(data=data).items():
            setattr(account, name, value)
        account.refreshed_at = timezone.now()
        account.save()
    return account


def connected_account_get_or_create(*, user: Any) -> ConnectedAccount:
    """The user's connected account, creating the Stripe Express account on first use.

    Idempotent: the Stripe call's idempotency key derives from the user id, and the row is
    unique per user (a concurrent second call returns the first row).
    """
    existing = ConnectedAccount.objects.filter(user=user).first()
    if existing is not None:
        return existing
    params: dict[str, Any] = {
        "type": "express",
        "country": settings.STRIPE_CONNECT_COUNTRY,
        "capabilities": {"transfers": {"requested": True}},
        "metadata": {"faiross_user": str(user.pk), "faiross_username": user.get_username()},
    }
    if user.email:
        params["email"] = user.email
    data = _stripe().v1.accounts.create(
        params=params, options={"idempotency_key": f"faiross-connect-account-user-{user.pk}"}
    )
    try:
        with transaction.atomic():
            account = ConnectedAccount.objects.create(
                user=user, stripe_account_id=data.id, **connected_account_fields(data=data)
            )
    except IntegrityError:
        return ConnectedAccount.objects.get(user=user)
    return account


def connected_account_refresh(*, account: ConnectedAccount) -> ConnectedAccount:
    """Fetch the account from Stripe and store its status."""
    data = _stripe().v1.accounts.retrieve(account.stripe_account_id)
    return connected_account_apply(account=account, data=data)


def connected_account_link(*, account: ConnectedAccount, return_url: str, refresh_url: str) -> str:
    """A fresh single-use onboarding link (Stripe's expire after minutes: make one per click)."""
    link = _stripe().v1.account_links.create(
        params={
            "account": account.stripe_account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
    )
    return str(link.url)


def payout_threshold_set(*, account: ConnectedAccount, amount: object) -> ConnectedAccount:
    """Set the person's payout threshold (minor units, at least the configured minimum).

    Its refusals reach the get-paid form, so they speak money: the threshold is one number
    for every currency, written as the page writes it (in dollars)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError({"threshold": "Give an amount of money, e.g. 25.00."})
    minimum = settings.FAIROSS_PAYOUT_THRESHOLD_MIN
    if not minimum <= amount <= MAX_AMOUNT:
        low, high = (money_format(amount=a, currency="usd") for a in (minimum, MAX_AMOUNT))
        raise ValidationError({"threshold": f"The threshold must be from {low} to {high}."})
    account.payout_threshold = amount
    account.save(update_fields=["payout_threshold"])
    return account


def payout_threshold_of(*, account: ConnectedAccount | None) -> int:
    default = settings.FAIROSS_PAYOUT_THRESHOLD_DEFAULT
    value = account.payout_threshold if account and account.payout_threshold else default
    return max(int(value), settings.FAIROSS_PAYOUT_THRESHOLD_MIN)
