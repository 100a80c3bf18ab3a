"""Checks several market services share."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

BROKER_DEALER_PERM = "market.broker_dealer"
BROKER_DEALER_GROUP = "Broker-dealer"


def is_broker_dealer(user: Any) -> bool:
    """Staff of the broker-dealer: the ``market.broker_dealer`` permission (given to the
    "Broker-dealer" group), never just ``is_staff``."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and user.has_perm(BROKER_DEALER_PERM)
    )


def require_broker_dealer(user: Any) -> None:
    if not is_broker_dealer(user):
        raise PermissionDenied("Only the broker-dealer's staff can do this.")


def text_clean(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be text."})
    value = value.strip()
    if required and not value:
        raise ValidationError({field: "This is required."})
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    if "\x00" in value:
        raise ValidationError({field: "Must not contain NUL characters."})
    return value


def positive_int(value: object, *, field: str, maximum: int = 10**15) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: "Must be a whole number."})
    if value <= 0:
        raise ValidationError({field: "Must be positive."})
    if value > maximum:
        raise ValidationError({field: f"Must be at most {maximum}."})
    return value
