"""Money in admin is read-only: it moves only through services (runs, ombudsman actions)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from faiross.kernel.admin_display import money_column, shown_fields
from faiross.kernel.money import minor_to_decimal_str, money_format
from payouts import tax_forms
from payouts.connect import accounts, transfers, webhooks
from payouts.distribution import runs

from .models import (
    Account,
    ClaimedIdentity,
    ConnectedAccount,
    DistributionRun,
    Inflow,
    LedgerTransaction,
    Payout,
    PayoutRun,
    Posting,
    RunAllocation,
    StripeEvent,
    TaxForm,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class _Shown:
    """Money as people read it (never minor units), for lists and detail pages: name this
    column instead of the raw field (and exclude that)."""

    amount_shown = money_column("amount")
    amount_reversed_shown = money_column("amount_reversed")


class PostingInline(_Shown, admin.TabularInline):
    model = Posting
    fields = ["account", "amount_shown"]
    readonly_fields = ["account", "amount_shown"]
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
class PostingAdmin(_Shown, ReadOnlyAdmin):
    list_display = ["id", "transaction", "account", "amount_shown"]
    list_filter = ["currency", "account__purpose"]
    readonly_fields = ["amount_shown"]
    exclude = ["amount"]
    search_fields = ["account__owner", "transaction__reference"]
    list_select_related = ["transaction", "account"]


@admin.register(Inflow)
class InflowAdmin(_Shown, ReadOnlyAdmin):
    list_display = ["reference", "company", "amount_shown", "source", "received_at", "run"]
    list_filter = ["source", "currency"]
    readonly_fields = ["amount_shown"]
    exclude = ["amount"]
    search_fields = ["reference", "company__slug"]


@admin.register(ClaimedIdentity)
class ClaimedIdentityAdmin(ReadOnlyAdmin):
    list_display = ["identity", "user", "claimed_at"]
    search_fields = ["identity", "user__username"]


class AllocationInline(_Shown, admin.TabularInline):
    model = RunAllocation
    fields = ["recipient", "purpose", "amount_shown"]
    readonly_fields = ["recipient", "purpose", "amount_shown"]
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
        "totals_shown",
        "error",
        "started_by",
    ]
    exclude = ["snapshot", "report", "totals"]
    change_list_template = "admin/payouts/distributionrun/change_list.html"

    @admin.display(description="report")
    @admin.display(description="totals")
    def totals_shown(self, obj: DistributionRun) -> str:
        totals = obj.totals or {}
        return (
            ", ".join(money_format(amount=int(v), currency=c) for c, v in sorted(totals.items()))
            or "—"
        )

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


# --- payouts (issue 6) ------------------------------------------------------------------------


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "stripe_account_id", "status", "threshold", "refreshed_at"]
    list_filter = ["status"]
    search_fields = ["user__username", "stripe_account_id"]
    actions = ["refresh_from_stripe"]
    exclude = ["payout_threshold"]
    readonly_fields = ["threshold"]

    @admin.display(description="payout threshold", ordering="payout_threshold")
    def threshold(self, obj: ConnectedAccount) -> str:
        # One threshold for every currency, in its units (two-decimal currencies).
        if obj.payout_threshold is None:
            return "default"
        return f"{minor_to_decimal_str(obj.payout_threshold, 'usd')} (in each currency)"

    @admin.action(description="Refresh the status from Stripe")
    def refresh_from_stripe(self, request: HttpRequest, queryset: object) -> None:
        import stripe

        done = 0
        for account in queryset.order_by("pk"):  # type: ignore[attr-defined]
            try:
                accounts.connected_account_refresh(account=account)
                done += 1
            except stripe.StripeError as exc:
                messages.error(request, f"{account.stripe_account_id}: {exc}")
        messages.success(request, f"{done} account(s) refreshed.")


@admin.register(TaxForm)
class TaxFormAdmin(admin.ModelAdmin):
    """Staff review the signed form a person uploaded (private storage, opened through the
    owner-and-staff download view) or sent otherwise, and mark it collected."""

    list_display = [
        "user",
        "kind",
        "collected",
        "collected_on",
        "uploaded_at",
        "document_link",
        "recorded_by",
        "updated_at",
    ]
    list_filter = ["kind", "collected"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    fields = ["user", "kind", "document_link", "uploaded_at", "collected", "collected_on", "note"]
    readonly_fields = ["document_link", "uploaded_at"]
    actions = ["mark_collected"]

    @admin.display(description="Signed form")
    def document_link(self, obj: TaxForm) -> str:
        if not obj.pk or not obj.document:
            return "—"
        url = reverse("payouts:tax_form_document", kwargs={"pk": obj.pk})
        return format_html('<a href="{}">Download the uploaded form</a>', url)

    @admin.action(description="Mark collected (the signed form is on file)")
    def mark_collected(self, request: HttpRequest, queryset: object) -> None:
        for form in queryset.order_by("pk"):  # type: ignore[attr-defined]
            tax_forms.tax_form_mark_collected(tax_form=form, staff=request.user)
            messages.success(request, f"{form.get_kind_display()} of {form.user} is collected.")

    def save_model(self, request: HttpRequest, obj: TaxForm, form: object, change: bool) -> None:
        obj.recorded_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PayoutInline(_Shown, admin.TabularInline):
    model = Payout
    fields = ["id", "recipient", "amount_shown", "status", "stripe_transfer_id"]
    readonly_fields = ["id", "recipient", "amount_shown", "status", "stripe_transfer_id"]
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "created_at", "finished_at", "summary", "started_by"]
    list_filter = ["status"]
    readonly_fields = ["status", "created_at", "finished_at", "summary", "error", "started_by"]
    inlines = [PayoutInline]
    change_list_template = "admin/payouts/payoutrun/change_list.html"
    actions = ["resume", "mark_failed"]

    @admin.action(description="Resume (a stopped run continues where it stopped)")
    def resume(self, request: HttpRequest, queryset: object) -> None:
        for run in queryset.order_by("pk"):  # type: ignore[attr-defined]
            try:
                run = transfers.payout_run_resume(run=run)
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
            else:
                messages.success(request, f"Payout run {run.pk}: {run.get_status_display()}.")

    @admin.action(description="Mark failed (its pending payouts are sent on, never twice)")
    def mark_failed(self, request: HttpRequest, queryset: object) -> None:
        for run in queryset.order_by("pk"):  # type: ignore[attr-defined]
            try:
                run = transfers.payout_run_fail(run=run, reason=f"marked failed by {request.user}")
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
            else:
                messages.success(request, f"Payout run {run.pk} marked failed.")

    def get_urls(self):  # type: ignore[no-untyped-def]
        return [
            path(
                "start/",
                self.admin_site.admin_view(self.start_view),
                name="payouts_payoutrun_start",
            ),
            *super().get_urls(),
        ]

    def start_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if request.method != "POST" or not request.user.is_staff:
            messages.error(request, "Starting a payout run needs a POST by staff.")
        else:
            try:
                run = transfers.payout_run_start(started_by=request.user)
            except transfers.PayoutRunInProgress as exc:
                messages.error(request, f"Payout run {exc.run.pk} is still running.")
            else:
                messages.success(request, f"Payout run {run.pk} started.")
        return HttpResponseRedirect(reverse("admin:payouts_payoutrun_changelist"))


@admin.register(Payout)
class PayoutAdmin(_Shown, ReadOnlyAdmin):
    list_display = [
        "id",
        "recipient",
        "amount_shown",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "stripe_transfer_id",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["recipient", "stripe_transfer_id", "destination"]
    readonly_fields = shown_fields(
        [f.name for f in Payout._meta.fields],
        amount="amount_shown",
        amount_reversed="amount_reversed_shown",
    )
    exclude = ["amount", "amount_reversed"]
    actions = ["send_again"]

    @admin.action(description="Send again now (pending payouts; never a second transfer)")
    def send_again(self, request: HttpRequest, queryset: object) -> None:
        results = [
            transfers.payout_send(payout_id=pk)
            for pk in queryset.filter(status=Payout.Status.PENDING)  # type: ignore[attr-defined]
            .order_by("pk")
            .values_list("pk", flat=True)
        ]
        messages.info(request, f"Results: {', '.join(results) or 'no pending payout selected'}.")


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "account", "status", "deliveries", "received_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id", "account"]
    readonly_fields = [f.name for f in StripeEvent._meta.fields]
    actions = ["process_again"]

    @admin.action(description="Process again (failed or no-handler events)")
    def process_again(self, request: HttpRequest, queryset: object) -> None:
        ids = queryset.filter(  # type: ignore[attr-defined]
            status__in=[StripeEvent.Status.FAILED, StripeEvent.Status.NO_HANDLER]
        ).values_list("event_id", flat=True)
        statuses = [webhooks.stripe_event_process(event_id=i).status for i in ids]
        messages.info(request, f"Processed: {', '.join(statuses) or 'nothing to process'}.")
