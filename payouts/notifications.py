"""E-mail notifications of the money path: each sent at most once, after the commit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from payouts.models import Notification


def _notify(*, key: str, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    """Send one email at most once per ``key`` (after the surrounding transaction commits)."""
    if not to:
        return

    def send() -> None:
        try:
            with transaction.atomic():
                Notification.objects.create(key=key[:300], to=to, subject=subject[:200])
        except IntegrityError:
            return  # sent before
        body = render_to_string(template, {**context, "site_url": settings.SITE_URL})
        send_mail(
            f"[FairOSS] {subject}", body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=True
        )

    transaction.on_commit(send)
