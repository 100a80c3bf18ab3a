"""Reads of "private by default" (money rule 9): who sees a recipient's email address in
full, and whose money the public may see.

Pages, template filters and API answers ask these functions; the masking itself is the
kernel's :func:`faiross.kernel.recipients.recipient_display`.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth.models import AnonymousUser, User

from faiross.kernel.recipients import email_mask, recipient_display, recipient_label

from .models import UserProfile

# The verified addresses of a viewer, kept on the user object for the rest of the request
# (a page shows many recipients; one query is enough).
_EMAILS_ATTR = "_faiross_verified_emails"


def viewer_is_staff(*, user: User | AnonymousUser | None) -> bool:
    """An active staff member: staff see every private detail."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def verified_emails_of(*, user: User | AnonymousUser | None) -> frozenset[str]:
    """The lower-cased verified addresses of ``user`` (empty for anonymous)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, _EMAILS_ATTR, None)
    if cached is None:
        cached = frozenset(
            a.lower()
            for a in EmailAddress.objects.filter(user_id=user.pk, verified=True).values_list(
                "email", flat=True
            )
        )
        setattr(user, _EMAILS_ATTR, cached)
    return cached


def email_revealed_to(*, address: str, user: User | AnonymousUser | None) -> bool:
    """True when ``user`` may read ``address`` in full: staff, or its verified owner."""
    return viewer_is_staff(user=user) or address.lower() in verified_emails_of(user=user)


def recipient_revealed_to(*, key: str, user: User | AnonymousUser | None) -> bool:
    """True when ``user`` may read recipient ``key`` in full. Only ``email:`` keys are ever
    hidden: tables are public, so projects, users, GitHub logins and packages are not."""
    kind, colon, ident = key.partition(":")
    if not colon or kind != "email":
        return True
    return email_revealed_to(address=ident, user=user)


def recipient_shown(*, key: str, user: User | AnonymousUser | None) -> str:
    """``key`` as ``user`` may see it (``email:z***@example.org`` for everyone else)."""
    return recipient_display(key, reveal=recipient_revealed_to(key=key, user=user))


def recipient_label_shown(*, key: str, user: User | AnonymousUser | None) -> str:
    """``key`` named for a page as ``user`` may see it (see ``recipient_label``)."""
    return recipient_label(key, reveal=recipient_revealed_to(key=key, user=user))


def email_shown(*, address: str, user: User | AnonymousUser | None) -> str:
    """A bare address (a dispute party without an account) as ``user`` may see it."""
    return address if email_revealed_to(address=address, user=user) else email_mask(address)


def public_profile_user(*, username: str) -> User | None:
    """The active user ``username`` when their profile is public, else None."""
    profile = (
        UserProfile.objects.select_related("user")
        .filter(user__username=username, user__is_active=True, public=True)
        .first()
    )
    return profile.user if profile else None
