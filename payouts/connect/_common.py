"""Helpers shared by the Connect modules: the Stripe client, reading Stripe objects, and the
recipient key of a person."""

from __future__ import annotations

from typing import Any

from faiross.kernel.recipients import user_key
from payouts.stripe_client import stripe_client


def _stripe() -> Any:
    return stripe_client()


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    """``obj[a][b]...`` for dicts and StripeObjects alike; ``default`` when anything is missing."""
    for key in path:
        if obj is None:
            return default
        try:
            obj = obj[key]
        except (KeyError, TypeError, IndexError):
            return default
    return default if obj is None else obj


def recipient_of_user(*, user: Any) -> str:
    return user_key(user.get_username())
