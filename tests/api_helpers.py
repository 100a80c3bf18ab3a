"""Helpers for the API tests."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient


def as_user(user: Any) -> APIClient:
    """An API client signed in as ``user`` (no token or session needed)."""
    client = APIClient()
    client.force_authenticate(user)
    return client
