"""Reads about projects and their members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Exists, Manager, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from faiross.kernel.recipients import company_key, recipient_split
from faiross.kernel.shares import FULL_SHARE, format_percent

from .explore import ExploreQuery
from .models import (
    ApiToken,
    Invitation,
    InvitationBase,
    Membership,
    Project,
    ProjectPurl,
    TableVersion,
)

InvitationT = TypeVar("InvitationT", bound=InvitationBase)


def user_is_steward(*, user: User | AnonymousUser, project: Project) -> bool:
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(
        project=project, user=user, role=Membership.Role.STEWARD
    ).exists()


def user_is_member(*, user: User | AnonymousUser, project: Project) -> bool:
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(project=project, user=user).exists()


def invitation_is_for(*, invitation: Invitation | Any, user: User) -> bool:
    """Whether an invitation (a project's or a company's: both have ``user_id`` and
    ``email``) is addressed to ``user``: by account, or by one of their verified addresses."""
    from allauth.account.models import EmailAddress

    if invitation.user_id is not None:
        return bool(invitation.user_id == user.pk)
    return EmailAddress.objects.filter(
        user=user, email__iexact=invitation.email, verified=True
    ).exists()


def invitee_find(*, target: str) -> tuple[User | None, str]:
    """Whom an invitation to ``target`` (a username or an email address, stripped) addresses,
    for a project or a company: ``(the user with that username or verified address, or None;
    the lower-case address, or '' for a username)``. A username must exist; an address need
    not (the invitation waits for whoever verifies it). Raises ``ValidationError`` on
    ``target``."""
    from allauth.account.models import EmailAddress

    if "@" not in target:
        user = User.objects.filter(username__iexact=target).first()
        if user is None:
            raise ValidationError({"target": f"There is no FairOSS user named '{target}'."})
        return user, ""
    try:
        validate_email(target)
    except ValidationError:
        raise ValidationError({"target": f"'{target}' is not a valid email address."}) from None
    address = EmailAddress.objects.filter(email__iexact=target, verified=True).first()
    return (address.user if address else None), target.lower()


def project_list() -> QuerySet[Project]:
    return Project.objects.prefetch_related("purls")


@dataclass(frozen=True)
class ExploreRow:
    project: Project
    received: list[tuple[str, int]]  # (currency, minor units), what reached it so far


@dataclass(frozen=True)
class ExplorePage:
    rows: list[ExploreRow]
    has_next: bool


def project_explore(*, query: ExploreQuery) -> ExplorePage:
    """One page of the explore list: a fixed number of queries whatever the number of
    projects (the rows, their packages, their received money), and never a COUNT: one row
    more than the page is read to know whether there is a next page."""
    from .explore import PAGE_SIZE, explore_money_filter, explore_received_of, received_bounds

    projects = Project.objects.all()
    if query.q:
        matching_purls = ProjectPurl.objects.filter(purl__icontains=query.q)
        projects = projects.filter(
            Q(name__icontains=query.q)
            | Q(slug__icontains=query.q)
            | Q(pk__in=matching_purls.values("project_id"))
        )
    if query.ecosystem:
        prefix = f"pkg:{query.ecosystem}/"
        projects = projects.filter(
            Exists(ProjectPurl.objects.filter(project=OuterRef("pk"), purl__startswith=prefix))
        )
    if query.verified:
        projects = projects.filter(verified_at__isnull=False)
    if query.received or query.funded_by or query.sort == "received":
        low, high = received_bounds(received=query.received, currency=query.currency)
        projects = explore_money_filter.fn(
            projects,
            received=query.received,
            low=low,
            high=high,
            funded_by=company_key(query.funded_by) if query.funded_by else "",
            currency=query.currency,
            sort_received=query.sort == "received",
        )
    if query.sort != "received":
        projects = projects.order_by(Lower("name"), "slug")  # index projects_project_name_slug
    found = list(projects.prefetch_related("purls")[query.offset : query.offset + PAGE_SIZE + 1])
    shown = found[:PAGE_SIZE]
    received = explore_received_of.fn([p.pk for p in shown]) if shown else {}
    return ExplorePage(
        rows=[ExploreRow(p, received.get(p.pk, [])) for p in shown],
        has_next=len(found) > PAGE_SIZE,
    )


def projects_of_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("project").order_by("project__name")


def steward_usernames(*, project: Project) -> list[str]:
    return list(
        project.memberships.filter(role=Membership.Role.STEWARD)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


def pending_invitations_for(
    invitations: Manager[InvitationT], *, user: User
) -> QuerySet[InvitationT]:
    """The pending invitations (a project's or a company's) addressed to ``user``: by account,
    or by one of their verified addresses when no account was named."""
    from allauth.account.models import EmailAddress

    emails = list(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )
    q = Q(user=user)
    for e in emails:
        q |= Q(email__iexact=e, user__isnull=True)
    return invitations.filter(q, status=InvitationBase.Status.PENDING)


def invitations_for_user(*, user: User) -> QuerySet[Invitation]:
    return (
        pending_invitations_for(Invitation.objects, user=user)
        .select_related("project", "invited_by")
        .order_by("-created_at")
    )


# --- share tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    recipient: str
    millibips: int
    project: Project | None
    note: str = ""

    @property
    def kind(self) -> str:
        return recipient_split(self.recipient)[0]

    @property
    def name(self) -> str:
        return recipient_split(self.recipient)[1]


@dataclass(frozen=True)
class TableView:
    owner_key: str
    version: TableVersion | None
    rows: list[TableRow]
    is_default: bool
    default_reason: str

    @property
    def reserve_millibips(self) -> int:
        return FULL_SHARE - sum(r.millibips for r in self.rows)

    @property
    def to_projects(self) -> int:
        return sum(r.millibips for r in self.rows if r.kind == "project")

    @property
    def to_people(self) -> int:
        return sum(r.millibips for r in self.rows if r.kind != "project")


def table_view(*, owner_key: str) -> TableView:
    """The table that moves money now: the active version, else the default table."""
    from .services.tables import default_table_entries

    version = (
        TableVersion.objects.filter(table__owner_key=owner_key, status=TableVersion.Status.ACTIVE)
        .select_related("proposed_by")
        .first()
    )
    if version is not None:
        rows = [
            TableRow(e.recipient, e.millibips, e.project, e.note)
            for e in version.entries.select_related("project").order_by("position")
        ]
        return TableView(owner_key, version, rows, False, "")
    kind, _, ident = owner_key.partition(":")
    project = Project.objects.filter(slug=ident).first() if kind == "project" else None
    rows = []
    if project is not None:
        slugs = {}
        entries = default_table_entries(project=project)
        for p in Project.objects.filter(slug__in=[recipient_split(r)[1] for r, _ in entries]):
            slugs[p.slug] = p
        rows = [TableRow(r, m, slugs.get(recipient_split(r)[1])) for r, m in entries]
    share = settings.FAIROSS_DEFAULT_DEPENDENCY_SHARE
    unclaimed = project is not None and project.status == Project.Status.UNCLAIMED
    reason = (
        "This project has not declared a share table, so FairOSS uses its default table: "
        f"{format_percent(millibips=share)} is split evenly over the dependencies FairOSS knows of "
        f"({len(rows)} now), and the rest is the project's reserve"
        + (", held in escrow until the project is claimed." if unclaimed else ".")
    )
    return TableView(owner_key, None, rows, True, reason)


def table_versions(*, owner_key: str) -> QuerySet[TableVersion]:
    return (
        TableVersion.objects.filter(table__owner_key=owner_key)
        .select_related("proposed_by")
        .prefetch_related("approvals__user")
        .order_by("-number")
    )


@dataclass(frozen=True)
class DiffRow:
    recipient: str
    before: int | None
    after: int | None

    @property
    def change(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed" if self.before != self.after else "same"


def version_diff(*, before: TableVersion, after: TableVersion) -> list[DiffRow]:
    a = dict(before.entries.values_list("recipient", "millibips"))
    b = dict(after.entries.values_list("recipient", "millibips"))
    order = list(b) + [r for r in a if r not in b]
    return [DiffRow(r, a.get(r), b.get(r)) for r in order]


def api_tokens_of_user(*, user: User) -> QuerySet[ApiToken]:
    """A person's API tokens, newest first (revoked ones too, marked by ``revoked_at``)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")
