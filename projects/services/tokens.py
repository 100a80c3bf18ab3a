"""Personal API tokens: issued to a person who proved who they are, kept only as a hash,
shown once, revocable.

A token is ``fos_`` followed by 43 random URL-safe characters. The database keeps its SHA-256
and its first characters (to tell tokens apart on the settings page), never the key itself,
so a leaked database row cannot be used to call the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from ..models import ApiToken

KEY_PREFIX = "fos_"
PREFIX_LENGTH = 12  # ApiToken.prefix: "fos_" and 8 random characters
NAME_MAX_LENGTH = 100
# A used token's last_used_at is written at most this often, so that a busy script does not
# turn every API read into a database write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenRefused(Exception):
    """The credentials sent for a token are wrong or incomplete (answered with 401).

    ``field`` names what to fix (``"code"`` when the second factor is missing or wrong), or
    is ``None`` for a wrong username or password, which must not say which of them was wrong.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def api_token_hash(key: str) -> str:
    """The SHA-256 (hex) under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _name_clean(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError({"name": "Must be text."})
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the script that uses it."})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": f"At most {NAME_MAX_LENGTH} characters."})
    return name


def _email_verified(user: User) -> bool:
    return EmailAddress.objects.filter(user=user, verified=True).exists()


def api_token_create(*, user: User, name: str, second_factor: bool) -> tuple[ApiToken, str]:
    """Create a token for ``user`` and return it with its key (the only time the key exists).

    Preconditions: ``user`` proved who they are (a signed-in session, or
    :func:`api_token_issue`); ``second_factor`` is True only if that proof included a second
    factor (an MFA-authenticated session, or a valid TOTP code). Refused for accounts without
    a verified email address, for staff accounts without a second factor (a staff token
    can move money and read private data, so one password must not be enough), and beyond
    ``FAIROSS_API_TOKENS_MAX`` active tokens.
    """
    name = _name_clean(name)
    if not user.is_active:
        raise PermissionDenied("This account is inactive.")
    if user.is_staff and not second_factor:
        raise PermissionDenied(
            "Staff accounts get API tokens only with two-factor authentication: turn it on "
            "(Settings → Two-factor authentication), sign in with it, then create the token "
            'here or send the current code as "code".'
        )
    if not _email_verified(user):
        raise PermissionDenied(
            "Verify your email address before creating API tokens "
            "(Settings → Email addresses sends the link again)."
        )
    with transaction.atomic():
        # Lock the person's row so that two requests cannot both pass the cap.
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
        limit = int(settings.FAIROSS_API_TOKENS_MAX)
        if active >= limit:
            raise ValidationError(
                {
                    "name": f"You have {active} active tokens, the most allowed: revoke one "
                    "you no longer use on the settings page first."
                }
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_hash=api_token_hash(key),
            prefix=key[:PREFIX_LENGTH],
            second_factor=bool(second_factor),
        )
    return token, key


def _totp_valid(*, user: User, code: str) -> bool:
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        return False
    # allauth's TOTP check: the code of the current time step (within MFA_TOTP_TOLERANCE
    # steps), each code accepted once.
    return bool(TOTP(authenticator).validate_code(code))


def api_token_issue(
    *, request: HttpRequest, username: str, password: str, code: str = "", name: str = ""
) -> tuple[ApiToken, str]:
    """Check a username (or email address) and password, and the TOTP code when the account
    has two-factor authentication on; then create a token (see :func:`api_token_create`).

    Raises :class:`TokenRefused` for wrong credentials or a missing or wrong code, and
    ``PermissionDenied`` for an account whose email address is not verified. A token issued
    with a valid code counts as obtained with a second factor.
    """
    user = authenticate(request, username=username, password=password)
    if not isinstance(user, User) or not user.is_active:
        raise TokenRefused("Unable to sign in with this username and password.")
    if not _email_verified(user):
        raise PermissionDenied(
            "Verify your email address before creating API tokens: open the link FairOSS "
            "sent you, or sign in on the website to have it sent again."
        )
    from allauth.mfa.utils import is_mfa_enabled

    second_factor = False
    if is_mfa_enabled(user, [Authenticator.Type.TOTP]):
        code = (code or "").strip()
        if not code:
            raise TokenRefused(
                "This account uses two-factor authentication: send the current code from "
                'your authenticator app as "code".',
                field="code",
            )
        if not _totp_valid(user=user, code=code):
            raise TokenRefused(
                "This code is not valid (or was already used): send the current one.",
                field="code",
            )
        second_factor = True
    name = name or "API sign-in (POST /api/v1/auth/token/)"
    return api_token_create(user=user, name=name, second_factor=second_factor)


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens; it stops working at once. Revoking twice changes
    nothing. Another person's token is answered as missing (``ApiToken.DoesNotExist``)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token_id, user=user)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The active token with this key (with its user), or None; records the use.

    ``last_used_at`` moves at most once per :data:`LAST_USED_RESOLUTION`, by a conditional
    update, so concurrent requests write it once.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=api_token_hash(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
