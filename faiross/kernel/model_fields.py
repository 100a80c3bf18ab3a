"""Model fields that several apps declare the same way (factories: each call is a new field)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def user_fk(related_name: str = "+", *, optional: bool = False) -> models.ForeignKey:
    """A protected foreign key to a user (``optional``: may be empty)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=optional,
        blank=optional,
        on_delete=models.PROTECT,
        related_name=related_name,
    )


def actor_fk(*, blank: bool = True) -> models.ForeignKey:
    """Who did something (created, recorded, started or ended a row): a user, emptied when
    that user is deleted (``blank``: forms may leave it empty too)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=blank,
        on_delete=models.SET_NULL,
        related_name="+",
    )
