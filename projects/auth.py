"""Who signed in, and how: the request's user typed as the concrete user model, API token
authentication, and whether this session or token was obtained with a second factor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.account.authentication import get_authentication_records
from django.contrib.auth.middleware import get_user as session_user
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject
from rest_framework import authentication, exceptions
from rest_framework.request import Request

# Set on the user object of a request by the session middleware and the token
# authentication below: True only when this session's sign-in included a second factor or
# this token was obtained with one. A user loaded any other way (a task, a test, the shell)
# has not, so rules that require it fail closed.
_SECOND_FACTOR_ATTR = "_faiross_second_factor"


def signed_in_user(request: HttpRequest | Request) -> User:
    """Return ``request.user`` narrowed to ``User``; raise ``PermissionDenied`` when anonymous.

    For views behind ``@login_required`` or DRF's ``IsAuthenticated*`` permissions on write
    methods the user is always signed in, so this only narrows the type.
    """
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        return user
    raise PermissionDenied("Sign in first.")


def user_second_factor_mark(*, user: User, second_factor: bool) -> User:
    """Record on this user object how the current request authenticated (see module)."""
    setattr(user, _SECOND_FACTOR_ATTR, bool(second_factor))
    return user


def user_signed_in_with_second_factor(*, user: User | AnonymousUser) -> bool:
    """Whether the request this user object came from authenticated with a second factor:
    a session whose sign-in (or a re-authentication) used MFA, or a token issued with one."""
    return user.is_authenticated and getattr(user, _SECOND_FACTOR_ATTR, False) is True


def session_second_factor(request: HttpRequest) -> bool:
    """Whether this session's authentication included a second factor.

    allauth keeps a log of the steps that authenticated the session (password, social
    login, ``mfa``, re-authentication), for the user it names; signing out clears it.
    """
    # The session's user as AuthenticationMiddleware loads it (cached on the request).
    user = session_user(request)
    if not isinstance(user, User) or not user.is_authenticated:
        return False
    return any(
        isinstance(record, dict) and record.get("method") == "mfa"
        for record in get_authentication_records(request, user)
    )


class SessionSecondFactorMiddleware:
    """Marks the session's user with whether the session was obtained with a second factor
    (after ``AuthenticationMiddleware``); the user is still loaded only when used."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user = SimpleLazyObject(lambda: _session_user_marked(request))  # type: ignore[assignment]
        return self.get_response(request)


def _session_user_marked(request: HttpRequest) -> Any:
    user = session_user(request)
    if isinstance(user, User) and user.is_authenticated:
        user_second_factor_mark(user=user, second_factor=session_second_factor(request))
    return user


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>`` with a FairOSS API token (``projects.ApiToken``).

    The header parsing (and its 401 answers) is DRF's; the key is looked up by its hash,
    revoked tokens and inactive accounts are refused. The user comes marked with the token's
    ``second_factor``.
    """

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[User, Any]:
        from .services.tokens import api_token_authenticate

        token = api_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        user = user_second_factor_mark(user=token.user, second_factor=token.second_factor)
        return user, token
