"""Projects, their people and their share tables.

Share-table versions (and so their entries and approvals) are proposed through
``table_propose``, the way the editor does: entries are resolved, checked and activated by
the same rules as in production.
"""

from __future__ import annotations

from typing import Any

import factory

from companies.models import CompanyMember
from projects.models import (
    Approval,
    Invitation,
    KnownDependency,
    Membership,
    Project,
    ProjectPurl,
    RecipientKey,
    ShareTable,
    TableEntry,
    TableVersion,
)
from projects.services.tables import (
    EntryInput,
    table_for_owner,
    table_propose,
    table_version_approve,
)

from .base import ServiceFactory
from .users import UserFactory


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    repo_url = factory.LazyAttribute(lambda o: f"https://github.com/example/{o.slug}")
    status = Project.Status.CLAIMED

    @factory.post_generation
    def steward(self, create, extracted, **kwargs):
        """``ProjectFactory(steward=user)`` makes ``user`` the project's steward."""
        if create and extracted is not None:
            MembershipFactory(project=self, user=extracted, role=Membership.Role.STEWARD)

    @factory.post_generation
    def table(self, create, extracted, **kwargs):
        """``ProjectFactory(table=[("github:octocat", 1_000_000)])`` proposes the project's
        table (by its steward, made when there is none): active at once."""
        if create and extracted is not None:
            TableVersionFactory(owner_key=f"project:{self.slug}", entries=extracted)


class ProjectPurlFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectPurl

    project = factory.SubFactory(ProjectFactory)
    purl = factory.Sequence(lambda n: f"pkg:pypi/package-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.STEWARD


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation by email address (``project_invite`` would also mail it)."""

    class Meta:
        model = Invitation

    project = factory.SubFactory(ProjectFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.org")
    role = Membership.Role.MAINTAINER
    token = factory.Sequence(lambda n: f"project-invitation-token-{n:08d}")
    invited_by = factory.LazyAttribute(
        lambda o: MembershipFactory(project=o.project, role=Membership.Role.STEWARD).user
    )


class RecipientKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecipientKey
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"github:contributor-{n}")


class KnownDependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnownDependency

    project = factory.SubFactory(ProjectFactory)
    dependency = factory.SubFactory(ProjectFactory)
    kind = "runtime"


def owner_actor(owner_key: str) -> Any:
    """Someone who may propose on the table of ``owner_key``: a steward of the project or
    an owner of the company, made when there is none."""
    kind, _, slug = owner_key.partition(":")
    if kind == "project":
        steward = Membership.objects.filter(
            project__slug=slug, role=Membership.Role.STEWARD
        ).first()
        if steward is not None:
            return steward.user
        project = Project.objects.filter(slug=slug).first() or ProjectFactory(slug=slug)
        return MembershipFactory(project=project, role=Membership.Role.STEWARD).user
    if kind == "company":
        from .companies import CompanyFactory, CompanyMemberFactory

        owner = CompanyMember.objects.filter(
            company__slug=slug, role=CompanyMember.Role.OWNER
        ).first()
        if owner is not None:
            return owner.user
        return CompanyMemberFactory(
            company=CompanyFactory(slug=slug), role=CompanyMember.Role.OWNER
        ).user
    raise ValueError(f"no table owner kind for {owner_key!r}")


class ShareTableFactory(ServiceFactory):
    """The table of a project (``table_for_owner``); no version yet."""

    class Meta:
        model = ShareTable

    owner_key = factory.LazyFunction(lambda: f"project:{ProjectFactory().slug}")

    @classmethod
    def _create(cls, model_class, *, owner_key, **kwargs):
        table = table_for_owner(owner_key=owner_key)
        if kwargs:
            ShareTable.objects.filter(pk=table.pk).update(**kwargs)
            table.refresh_from_db()
        return table


class TableVersionFactory(ServiceFactory):
    """A version proposed through ``table_propose`` by a steward (active at once when the
    proposer's approval meets the quorum, as with a sole steward).

    ``TableVersionFactory(owner_key="company:acme", actor=owner, entries=[("project:numpy",
    6_000_000)])``; entries are :class:`EntryInput` or ``(recipient, millibips)`` pairs.
    ``project=p`` is short for ``owner_key=f"project:{p.slug}"``.
    """

    class Meta:
        model = TableVersion

    class Params:
        project = None

    owner_key = factory.LazyAttribute(lambda o: f"project:{(o.project or ProjectFactory()).slug}")
    actor = factory.LazyAttribute(lambda o: owner_actor(o.owner_key))
    entries = factory.Sequence(lambda n: [EntryInput(f"github:contributor-{n}", 1_000_000)])
    source = "editor"
    note = ""

    @classmethod
    def _create(cls, model_class, *, owner_key, actor, entries, **kwargs):
        return table_propose(
            owner_key=owner_key,
            actor=actor,
            entries=[e if isinstance(e, EntryInput) else EntryInput(*e) for e in entries],
            **kwargs,
        )


class TableEntryFactory(ServiceFactory):
    """One entry, in a new version of its table holding just that entry."""

    class Meta:
        model = TableEntry

    class Params:
        project = None

    owner_key = factory.LazyAttribute(lambda o: f"project:{(o.project or ProjectFactory()).slug}")
    actor = factory.LazyAttribute(lambda o: owner_actor(o.owner_key))
    recipient = factory.Sequence(lambda n: f"github:contributor-{n}")
    millibips = 1_000_000
    note = ""

    @classmethod
    def _create(cls, model_class, *, owner_key, actor, recipient, millibips, note):
        version = TableVersionFactory(
            owner_key=owner_key, actor=actor, entries=[EntryInput(recipient, millibips, note)]
        )
        return version.entries.get()


class ApprovalFactory(ServiceFactory):
    """``ApprovalFactory(version=v, user=steward)`` approves through
    ``table_version_approve``; without them, the proposer's approval of a new version."""

    class Meta:
        model = Approval

    version = None
    user = None

    @classmethod
    def _create(cls, model_class, *, version, user):
        if version is None:
            if user is None:
                return TableVersionFactory().approvals.get()
            version = TableVersionFactory(project=ProjectFactory(steward=user), actor=user)
            return version.approvals.get()
        user = user or owner_actor(version.table.owner_key)
        table_version_approve(version=version, actor=user)
        return version.approvals.get(user=user)
