"""The rules every invitation follows, a project's or a company's (``InvitationBase``).

The group's own service checks who may act and which roles exist, then calls these; each runs
inside the caller's transaction. Companies use them too (companies may import projects).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from ..models import InvitationBase
from ..selectors import InvitationT, invitation_is_for, invitee_find


def invitation_create(
    *,
    group: Any,
    members: models.Manager[Any],
    invitations: models.Manager[InvitationT],
    target: str,
    role: str,
    actor: User,
    answer_url_name: str,
    already_invited: str,
) -> InvitationT:
    """Invite ``target`` (a username or an email address, stripped) to ``group`` as ``role``
    and mail them a link to ``answer_url_name`` once the transaction commits.

    Locks ``group`` (which has a ``name``), so two invitations of one person cannot race.
    Refuses a member of ``members`` and a person with a pending invitation among
    ``invitations`` (``already_invited`` says the latter, after the target).
    """
    type(group)._default_manager.select_for_update().get(pk=group.pk)
    user, email = invitee_find(target=target)
    if user is not None and members.filter(user=user).exists():
        raise ValidationError({"target": f"{target} is already a member of {group.name}."})
    pending = invitations.filter(status=InvitationBase.Status.PENDING)
    if (user is not None and pending.filter(user=user).exists()) or (
        email and pending.filter(email__iexact=email).exists()
    ):
        raise ValidationError({"target": f"{target} {already_invited}"})
    invitation = invitations.create(
        email=email, user=user, role=role, token=secrets.token_urlsafe(32), invited_by=actor
    )
    recipient = email or getattr(user, "email", "")
    if recipient:
        link = settings.SITE_URL + reverse(answer_url_name, kwargs={"token": invitation.token})
        transaction.on_commit(
            lambda: send_mail(
                subject=f"[FairOSS] You are invited to {group.name}",
                message=(
                    f"{actor} invites you to join {group.name} on FairOSS as {role}.\n\n"
                    f"Answer here: {link}\n"
                ),
                from_email=None,
                recipient_list=[recipient],
            )
        )
    return invitation


def invitation_lock_pending(invitation: InvitationT) -> InvitationT:
    """The invitation, locked; refused unless it is still pending."""
    locked: InvitationT = (
        type(invitation)._default_manager.select_for_update().get(pk=invitation.pk)
    )
    if locked.status != InvitationBase.Status.PENDING:
        raise ValidationError({"invitation": f"This invitation is already {locked.status}."})
    return locked


def invitation_lock_for(invitation: InvitationT, *, user: User, someone_else: str) -> InvitationT:
    """The invitation, locked, when it is pending and addressed to ``user``; otherwise
    ``PermissionDenied(someone_else)`` for a person it is not addressed to."""
    invitation = invitation_lock_pending(invitation)
    if not invitation_is_for(invitation=invitation, user=user):
        raise PermissionDenied(someone_else)
    return invitation


def invitation_close(invitation: InvitationBase, *, status: str, user: User | None = None) -> None:
    """Record the answer (``status``; ``user``, who answered, when given) and when it came."""
    invitation.status = status
    fields = ["status", "answered_at"]
    if user is not None:
        invitation.user = user  # type: ignore[attr-defined]
        fields.insert(1, "user")
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=fields)


def invitations_attach(invitations: models.Manager[Any], *, user: User, email: str) -> int:
    """Address the pending invitations to ``email`` to the user who just verified it."""
    return invitations.filter(
        status=InvitationBase.Status.PENDING, email__iexact=email, user__isnull=True
    ).update(user=user)
