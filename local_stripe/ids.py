"""Stripe-style object ids."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """An id such as ``tr_3PxY...``: the usual prefix, an underscore, random alphanumerics."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_token(length: int = 32) -> str:
    """An unguessable token for URLs (onboarding links)."""
    return secrets.token_urlsafe(length)
