"""The signed-in user of a request, typed as the project's concrete user model."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request


def signed_in_user(request: HttpRequest | Request) -> User:
    """Return ``request.user`` narrowed to ``User``; raise ``PermissionDenied`` when anonymous.

    For views behind ``@login_required`` or DRF's ``IsAuthenticated*`` permissions on write
    methods the user is always signed in, so this only narrows the type.
    """
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        return user
    raise PermissionDenied("Sign in first.")
