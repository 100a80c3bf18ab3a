"""Projects, their people and their share tables.

Share-table versions (and so their entries and approvals) are proposed through
``table_propose``, the way the editor does: entries are resolved, checked and activated by
the same rules as in production.
"""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from companies.models import CompanyMember
from projects.models import (
    Membership,
    Project,
    ShareTable,
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
        model = "projects.Project"
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    repo_url = factory.LazyAttribute(lambda o: f"https://github.com/example/{o.slug}")
    status = Project.Status.CLAIMED
    # Most tests are about money flowing through tables, which needs a verified project;
    # ``ProjectFactory(unverified=True)`` makes one whose table routes nothing yet.
    verified_at = factory.LazyAttribute(
        lambda o: None if o.status == Project.Status.UNCLAIMED else timezone.now()
    )

    class Params:
        unverified = factory.Trait(verified_at=None)

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
        model = "projects.ProjectPurl"

    project = factory.SubFactory(ProjectFactory)
    purl = factory.Sequence(lambda n: f"pkg:pypi/package-{n}")


class MemberFactoryBase(factory.django.DjangoModelFactory):
    """A user in a group (``MemberBase``): subclasses name the group and the role."""

    class Meta:
        abstract = True

    user = factory.SubFactory(UserFactory)


class MembershipFactory(MemberFactoryBase):
    class Meta:
        model = "projects.Membership"

    project = factory.SubFactory(ProjectFactory)
    role = Membership.Role.STEWARD


class InvitationFactoryBase(factory.django.DjangoModelFactory):
    """A pending invitation by email address (``InvitationBase``; the invite services would
    also mail it), sent by a steward or an owner of its group (made when there is none)."""

    class Meta:
        abstract = True

    email = factory.Sequence(lambda n: f"invitee{n}@example.org")
    token = factory.Sequence(lambda n: f"invitation-token-{n:08d}")
    invited_by = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if kwargs["invited_by"] is None:
            group = model_class(**kwargs).group
            kwargs["invited_by"] = owner_actor(group.owner_key)
        return super()._create(model_class, *args, **kwargs)


class InvitationFactory(InvitationFactoryBase):
    class Meta:
        model = "projects.Invitation"

    project = factory.SubFactory(ProjectFactory)
    role = Membership.Role.MAINTAINER


class RecipientKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "projects.RecipientKey"
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"github:contributor-{n}")


class KnownDependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "projects.KnownDependency"

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
        model = "projects.ShareTable"

    owner_key = factory.LazyFunction(lambda: f"project:{ProjectFactory().slug}")

    @classmethod
    def _create(cls, model_class, *, owner_key, **kwargs):
        table = table_for_owner(owner_key=owner_key)
        if kwargs:
            ShareTable.objects.filter(pk=table.pk).update(**kwargs)
            table.refresh_from_db()
        return table


class ProposalFactoryBase(ServiceFactory):
    """What is proposed on the table of ``owner_key`` (a new project's by default;
    ``project=p`` is short for ``owner_key=f"project:{p.slug}"``) by ``actor``, a steward or
    an owner (made when there is none)."""

    class Meta:
        abstract = True

    class Params:
        project = None

    owner_key = factory.LazyAttribute(lambda o: f"project:{(o.project or ProjectFactory()).slug}")
    actor = factory.LazyAttribute(lambda o: owner_actor(o.owner_key))
    note = ""


class TableVersionFactory(ProposalFactoryBase):
    """A version proposed through ``table_propose`` by a steward (active at once when the
    proposer's approval meets the quorum, as with a sole steward).

    ``TableVersionFactory(owner_key="company:acme", actor=owner, entries=[("project:numpy",
    6_000_000)])``; entries are :class:`EntryInput` or ``(recipient, millibips)`` pairs.
    """

    class Meta:
        model = "projects.TableVersion"

    entries = factory.Sequence(lambda n: [EntryInput(f"github:contributor-{n}", 1_000_000)])
    source = "editor"

    @classmethod
    def _create(cls, model_class, *, owner_key, actor, entries, **kwargs):
        return table_propose(
            owner_key=owner_key,
            actor=actor,
            entries=[e if isinstance(e, EntryInput) else EntryInput(*e) for e in entries],
            **kwargs,
        )


class TableEntryFactory(ProposalFactoryBase):
    """One entry, in a new version of its table holding just that entry."""

    class Meta:
        model = "projects.TableEntry"

    recipient = factory.Sequence(lambda n: f"github:contributor-{n}")
    millibips = 1_000_000

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
        model = "projects.Approval"

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


class IdempotencyRecordFactory(factory.django.DjangoModelFactory):
    """The kept answer of an ``Idempotency-Key``; ``status_code=None`` is a request still in
    progress."""

    class Meta:
        model = "projects.IdempotencyRecord"

    user = factory.SubFactory(UserFactory)
    key = factory.Sequence(lambda n: f"key-{n}")
    method = "POST"
    path = "/api/v1/companies/"
    request_hash = "0" * 64
    status_code = 201
    response_body = factory.LazyFunction(lambda: {"id": 1})


class UserProfileFactory(factory.django.DjangoModelFactory):
    """A person's privacy choice: private (the default) unless ``public=True``."""

    class Meta:
        model = "projects.UserProfile"
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)
    public = False


class ProjectVerificationFactory(ServiceFactory):
    """A proof of ownership recorded by staff by hand (``project_verify_by_staff``), for a
    project that was unverified (a new one unless ``project=`` names it)."""

    class Meta:
        model = "projects.ProjectVerification"

    project = factory.SubFactory(ProjectFactory, unverified=True)
    user = factory.SubFactory("tests.factories.users.StaffFactory")
    note = "Checked the repository's maintainers list by hand."

    @classmethod
    def _create(cls, model_class, *, project, user, note):
        from projects.verification import project_verify_by_staff

        return project_verify_by_staff(project=project, staff=user, note=note)
