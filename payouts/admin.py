"""Money in admin is read-only: it moves only through services (runs, ombudsman actions)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from . import runs
from .models import (
    Account,
    ClaimedIdentity,
    DistributionRun,
    Inflow,
    LedgerTransaction,
    Posting,
    RunAllocation,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["account", "amount", "currency"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "reference", "created_at", "idempotency_key"]
    list_filter = ["kind"]
    search_fields = ["reference", "idempotency_key", "memo"]
    inlines = [PostingInline]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["owner", "purpose", "currency", "created_at"]
    list_filter = ["purpose", "currency"]
    search_fields = ["owner"]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ["id", "transaction", "account", "amount", "currency"]
    list_filter = ["currency", "account__purpose"]
    search_fields = ["account__owner", "transaction__reference"]
    list_select_related = ["transaction", "account"]


@admin.register(Inflow)
class InflowAdmin(ReadOnlyAdmin):
    list_display = ["reference", "company", "amount", "currency", "source", "received_at", "run"]
    list_filter = ["source", "currency"]
    search_fields = ["reference", "company__slug"]


@admin.register(ClaimedIdentity)
class ClaimedIdentityAdmin(ReadOnlyAdmin):
    list_display = ["identity", "user", "claimed_at"]
    search_fields = ["identity", "user__username"]


class AllocationInline(admin.TabularInline):
    model = RunAllocation
    fields = ["recipient", "purpose", "currency", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(DistributionRun)
class DistributionRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "status",
        "progress",
        "cutoff",
        "created_at",
        "finished_at",
        "report_link",
    ]
    list_filter = ["status"]
    readonly_fields = [
        "status",
        "progress",
        "cutoff",
        "created_at",
        "finished_at",
        "totals",
        "error",
        "started_by",
    ]
    exclude = ["snapshot", "report"]
    change_list_template = "admin/payouts/distributionrun/change_list.html"

    @admin.display(description="report")
    def report_link(self, obj: DistributionRun) -> str:
        return format_html('<a href="{}">report</a>', reverse("payouts:run", args=[obj.pk]))

    def get_urls(self):  # type: ignore[no-untyped-def]
        return [
            path("start/", self.admin_site.admin_view(self.start_view), name="payouts_run_start"),
            *super().get_urls(),
        ]

    def start_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if request.method != "POST" or not request.user.has_perm("payouts.add_distributionrun"):
            messages.error(request, "Starting a run needs a POST by staff allowed to add runs.")
        else:
            try:
                run = runs.distribution_run_start(started_by=request.user)  # type: ignore[arg-type]
            except runs.RunInProgress as exc:
                messages.error(
                    request, f"Run {exc.run.pk} is still {exc.run.status}; runs never overlap."
                )
            else:
                messages.success(request, f"Distribution run {run.pk} started.")
        return HttpResponseRedirect(reverse("admin:payouts_distributionrun_changelist"))
