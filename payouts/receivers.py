"""Signal receivers stay thin: after a sign-in or a confirmed email address, tell the person
when money waits for an identity they have now proven (they claim it on Earnings)."""

from __future__ import annotations

import contextlib
from typing import Any

from allauth.account.signals import email_confirmed, user_logged_in
from django.contrib import messages
from django.dispatch import receiver

from . import selectors


def _tell(request: Any, user: Any) -> None:
    if request is None or user is None or not getattr(user, "is_authenticated", False):
        return
    waiting = [c for c in selectors.claimable_escrow(user=user) if c["claimed_by"] is None]
    if waiting:
        names = ", ".join(sorted({str(c["identity"]) for c in waiting}))
        with contextlib.suppress(messages.MessageFailure):
            messages.info(request, f"Money is waiting for {names}: claim it on your Earnings page.")


@receiver(user_logged_in)
def _money_waiting_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _tell(request, user)


@receiver(email_confirmed)
def _money_waiting_on_email(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    _tell(request, email_address.user)
