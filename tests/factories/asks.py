"""Company asks: feature requests (filed and moved on by the services), contributor profiles
and contact requests.

``FeatureRequestFactory()`` makes a company whose table names a new project (with a steward)
and files a request through ``feature_request_file``; ``status="delivered"`` (or any step on
the way) takes it there through the services. ``bounty=(amount, "usd")`` first credits the
company's reserve with that amount, so the hold is covered.
"""

from __future__ import annotations

import factory

from asks.models import ContactRequest, ContributorProfile, FeatureRequest
from asks.services import (
    contact_request_report,
    contact_request_send,
    contributor_profile_update,
    feature_request_accept,
    feature_request_confirm,
    feature_request_decline,
    feature_request_deliver,
    feature_request_file,
    feature_request_start,
    feature_request_withdraw,
)
from companies.models import CompanyMember

from .base import ServiceFactory
from .companies import CompanyFactory
from .payouts import credit
from .projects import ProjectFactory, TableVersionFactory, owner_actor
from .users import UserFactory

S = FeatureRequest.Status
_PATH = {
    S.OPEN: [],
    S.ACCEPTED: ["accept"],
    S.IN_PROGRESS: ["accept", "start"],
    S.DELIVERED: ["accept", "start", "deliver"],
    S.CONFIRMED: ["accept", "start", "deliver", "confirm"],
    S.DECLINED: ["decline"],
    S.WITHDRAWN: ["withdraw"],
}


def funding_company(project, **kwargs):
    """A company whose active table gives ``project`` 50%."""
    company = CompanyFactory(**kwargs)
    TableVersionFactory(owner_key=company.owner_key, entries=[(project.owner_key, 5_000_000)])
    return company


class FeatureRequestFactory(ServiceFactory):
    class Meta:
        model = "asks.FeatureRequest"

    project = factory.SubFactory(ProjectFactory)
    company = factory.LazyAttribute(lambda o: funding_company(o.project))
    title = factory.Sequence(lambda n: f"Feature {n}")
    description = "Please add it."
    links = ()
    milestone = None
    bounty = None
    status = S.OPEN

    @classmethod
    def _create(cls, model_class, *, project, company, status, bounty, **kwargs):
        actor = owner_actor(company.owner_key)
        steward = owner_actor(project.owner_key)
        amount, currency = bounty or (None, "")
        if amount:
            credit(company.owner_key, amount, purpose="reserve", currency=currency)
        (request,) = feature_request_file(
            company=company,
            actor=actor,
            projects=[project],
            bounty_amount=amount,
            bounty_currency=currency,
            **kwargs,
        )
        for step in _PATH[status]:
            if step == "accept":
                feature_request_accept(request=request, actor=steward)
            elif step == "start":
                feature_request_start(request=request, actor=steward)
            elif step == "deliver":
                feature_request_deliver(
                    request=request,
                    actor=steward,
                    evidence=["https://github.com/example/example/pull/1"],
                )
            elif step == "confirm":
                feature_request_confirm(request=request, actor=actor)
            elif step == "decline":
                feature_request_decline(request=request, actor=steward, note="Out of scope.")
            elif step == "withdraw":
                feature_request_withdraw(request=request, actor=actor)
        request.refresh_from_db()
        return request


class RequestEventFactory(ServiceFactory):
    """The 'filed' step of a new request."""

    class Meta:
        model = "asks.RequestEvent"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return FeatureRequestFactory(**kwargs).events.get(action="filed")


def named_contributor(username=None):
    """A person named (10%) in a new project's active table."""
    user = UserFactory(**({"username": username} if username else {}))
    project = ProjectFactory()
    TableVersionFactory(owner_key=project.owner_key, entries=[(f"user:{user.username}", 1_000_000)])
    return user


class ContributorProfileFactory(ServiceFactory):
    """An open profile of a person named in a project table (``contributor_profile_update``)."""

    class Meta:
        model = "asks.ContributorProfile"

    user = factory.LazyFunction(named_contributor)
    visible = True
    headline = "Maintainer of parsers"
    links = ("https://example.org/me",)

    @classmethod
    def _create(cls, model_class, *, user, visible, headline, links):
        return contributor_profile_update(
            user=user, visible=visible, headline=headline, links=list(links)
        )


class ContactRequestFactory(ServiceFactory):
    """A pending request from a company's owner to an opted-in contributor."""

    class Meta:
        model = "asks.ContactRequest"

    company = factory.SubFactory(CompanyFactory)
    contributor = factory.LazyFunction(lambda: ContributorProfileFactory().user)
    sender = None
    message = "We use your parser; may we talk about a job?"

    @classmethod
    def _create(cls, model_class, *, company, contributor, sender, message):
        if sender is None:
            sender = owner_actor(company.owner_key)
        elif not CompanyMember.objects.filter(company=company, user=sender).exists():
            CompanyMember.objects.create(
                company=company, user=sender, role=CompanyMember.Role.OWNER
            )
        if not ContributorProfile.objects.filter(user=contributor, visible=True).exists():
            ContributorProfileFactory(user=contributor)
        return contact_request_send(
            company=company, sender=sender, contributor=contributor.username, message=message
        )


class ContactReportFactory(ServiceFactory):
    """The contributor's report of a new contact request."""

    class Meta:
        model = "asks.ContactReport"

    contact = factory.LazyFunction(lambda: ContactRequestFactory())
    reason = "Spam."

    @classmethod
    def _create(cls, model_class, *, contact: ContactRequest, reason):
        return contact_request_report(contact=contact, reporter=contact.contributor, reason=reason)
