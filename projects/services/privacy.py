"""A person's privacy choices (money rule 9: private by default, public only by opt-in)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from ..models import UserProfile


@transaction.atomic
def user_profile_privacy_set(*, user: User, public: bool) -> UserProfile:
    """Record whether ``user``'s profile (what they received) is public.

    Preconditions: ``user`` is a saved, signed-in user acting for themselves.
    Invariant: exactly one profile row per user; nothing else about the user changes.
    """
    profile, _ = UserProfile.objects.select_for_update().get_or_create(user=user)
    if profile.public != public:
        profile.public = public
        profile.save(update_fields=["public", "updated_at"])
    return profile
