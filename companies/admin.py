"""The ombudsman office's view of companies: countersigning, milestones, wires.

Admin actions are thin: each calls a service and reports its errors as messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from faiross.kernel.admin_display import money_column, percent_column, shown_fields
from faiross.kernel.http import client_ip
from projects.auth import signed_in_user

from . import services
from .models import (
    Agreement,
    AgreementSignature,
    CarryDistribution,
    Company,
    CompanyInvitation,
    CompanyMember,
    DividendDeclaration,
    Invoice,
    LiquidityEvent,
    Milestone,
)


def _each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    call: Callable[[Any], object],
    done: str,
) -> None:
    ok = 0
    for obj in queryset:
        try:
            call(obj)
        except (ValidationError, PermissionDenied) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            modeladmin.message_user(request, f"{obj}: {text}", messages.ERROR)
        else:
            ok += 1
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}.", messages.SUCCESS)


def _service_action(
    description: str, done: str, call: Callable[[Any, User, HttpRequest], object]
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet], None]:
    """An admin action that calls ``call(obj, staff user, request)`` for each selected object
    and reports what it did (``done``) and each refusal."""

    @admin.action(description=description)
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        user = signed_in_user(request)
        _each(modeladmin, request, queryset, lambda obj: call(obj, user, request), done)

    return action


def _staff_action(
    description: str, done: str, service: Callable[..., object], argument: str
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet], None]:
    """An admin action that calls ``service(<argument>=obj, staff=user)`` for each object."""
    return _service_action(
        description, done, lambda obj, user, _: service(**{argument: obj, "staff": user})
    )


class _Kept(admin.ModelAdmin):
    """Records only services make and nobody deletes: admin neither adds nor deletes them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnly(_Kept):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MemberInline(admin.TabularInline):
    model = CompanyMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "country", "require_mfa", "created_at"]
    list_filter = ["kind", "require_mfa"]
    search_fields = ["slug", "name"]
    inlines = [MemberInline]


@admin.register(CompanyInvitation)
class CompanyInvitationAdmin(admin.ModelAdmin):
    list_display = ["company", "email", "user", "role", "status", "created_at"]
    list_filter = ["status", "role"]
    raw_id_fields = ["user", "invited_by"]
    readonly_fields = ["token"]


class _KeptInline(admin.TabularInline):
    """Rows of an agreement that admin shows and neither adds nor deletes."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SignatureInline(_KeptInline):
    model = AgreementSignature
    readonly_fields = ["party", "user", "signed_at", "ip_address", "user_agent", "document_sha256"]


class _Shown:
    """Money and shares as people read them (never cents or millibips), for lists and
    detail pages: name these columns instead of the raw fields (and exclude those)."""

    amount_shown = money_column("amount")
    due_shown = money_column("due_amount", description="FairOSS's part")
    proceeds_shown = money_column("proceeds")
    share_shown = percent_column("share_millibips")
    part_shown = percent_column("millibips", description="part")
    time_vesting_shown = percent_column("time_vesting_millibips")
    portion_shown = percent_column("portion_millibips", description="part of stake sold")
    vested_shown = percent_column("vested_millibips", description="stake vested")


class MilestoneInline(_Shown, _KeptInline):
    model = Milestone
    readonly_fields = ["position", "title", "part_shown", "met_on", "met_by"]
    exclude = ["millibips"]


@admin.register(Agreement)
class AgreementAdmin(_Shown, _Kept):
    list_display = [
        "reference",
        "company",
        "kind",
        "status",
        "share_shown",
        "currency",
        "start_date",
        "signed_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["company__slug", "company__name"]
    inlines = [SignatureInline, MilestoneInline]
    actions = ["countersign", "end_agreements"]
    # Terms are fixed by the company's signature: admin reads them, services change state.
    readonly_fields = shown_fields(
        [f.name for f in Agreement._meta.fields],
        amount="amount_shown",
        share_millibips="share_shown",
        time_vesting_millibips="time_vesting_shown",
    )
    exclude = ["amount", "share_millibips", "time_vesting_millibips"]

    countersign = _service_action(
        "Countersign for FairOSS (signed → active)",
        "Countersigned",
        lambda a, user, request: services.agreement_countersign(
            agreement=a,
            staff=user,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ),
    )
    end_agreements = _service_action(
        "End agreement (reason: ended by FairOSS)",
        "Ended",
        lambda a, user, _: services.agreement_end(
            agreement=a, actor=user, reason="Ended by FairOSS staff."
        ),
    )


@admin.register(Milestone)
class MilestoneAdmin(_Shown, admin.ModelAdmin):
    list_display = ["title", "agreement", "part_shown", "met_on", "met_by"]
    list_filter = ["met_on"]
    readonly_fields = ["agreement", "position", "title", "part_shown", "met_on", "met_by"]
    exclude = ["millibips"]
    actions = ["mark_met"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    mark_met = _staff_action(
        "Mark milestone met (today)", "Marked met", services.milestone_mark_met, "milestone"
    )


@admin.register(Invoice)
class InvoiceAdmin(_Shown, _Kept):
    list_display = [
        "number",
        "company",
        "agreement",
        "amount_shown",
        "status",
        "issued_on",
        "paid_via",
    ]
    list_filter = ["status", "paid_via", "currency"]
    search_fields = ["company__slug", "source_key", "payment_reference"]
    readonly_fields = shown_fields([f.name for f in Invoice._meta.fields], amount="amount_shown")
    exclude = ["amount"]
    actions = ["wire_received", "void"]

    wire_received = _staff_action(
        "Mark received by wire (records the inflow)",
        "Recorded as received by wire",
        services.invoice_wire_received,
        "invoice",
    )
    void = _staff_action("Void (no longer due)", "Voided", services.invoice_void, "invoice")


@admin.register(DividendDeclaration)
class DividendDeclarationAdmin(_Shown, _ReadOnly):
    list_display = ["agreement", "declared_on", "amount_shown", "due_shown", "invoice"]
    readonly_fields = shown_fields(
        [f.name for f in DividendDeclaration._meta.fields],
        amount="amount_shown",
        due_amount="due_shown",
    )
    exclude = ["amount", "due_amount"]


@admin.register(LiquidityEvent)
class LiquidityEventAdmin(_Shown, _ReadOnly):
    list_display = ["agreement", "kind", "occurred_on", "proceeds_shown", "due_shown"]
    readonly_fields = shown_fields(
        [f.name for f in LiquidityEvent._meta.fields],
        proceeds="proceeds_shown",
        due_amount="due_shown",
        portion_millibips="portion_shown",
        vested_millibips="vested_shown",
    )
    exclude = ["proceeds", "due_amount", "portion_millibips", "vested_millibips"]


@admin.register(CarryDistribution)
class CarryDistributionAdmin(_Shown, _ReadOnly):
    list_display = ["agreement", "distributed_on", "amount_shown", "due_shown"]
    readonly_fields = shown_fields(
        [f.name for f in CarryDistribution._meta.fields],
        amount="amount_shown",
        due_amount="due_shown",
    )
    exclude = ["amount", "due_amount"]
