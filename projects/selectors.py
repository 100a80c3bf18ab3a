"""Reads about projects and their members."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import Invitation, Membership, Project


def user_is_steward(*, user: AbstractBaseUser | AnonymousUser, project: Project) -> bool:
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(
        project=project, user=user, role=Membership.Role.STEWARD
    ).exists()


def user_is_member(*, user: AbstractBaseUser | AnonymousUser, project: Project) -> bool:
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(project=project, user=user).exists()


def project_list() -> QuerySet[Project]:
    return Project.objects.prefetch_related("purls")


def projects_of_user(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("project").order_by("project__name")


def steward_usernames(*, project: Project) -> list[str]:
    return list(
        project.memberships.filter(role=Membership.Role.STEWARD)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


def invitations_for_user(*, user: AbstractBaseUser) -> QuerySet[Invitation]:
    from allauth.account.models import EmailAddress

    emails = list(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )
    from django.db.models import Q

    q = Q(user=user)
    for e in emails:
        q |= Q(email__iexact=e, user__isnull=True)
    return (
        Invitation.objects.filter(q, status=Invitation.Status.PENDING)
        .select_related("project", "invited_by")
        .order_by("-created_at")
    )
