"""E-mail notifications of the money path, each sent at most once, after the commit.

People with an account are told through ``projects.notifications`` (their preferences decide;
:func:`user_notify`, :func:`run_credited_notify`); an identity not on FairOSS yet (an
``email:`` recipient waiting in escrow) has no preferences and is mailed by :func:`_notify`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from faiross.kernel.money import money_format
from faiross.kernel.recipients import recipient_split
from payouts.models import Account, DistributionRun, Notification, RunAllocation
from projects.notifications import (
    RUN_CREDITED,
    NotificationDraft,
    notification_send,
    notifications_send_many,
)


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


def user_notify(
    *, key: str, user: User, kind: str, subject: str, template: str, context: dict[str, Any]
) -> None:
    """Tell ``user`` (their preference for ``kind`` decides) with the text of ``template``,
    once per ``key``. Precondition: inside the transaction of the event."""
    body = render_to_string(template, {**context, "site_url": settings.SITE_URL})
    notification_send(user=user, kind=kind, subject=subject, body=body.strip(), key=key)


def run_credited_notify(*, run: DistributionRun) -> int:
    """Tell each person ``run`` credited (``user:`` allocations) their own amount, per
    currency, and nothing about anyone else. Precondition: the run was just marked done, in
    the caller's transaction. A constant number of queries, whatever the number of people.
    Returns how many were told."""
    amounts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    rows = RunAllocation.objects.filter(run=run, recipient__startswith="user:").values_list(
        "recipient", "currency", "purpose", "amount"
    )
    for recipient, currency, purpose, amount in rows:
        total = amounts[recipient_split(recipient)[1]][currency]
        total[0] += amount
        if purpose == Account.Purpose.HELD:
            total[1] += amount
    if not amounts:
        return 0
    earnings = reverse("payouts:earnings")
    drafts = []
    for user in User.objects.filter(username__in=list(amounts)).order_by("pk"):
        lines = []
        for currency, (credited, held) in sorted(amounts[user.username].items()):
            line = f"- {money_format(amount=credited, currency=currency)}"
            if held:
                line += (
                    f" ({money_format(amount=held, currency=currency)} of it is held while a "
                    "dispute is open)"
                )
            lines.append(line)
        money = "\n".join(lines)
        drafts.append(
            NotificationDraft(
                user,
                f"Distribution run {run.pk} credited you",
                f"Hello {user.username},\n\nDistribution run {run.pk} finished and credited "
                f"you:\n\n{money}\n\nIt is paid out to your Stripe account once your balance "
                "reaches your payout threshold. Your earnings and what each credit came from:",
                earnings,
                f"run:{run.pk}:credited:{user.pk}",
            )
        )
    return len(notifications_send_many(kind=RUN_CREDITED, drafts=drafts))
