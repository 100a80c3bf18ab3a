"""Company asks in Django admin: staff decide delivered requests the company left unanswered
(past their confirm date) and disputed ones, and handle reports of contact requests. Records
are read-only here; every change goes through a service (a decision page or an action)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from faiross.kernel.admin_display import money_column

from . import services
from .models import ContactReport, ContactRequest, ContributorProfile, FeatureRequest, RequestEvent


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(ReadOnly, admin.TabularInline):
    model = RequestEvent
    extra = 0
    fields = ["created_at", "action", "actor", "note", "ledger_transaction"]
    readonly_fields = ["created_at", "action", "actor", "note", "ledger_transaction"]


class AwaitsStaffFilter(admin.SimpleListFilter):
    title = "waiting for staff"
    parameter_name = "awaits"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes: disputed, or unanswered past the confirm date")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(
                Q(status=FeatureRequest.Status.DISPUTED)
                | Q(status=FeatureRequest.Status.DELIVERED, confirm_by__lte=timezone.now())
            )
        return queryset


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            ("confirm", "Confirm the delivery (meets the milestone, pays the bounty)"),
            ("reopen", "Reopen: back to in progress"),
            ("cancel", "Cancel: withdrawn, the bounty goes back to the company's reserve"),
        ]
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Reason (recorded)")


@admin.register(FeatureRequest)
class FeatureRequestAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "title", "company", "project", "status", "bounty", "confirm_by", "decide"]
    list_filter = [AwaitsStaffFilter, "status"]
    search_fields = ["title", "company__slug", "project__slug"]
    inlines = [EventInline]
    bounty = money_column("bounty_amount", currency_field="bounty_currency", description="bounty")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    @admin.display(description="")
    def decide(self, obj: FeatureRequest) -> str:
        if not services.feature_request_awaits_staff(request=obj):
            return ""
        url = reverse("admin:asks_featurerequest_decide", args=[obj.pk])
        return format_html('<a class="button" href="{}">Decide</a>', url)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="asks_featurerequest_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(FeatureRequest, pk=pk)
        form = DecideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.feature_request_staff_decide(
                    request=obj,
                    staff=request.user,  # type: ignore[arg-type]
                    outcome=form.cleaned_data["outcome"],
                    note=form.cleaned_data["note"],
                )
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(getattr(exc, "messages", [str(exc)]))
                messages.error(request, text)
            else:
                messages.success(request, f"Request #{obj.pk}: {form.cleaned_data['outcome']}.")
                return redirect("admin:asks_featurerequest_change", obj.pk)
        return TemplateResponse(
            request,
            "admin/asks/decide.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Decide feature request #{obj.pk}",
                "obj": obj,
                "form": form,
                "awaits": services.feature_request_awaits_staff(request=obj),
                "opts": self.model._meta,
            },
        )


@admin.register(ContributorProfile)
class ContributorProfileAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["user", "visible", "headline", "updated_at"]
    list_filter = ["visible"]
    search_fields = ["user__username"]


@admin.register(ContactRequest)
class ContactRequestAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "company", "sender", "contributor", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["company__slug", "sender__username", "contributor__username"]


@admin.register(ContactReport)
class ContactReportAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "contact", "reporter", "status", "created_at", "handled_by"]
    list_filter = ["status"]
    actions = ["mark_handled"]
    readonly_fields = ["contact", "reporter", "reason", "status", "staff_note", "handled_by"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff) and obj is None  # the changelist and its action

    @admin.action(description="Mark handled (no further action)")
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[ContactReport]) -> None:
        done = 0
        for report in queryset.filter(status=ContactReport.Status.OPEN):
            services.contact_report_handle(
                report=report,
                staff=request.user,  # type: ignore[arg-type]
                note=f"Reviewed by {request.user.get_username()} in admin.",
            )
            done += 1
        self.message_user(request, f"{done} report(s) marked handled.", messages.SUCCESS)
