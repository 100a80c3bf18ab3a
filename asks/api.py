"""API v1 of company asks: feature requests and their steps, the milestones they are tied to,
contributor profiles, the contributor search and contact requests.

What a caller may not see answers 404 (a request before acceptance, a company's requests to
outsiders, a profile nobody opted into, a contact request of someone else). Errors of the
services are 400 ``{"field": [...]}`` or 403.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.models import Agreement, Company, Milestone
from companies.services.vesting import equity_vested_millibips
from projects.auth import signed_in_user
from projects.models import Project

from . import selectors, services
from .models import ContactRequest, ContributorProfile, FeatureRequest
from .serializers import (
    ContactReportInput,
    ContactSendInput,
    ContributorQuery,
    DeliverInput,
    NoteInput,
    ProfileInput,
    RejectInput,
    RequestFileInput,
    RequestReviseInput,
)

Obj = OpenApiTypes.OBJECT


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def request_data(req: FeatureRequest, *, party: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": req.pk,
        "company": req.company.slug,
        "company_name": req.company.name,
        "project": req.project.slug,
        "title": req.title,
        "description": req.description,
        "links": list(req.links),
        "status": req.status,
        "milestone": req.milestone_id,
        "evidence": list(req.evidence),
        "delivered_at": req.delivered_at,
        "confirm_by": req.confirm_by,
        "confirmed_at": req.confirmed_at,
        "confirmed_by": req.confirmed_by or None,
        "created_at": req.created_at,
    }
    if party:  # the bounty, the stewards' notes and the dispute: the parties' only
        data.update(
            bounty_amount=req.bounty_amount,
            bounty_currency=req.bounty_currency or None,
            steward_note=req.steward_note,
            dispute=req.dispute_id,
        )
    return data


def _paginated(request: Request, view: APIView, rows: Any, render: Any) -> Response:
    paginator = PageNumberPagination()
    page: list[Any] | None = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response([render(r) for r in page or []])


def _company(request: Request, slug: str) -> Company:
    company = get_object_or_404(Company, slug=slug)
    user = request.user
    if not (user.is_staff or selectors.is_company_member(company=company, user=user)):
        raise Http404
    return company


def _request(request: Request, pk: int) -> FeatureRequest:
    req = get_object_or_404(
        FeatureRequest.objects.select_related("company", "project", "milestone"), pk=pk
    )
    if not selectors.request_visible(request=req, user=request.user):
        raise Http404
    return req


class CompanyRequestsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="asks_company_requests_list", responses={200: Obj})
    def get(self, request: Request, slug: str) -> Response:
        """The company's feature requests (its members and staff)."""
        company = _company(request, slug)
        return _paginated(
            request,
            self,
            selectors.requests_of_company(company=company),
            lambda r: request_data(r, party=True),
        )

    @extend_schema(
        operation_id="asks_company_requests_file", request=RequestFileInput, responses={201: Obj}
    )
    def post(self, request: Request, slug: str) -> Response:
        """File a request to each project (owners and finance members)."""
        company = _company(request, slug)
        data = _valid(RequestFileInput(data=request.data))
        slugs = data["projects"]
        projects = {p.slug: p for p in Project.objects.filter(slug__in=slugs)}
        missing = [s for s in slugs if s not in projects]
        if missing:
            raise serializers.ValidationError(
                {"projects": [f"There is no project '{s}'." for s in missing]}
            )
        milestone = None
        if data.get("milestone") is not None:
            milestone = (
                Milestone.objects.select_related("agreement")
                .filter(pk=data["milestone"], agreement__company=company)
                .first()
            )
            if milestone is None:
                raise serializers.ValidationError(
                    {"milestone": ["There is no such milestone of this company."]}
                )
        created = services.feature_request_file(
            company=company,
            actor=signed_in_user(request),
            projects=[projects[s] for s in slugs],
            title=data["title"],
            description=data["description"],
            links=data.get("links", []),
            milestone=milestone,
            bounty_amount=data.get("bounty_amount"),
            bounty_currency=data.get("bounty_currency", ""),
        )
        return Response(
            {"results": [request_data(r, party=True) for r in created]},
            status=status.HTTP_201_CREATED,
        )


class ProjectRequestsView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(operation_id="asks_project_requests_list", responses={200: Obj})
    def get(self, request: Request, slug: str) -> Response:
        """A project's requests: the accepted ones for everyone, all for its members."""
        project = get_object_or_404(Project, slug=slug)
        rows = selectors.requests_of_project(project=project, user=request.user)
        return _paginated(
            request,
            self,
            rows,
            lambda r: request_data(
                r, party=selectors.request_is_party(request=r, user=request.user)
            ),
        )


class RequestDetailView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(operation_id="asks_requests_retrieve", responses={200: Obj})
    def get(self, request: Request, pk: int) -> Response:
        req = _request(request, pk)
        party = selectors.request_is_party(request=req, user=request.user)
        data = request_data(req, party=party)
        if party:
            data["events"] = [
                {
                    "action": e.action,
                    "actor": e.actor.get_username() if e.actor else None,
                    "note": e.note,
                    "at": e.created_at,
                }
                for e in req.events.select_related("actor")
            ]
        return Response(data)


def _step(name: str, serializer: type[serializers.Serializer] | None, call: Any) -> type[APIView]:
    class StepView(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(
            operation_id=f"asks_requests_{name}", request=serializer, responses={200: Obj}
        )
        def post(self, request: Request, pk: int) -> Response:
            req = _request(request, pk)
            data = _valid(serializer(data=request.data)) if serializer else {}
            done = call(req, signed_in_user(request), data)
            return Response(request_data(done, party=True))

    StepView.__name__ = f"Request{name.title().replace('_', '')}View"
    StepView.__qualname__ = StepView.__name__
    StepView.post.__doc__ = f"The '{name.replace('_', ' ')}' step of a feature request."
    return StepView


RequestAcceptView = _step(
    "accept",
    NoteInput,
    lambda r, u, d: services.feature_request_accept(request=r, actor=u, note=d.get("note", "")),
)
RequestDeclineView = _step(
    "decline",
    NoteInput,
    lambda r, u, d: services.feature_request_decline(request=r, actor=u, note=d.get("note", "")),
)
RequestProposeView = _step(
    "propose_changes",
    NoteInput,
    lambda r, u, d: services.feature_request_propose_changes(
        request=r, actor=u, note=d.get("note", "")
    ),
)
RequestReviseView = _step(
    "revise",
    RequestReviseInput,
    lambda r, u, d: services.feature_request_revise(
        request=r,
        actor=u,
        title=d["title"],
        description=d["description"],
        links=d.get("links", []),
    ),
)
RequestStartView = _step(
    "start", None, lambda r, u, d: services.feature_request_start(request=r, actor=u)
)
RequestDeliverView = _step(
    "deliver",
    DeliverInput,
    lambda r, u, d: services.feature_request_deliver(
        request=r, actor=u, evidence=d["evidence"], note=d.get("note", "")
    ),
)
RequestConfirmView = _step(
    "confirm",
    NoteInput,
    lambda r, u, d: services.feature_request_confirm(request=r, actor=u, note=d.get("note", "")),
)
RequestRejectView = _step(
    "reject",
    RejectInput,
    lambda r, u, d: services.feature_request_reject(request=r, actor=u, reason=d["reason"]),
)
RequestWithdrawView = _step(
    "withdraw", None, lambda r, u, d: services.feature_request_withdraw(request=r, actor=u)
)


class CompanyMilestonesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="asks_company_milestones_list", responses={200: Obj})
    def get(self, request: Request, slug: str) -> Response:
        """The company's equity milestones, with the request each is tied to and the part of
        the stake vested today (time vesting plus milestones met)."""
        company = _company(request, slug)
        today = timezone.localdate()
        agreements = Agreement.objects.filter(company=company, kind=Agreement.Kind.EQUITY)
        tied = {
            r.milestone_id: r
            for r in FeatureRequest.objects.filter(milestone__agreement__company=company).exclude(
                status__in=(FeatureRequest.Status.DECLINED, FeatureRequest.Status.WITHDRAWN)
            )
        }
        return Response(
            {
                "results": [
                    {
                        "agreement": a.pk,
                        "reference": a.reference,
                        "status": a.status,
                        "vested_millibips": equity_vested_millibips(agreement=a, on=today),
                        "milestones": [
                            {
                                "id": m.pk,
                                "title": m.title,
                                "millibips": m.millibips,
                                "met_on": m.met_on,
                                "request": tied[m.pk].pk if m.pk in tied else None,
                                "request_status": tied[m.pk].status if m.pk in tied else None,
                            }
                            for m in a.milestones.all()
                        ],
                    }
                    for a in agreements
                ]
            }
        )


# --- contributors and contact requests ---------------------------------------------------


def card_data(card: selectors.ContributorCard) -> dict[str, Any]:
    return {
        "username": card.username,
        "headline": card.headline,
        "links": card.links,
        "ecosystems": card.ecosystems,
        "projects": [{"project": s, "name": n, "millibips": m} for s, n, m in card.projects],
    }


class ContributorProfileView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="asks_contributor_profile_retrieve", responses={200: Obj})
    def get(self, request: Request) -> Response:
        """The caller's own profile (closed when never opened)."""
        profile = ContributorProfile.objects.filter(user=signed_in_user(request)).first()
        return Response(
            {
                "visible": bool(profile and profile.visible),
                "headline": profile.headline if profile else "",
                "links": list(profile.links) if profile else [],
            }
        )

    @extend_schema(
        operation_id="asks_contributor_profile_update", request=ProfileInput, responses={200: Obj}
    )
    def put(self, request: Request) -> Response:
        data = _valid(ProfileInput(data=request.data))
        profile = services.contributor_profile_update(
            user=signed_in_user(request),
            visible=data["visible"],
            headline=data.get("headline", ""),
            links=data.get("links", []),
        )
        return Response(
            {"visible": profile.visible, "headline": profile.headline, "links": profile.links}
        )


class ContributorsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="asks_contributors_list",
        parameters=[
            OpenApiParameter("project", str, description="A project slug"),
            OpenApiParameter("ecosystem", str, description="A package type: pypi, npm, cargo..."),
        ],
        responses={200: Obj},
    )
    def get(self, request: Request) -> Response:
        """Opted-in contributors (owners and finance members of a company only)."""
        user = signed_in_user(request)
        if not selectors.money_companies_of(user=user).exists():
            raise Http404
        query = _valid(ContributorQuery(data=request.query_params.dict()))
        cards = selectors.contributors_search(
            project=query.get("project", ""), ecosystem=query.get("ecosystem", "")
        )
        return _paginated(request, self, cards, card_data)


def contact_data(contact: ContactRequest, viewer: Any) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "company": contact.company.slug,
        "company_name": contact.company.name,
        "sender": contact.sender.get_username(),
        "contributor": contact.contributor.get_username(),
        "message": contact.message,
        "status": contact.status,
        "created_at": contact.created_at,
        "decided_at": contact.decided_at,
        "email": selectors.contact_email_for(contact=contact, viewer=viewer) or None,
    }


class ContactRequestsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="asks_contact_requests_list", responses={200: Obj})
    def get(self, request: Request) -> Response:
        """Contact requests the caller received or one of their companies sent."""
        user = signed_in_user(request)
        return _paginated(
            request,
            self,
            selectors.contacts_visible_to(user=user),
            lambda c: contact_data(c, user),
        )

    @extend_schema(
        operation_id="asks_contact_requests_send", request=ContactSendInput, responses={201: Obj}
    )
    def post(self, request: Request) -> Response:
        user = signed_in_user(request)
        data = _valid(ContactSendInput(data=request.data))
        company = _company(request, data["company"])
        contact = services.contact_request_send(
            company=company, sender=user, contributor=data["contributor"], message=data["message"]
        )
        return Response(contact_data(contact, user), status=status.HTTP_201_CREATED)


def _contact_step(name: str, serializer: type[serializers.Serializer] | None) -> type[APIView]:
    class ContactStepView(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(
            operation_id=f"asks_contact_requests_{name}", request=serializer, responses={200: Obj}
        )
        def post(self, request: Request, pk: int) -> Response:
            user = signed_in_user(request)
            contact = get_object_or_404(
                ContactRequest.objects.select_related("company", "sender", "contributor"),
                pk=pk,
                contributor=user,
            )
            if name == "report":
                data = _valid(ContactReportInput(data=request.data))
                services.contact_request_report(
                    contact=contact, reporter=user, reason=data["reason"]
                )
                contact.refresh_from_db()
            else:
                contact = services.contact_request_answer(
                    contact=contact, actor=user, accept=name == "accept"
                )
            return Response(contact_data(contact, user))

    ContactStepView.__name__ = f"Contact{name.title()}View"
    ContactStepView.__qualname__ = ContactStepView.__name__
    ContactStepView.post.__doc__ = f"The contributor's '{name}' of a contact request."
    return ContactStepView


ContactAcceptView = _contact_step("accept", None)
ContactDeclineView = _contact_step("decline", None)
ContactReportView = _contact_step("report", ContactReportInput)
