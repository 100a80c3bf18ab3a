"""API v1 of companies: companies, members, the company table, agreements, invoices.

Every call needs a signed-in caller. A company's details are visible to its members (and
staff) only: anyone else gets 404. Owners and finance members act on money; viewers read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiTypes,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from faiross.kernel.http import client_ip
from payouts.inflows import inflow_record
from projects import table_api
from projects.auth import signed_in_user
from projects.idempotency import idempotent
from projects.privacy import recipient_shown

from . import selectors, services
from .models import Agreement, Company, Invoice
from .ocf import ocf_export
from .serializers import (
    AgreementCreateSchema,
    AgreementEndInput,
    CarryDistributionInput,
    CompanyCreateInput,
    CompanyInviteInput,
    CompanyUpdateInput,
    DividendDeclarationInput,
    InflowInput,
    InvoiceCheckoutInput,
    InvoiceConfirmInput,
    InvoiceWireInput,
    LiquidityEventInput,
    PreviewQuery,
    agreement_create_input,
)

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass

# --- representations ---------------------------------------------------------------------


def company_data(company: Company, role: str | None) -> dict[str, Any]:
    return {
        "slug": company.slug,
        "name": company.name,
        "kind": company.kind,
        "country": company.country,
        "website": company.website,
        "require_mfa": company.require_mfa,
        "role": role,
        "owner": company.owner_key,
        "members": [
            {"username": m.user.get_username(), "role": m.role}
            for m in selectors.company_members(company=company)
        ],
        "groundwater": selectors.is_groundwater_company(company=company),
    }


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "agreement": invoice.agreement_id,
        "description": invoice.description,
        "amount": invoice.amount,
        "currency": invoice.currency,
        "status": invoice.status,
        "issued_on": invoice.issued_on,
        "due_on": invoice.due_on,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "paid_at": invoice.paid_at,
        "paid_via": invoice.paid_via or None,
        "inflow": invoice.inflow_id,
    }


def agreement_data(agreement: Agreement) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": agreement.pk,
        "reference": agreement.reference,
        "company": agreement.company.slug,
        "kind": agreement.kind,
        "status": agreement.status,
        "currency": agreement.currency,
        "start_date": agreement.start_date,
        "end_date": agreement.end_date,
        "created_at": agreement.created_at,
        "signed_at": agreement.signed_at,
        "activated_at": agreement.activated_at,
        "ended_at": agreement.ended_at,
        "end_reason": agreement.end_reason,
        "document_sha256": agreement.document_sha256 or None,
        "signatures": [
            {
                "party": s.party,
                "username": s.user.get_username(),
                "signed_at": s.signed_at,
                "ip_address": s.ip_address,
                "user_agent": s.user_agent,
            }
            for s in agreement.signatures.select_related("user")
        ],
    }
    if agreement.kind == Agreement.Kind.PLEDGE:
        data.update(
            amount=agreement.amount,
            developers=agreement.developers,
            period=agreement.period,
            amount_per_period=agreement.pledge_total,
        )
    else:
        data["share_millibips"] = agreement.share_millibips
    if agreement.kind == Agreement.Kind.EQUITY:
        from django.utils import timezone

        data.update(
            share_count=agreement.share_count,
            share_class=agreement.share_class,
            cliff_months=agreement.cliff_months,
            vesting_months=agreement.vesting_months,
            time_vesting_millibips=agreement.time_vesting_millibips,
            vested_millibips=services.equity_vested_millibips(
                agreement=agreement, on=timezone.localdate()
            ),
            milestones=[
                {"id": m.pk, "title": m.title, "millibips": m.millibips, "met_on": m.met_on}
                for m in agreement.milestones.all()
            ],
        )
    if agreement.kind == Agreement.Kind.CARRY:
        data["fund_name"] = agreement.fund_name
    data["invoices"] = [invoice_data(i) for i in agreement.invoices.order_by("issued_on", "id")]
    return data


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    """The parsed input, or a 400 naming each bad field."""
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


Obj = OpenApiTypes.OBJECT


# --- companies ----------------------------------------------------------------------------


class CompanyListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="companies_list", responses={200: Obj})
    def get(self, request: Request) -> Response:
        """The companies the caller is a member of."""
        paginator = PageNumberPagination()
        memberships = selectors.companies_of_user(user=signed_in_user(request))
        page = paginator.paginate_queryset(memberships, request, view=self)
        return paginator.get_paginated_response(
            [
                {
                    "slug": m.company.slug,
                    "name": m.company.name,
                    "kind": m.company.kind,
                    "role": m.role,
                }
                for m in page or []
            ]
        )

    @extend_schema(
        operation_id="companies_create", request=CompanyCreateInput, responses={201: Obj}
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(CompanyCreateInput(data=request.data))
        company = services.company_create(creator=signed_in_user(request), **data)
        return Response(company_data(company, "owner"), status=status.HTTP_201_CREATED)


class CompanyDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="companies_retrieve", responses={200: Obj})
    def get(self, request: Request, slug: str) -> Response:
        company, role = selectors.company_for_member(slug=slug, user=request.user)
        return Response(company_data(company, role))

    @extend_schema(
        operation_id="companies_partial_update", request=CompanyUpdateInput, responses={200: Obj}
    )
    def patch(self, request: Request, slug: str) -> Response:
        company, _ = selectors.company_for_member(slug=slug, user=request.user)
        data = _valid(CompanyUpdateInput(data=request.data, partial=True))
        company = services.company_update(company=company, actor=signed_in_user(request), **data)
        role = selectors.company_role(slug=slug, user=request.user)
        return Response(company_data(company, role))


class CompanyInvitationsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_invitations_create",
        request=CompanyInviteInput,
        responses={201: Obj},
    )
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        company, _ = selectors.company_for_member(slug=slug, user=request.user)
        data = _valid(CompanyInviteInput(data=request.data))
        invitation = services.company_invite(company=company, actor=signed_in_user(request), **data)
        return Response(
            {
                "id": invitation.pk,
                "target": invitation.target,
                "role": invitation.role,
                "status": invitation.status,
            },
            status=status.HTTP_201_CREATED,
        )


# --- the company table (same shapes as a project's) --------------------------------------


class CompanyOwnerMixin(table_api.OwnerMixin):
    """The company's table: members only (404 for anyone else)."""

    owner_kind = "company"
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticated]

    def owner_key(self) -> str:
        company, _ = selectors.company_for_member(
            slug=self.kwargs["slug"],
            user=self.request.user,  # type: ignore[attr-defined]
        )
        return company.owner_key


@extend_schema_view(get=extend_schema(operation_id="companies_table_retrieve"))
class CompanyTableView(CompanyOwnerMixin, table_api.TableView):
    pass


@extend_schema_view(
    get=extend_schema(operation_id="companies_table_versions_list"),
    post=extend_schema(operation_id="companies_table_versions_create"),
)
class CompanyTableVersionsView(CompanyOwnerMixin, table_api.TableVersionsView):
    pass


@extend_schema_view(get=extend_schema(operation_id="companies_table_versions_retrieve"))
class CompanyTableVersionDetailView(CompanyOwnerMixin, table_api.TableVersionDetailView):
    pass


@extend_schema_view(post=extend_schema(operation_id="companies_table_versions_approve"))
class CompanyTableVersionApproveView(CompanyOwnerMixin, table_api.TableVersionApproveView):
    pass


@extend_schema_view(post=extend_schema(operation_id="companies_table_import"))
class CompanyTableImportView(CompanyOwnerMixin, table_api.TableImportView):
    pass


@extend_schema_view(get=extend_schema(operation_id="companies_faiross_toml"))
class CompanyTableTomlView(CompanyOwnerMixin, table_api.TableTomlView):
    pass


# --- agreements ---------------------------------------------------------------------------


def _agreement(request: Request, slug: str, pk: int) -> Agreement:
    company, _ = selectors.company_for_member(slug=slug, user=request.user)
    return get_object_or_404(Agreement.objects.select_related("company"), pk=pk, company=company)


class AgreementListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="companies_agreements_list", responses={200: Obj})
    def get(self, request: Request, slug: str) -> Response:
        company, _ = selectors.company_for_member(slug=slug, user=request.user)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.agreements_of(company=company).select_related("company"), request, view=self
        )
        return paginator.get_paginated_response([agreement_data(a) for a in page or []])

    @extend_schema(
        operation_id="companies_agreements_create",
        request=AgreementCreateSchema,
        responses={201: Obj},
    )
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        company, _ = selectors.company_for_member(slug=slug, user=request.user)
        data = _valid(agreement_create_input(request.data))
        kind = data.pop("kind")
        agreement = services.agreement_create(
            company=company, actor=signed_in_user(request), kind=kind, terms_data=data
        )
        return Response(agreement_data(agreement), status=status.HTTP_201_CREATED)


class AgreementDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="companies_agreements_retrieve", responses={200: Obj})
    def get(self, request: Request, slug: str, pk: int) -> Response:
        return Response(agreement_data(_agreement(request, slug, pk)))


class AgreementSignView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="companies_agreements_sign", request=None, responses={200: Obj})
    def post(self, request: Request, slug: str, pk: int) -> Response:
        agreement = _agreement(request, slug, pk)
        services.agreement_sign(
            agreement=agreement,
            actor=signed_in_user(request),
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        agreement.refresh_from_db()
        return Response(agreement_data(agreement))


class AgreementCountersignView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_agreements_countersign", request=None, responses={200: Obj}
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        """Staff only (also an admin action)."""
        agreement = _agreement(request, slug, pk)
        agreement = services.agreement_countersign(
            agreement=agreement,
            staff=signed_in_user(request),
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(agreement_data(agreement))


class AgreementEndView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_agreements_end",
        request=AgreementEndInput,
        responses={200: Obj},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        agreement = _agreement(request, slug, pk)
        data = _valid(AgreementEndInput(data=request.data))
        agreement = services.agreement_end(
            agreement=agreement, actor=signed_in_user(request), **data
        )
        return Response(agreement_data(agreement))


class MilestoneMetView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_agreements_milestone_met", request=None, responses={200: Obj}
    )
    def post(self, request: Request, slug: str, pk: int, milestone: int) -> Response:
        """Staff only (also an admin action)."""
        agreement = _agreement(request, slug, pk)
        services.milestone_mark_met(
            milestone=get_object_or_404(agreement.milestones, pk=milestone),
            staff=signed_in_user(request),
        )
        return Response(agreement_data(agreement))


def _event_response(record: Any) -> Response:
    return Response(
        {
            "id": record.pk,
            "due_amount": record.due_amount,
            "currency": record.currency,
            "invoice": invoice_data(record.invoice) if record.invoice_id else None,
        },
        status=status.HTTP_201_CREATED,
    )


# POST an event of an agreement: the body, parsed by the ``input`` serializer, goes to the
# ``record`` service, which records the event and invoices FairOSS's part. A subclass names
# the serializer, the service and its ``operation_id``. (A comment, not a docstring: a
# docstring would become the operations' description in the API schema.)
class _AgreementEventView(APIView):
    permission_classes = [IsAuthenticated]
    input: type[serializers.Serializer]
    record: Callable[..., Any]  # a service, as a staticmethod

    def __init_subclass__(cls, *, operation_id: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        extend_schema_view(
            post=extend_schema(operation_id=operation_id, request=cls.input, responses={201: Obj})
        )(cls)

    @idempotent
    def post(self, request: Request, slug: str, pk: int) -> Response:
        agreement = _agreement(request, slug, pk)
        data = _valid(self.input(data=request.data))
        record = self.record(agreement=agreement, actor=signed_in_user(request), **data)
        return _event_response(record)


class DeclarationsView(
    _AgreementEventView, operation_id="companies_agreements_declarations_create"
):
    input = DividendDeclarationInput
    record = staticmethod(services.dividend_declare)


class LiquidityEventsView(
    _AgreementEventView, operation_id="companies_agreements_liquidity_events_create"
):
    input = LiquidityEventInput
    record = staticmethod(services.liquidity_event_record)


class CarryDistributionsView(
    _AgreementEventView, operation_id="companies_agreements_carry_distributions_create"
):
    input = CarryDistributionInput
    record = staticmethod(services.carry_distribution_record)


class AgreementOcfView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="companies_agreements_ocf", responses={200: Obj})
    def get(self, request: Request, slug: str, pk: int) -> Response:
        agreement = _agreement(request, slug, pk)
        if agreement.kind != Agreement.Kind.EQUITY:
            raise ValidationError({"kind": "Only equity agreements have an OCF export."})
        return Response(ocf_export(agreement=agreement))


# --- invoices -------------------------------------------------------------------------------


def _invoice(request: Request, slug: str, pk: int) -> Invoice:
    company, _ = selectors.company_for_member(slug=slug, user=request.user)
    return get_object_or_404(Invoice.objects.select_related("company"), pk=pk, company=company)


class InvoiceListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="companies_invoices_list", responses={200: Obj})
    def get(self, request: Request, slug: str) -> Response:
        company, _ = selectors.company_for_member(slug=slug, user=request.user)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.invoices_of(company=company), request, view=self
        )
        return paginator.get_paginated_response([invoice_data(i) for i in page or []])


class InvoiceCheckoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_invoices_checkout",
        request=InvoiceCheckoutInput,
        responses={200: Obj},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        """A Stripe Checkout page for the invoice: ``{"url"}``; open it to pay."""
        from django.urls import reverse

        invoice = _invoice(request, slug, pk)
        data = _valid(InvoiceCheckoutInput(data=request.data))
        default_success = (
            request.build_absolute_uri(
                reverse("companies:invoice_paid", kwargs={"slug": slug, "pk": pk})
            )
            + "?session_id={CHECKOUT_SESSION_ID}"
        )
        default_cancel = request.build_absolute_uri(
            reverse("companies:dashboard", kwargs={"slug": slug})
        )
        success = data.get("success_url") or default_success
        cancel = data.get("cancel_url") or default_cancel
        url = services.invoice_checkout_start(
            invoice=invoice, actor=signed_in_user(request), success_url=success, cancel_url=cancel
        )
        invoice.refresh_from_db()
        return Response({"url": url, "session_id": invoice.stripe_checkout_session})


class InvoiceConfirmView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_invoices_confirm",
        request=InvoiceConfirmInput,
        responses={200: Obj},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        """Look the Checkout Session up at Stripe and record the payment if it is paid."""
        invoice = _invoice(request, slug, pk)
        data = _valid(InvoiceConfirmInput(data=request.data))
        services.invoice_checkout_confirm(invoice=invoice, **data)
        invoice.refresh_from_db()
        return Response(invoice_data(invoice))


class InvoiceWireView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_invoices_wire",
        request=InvoiceWireInput,
        responses={200: Obj},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        """Staff: the invoice was paid by wire (records the inflow once)."""
        invoice = _invoice(request, slug, pk)
        data = _valid(InvoiceWireInput(data=request.data))
        invoice = services.invoice_wire_received(
            invoice=invoice, staff=signed_in_user(request), **data
        )
        return Response(invoice_data(invoice))


class PreviewView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="companies_preview",
        parameters=[PreviewQuery],
        responses={200: Obj},
    )
    def get(self, request: Request, slug: str) -> Response:
        """How ``amount`` would flow down the company's table today (nothing is stored)."""
        company, _ = selectors.company_for_member(slug=slug, user=request.user)
        query = _valid(PreviewQuery(data=request.query_params))
        amount, currency = query["amount"], query["currency"]
        rows = selectors.flow_preview(owner_key=company.owner_key, amount=amount, currency=currency)
        return Response(
            {
                "owner": company.owner_key,
                "amount": amount,
                "currency": currency,
                "recipients": [
                    {
                        "recipient": recipient_shown(key=r.recipient, user=request.user),
                        "purpose": r.purpose,
                        "amount": r.amount,
                    }
                    for r in rows
                ],
            }
        )


# --- money received (staff) ---------------------------------------------------------------


class InflowsView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=InflowInput, responses={201: OpenApiTypes.OBJECT})
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(InflowInput(data=request.data))
        company = data["company"]
        inflow, created = inflow_record(**data, recorded_by=signed_in_user(request))
        body = {
            "id": inflow.pk,
            "company": company.slug,
            "amount": inflow.amount,
            "currency": inflow.currency,
            "reference": inflow.reference,
            "created": created,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
