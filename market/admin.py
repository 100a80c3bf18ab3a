"""The broker-dealer's admin: approve and halt listings, form series, check investors (KYC),
record wires. Every change calls a service in :mod:`market.services`; only users with the
``market.broker_dealer`` permission see this part of admin. Offerings, commitments, holdings,
orders and trades are read-only here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import translation

from faiross.kernel.admin_display import money_column
from faiross.kernel.money import amount_parse
from projects.auth import signed_in_user

from .models import (
    Commitment,
    Deposit,
    Holding,
    InvestorProfile,
    Offering,
    Order,
    Series,
    Ticker,
    Trade,
)
from .services import cash, investors, listing
from .services._common import is_broker_dealer


class BrokerDealerOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_broker_dealer(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_broker_dealer(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _report(request: HttpRequest, model_admin: admin.ModelAdmin, fn: Any, rows: QuerySet) -> None:
    done = 0
    for row in rows:
        try:
            fn(row)
            done += 1
        except ValidationError as exc:
            model_admin.message_user(request, f"{row}: {' '.join(exc.messages)}", messages.ERROR)
    if done:
        model_admin.message_user(request, f"{done} done.", messages.SUCCESS)


class SeriesInline(admin.StackedInline):
    model = Series
    extra = 0
    can_delete = False
    readonly_fields = ["name", "status", "formation_date", "jurisdiction", "documents"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticker)
class TickerAdmin(BrokerDealerOnly, admin.ModelAdmin):
    list_display = ["symbol", "project", "status", "currency", "approved_by", "halt_reason"]
    list_filter = ["status"]
    search_fields = ["symbol", "project__slug"]
    readonly_fields = [f.name for f in Ticker._meta.fields]
    inlines = [SeriesInline]
    actions = ["approve", "halt", "resume"]

    @admin.action(description="Approve the listing")
    def approve(self, request: HttpRequest, queryset: QuerySet[Ticker]) -> None:
        actor = signed_in_user(request)
        _report(request, self, lambda t: listing.ticker_approve(ticker=t, actor=actor), queryset)

    @admin.action(description="Halt (asks for a reason)")
    def halt(self, request: HttpRequest, queryset: QuerySet[Ticker]) -> HttpResponse | None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            return TemplateResponse(
                request,
                "admin/market/halt.html",
                {**self.admin_site.each_context(request), "tickers": queryset, "opts": self.opts},
            )
        actor = signed_in_user(request)
        _report(
            request,
            self,
            lambda t: listing.ticker_halt(ticker=t, actor=actor, reason=reason),
            queryset,
        )
        return None

    @admin.action(description="Resume trading")
    def resume(self, request: HttpRequest, queryset: QuerySet[Ticker]) -> None:
        actor = signed_in_user(request)
        _report(request, self, lambda t: listing.ticker_resume(ticker=t, actor=actor), queryset)


class SeriesForm(forms.ModelForm):
    class Meta:
        model = Series
        fields = ["ticker", "name", "status", "formation_date", "jurisdiction", "documents"]


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    form = SeriesForm
    list_display = ["name", "ticker", "status", "formation_date", "jurisdiction"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_broker_dealer(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_broker_dealer(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_broker_dealer(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_broker_dealer(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Series, form: Any, change: bool) -> None:
        saved = listing.series_record(
            ticker=form.cleaned_data["ticker"],
            actor=signed_in_user(request),
            name=form.cleaned_data["name"],
            status=form.cleaned_data["status"],
            jurisdiction=form.cleaned_data["jurisdiction"],
            formation_date=form.cleaned_data["formation_date"],
            documents=form.cleaned_data["documents"],
        )
        obj.pk = saved.pk


class KycForm(forms.ModelForm):
    class Meta:
        model = InvestorProfile
        fields = ["kyc_status", "kyc_reference", "accredited"]
        help_texts = {
            "kyc_reference": "Where the broker-dealer keeps the documents (never upload them)"
        }


@admin.register(InvestorProfile)
class InvestorProfileAdmin(admin.ModelAdmin):
    form = KycForm
    list_display = ["user", "legal_name", "country", "kyc_status", "accredited", "kyc_set_at"]
    list_filter = ["kyc_status", "accredited", "country"]
    search_fields = ["user__username", "legal_name"]
    readonly_fields = ["user", "legal_name", "country", "kyc_set_by", "kyc_set_at"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_broker_dealer(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_broker_dealer(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_broker_dealer(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: InvestorProfile, form: Any, change: bool
    ) -> None:
        investors.investor_kyc_set(
            profile=InvestorProfile.objects.get(pk=obj.pk),
            actor=signed_in_user(request),
            status=form.cleaned_data["kyc_status"],
            reference=form.cleaned_data["kyc_reference"],
            accredited=form.cleaned_data["accredited"],
        )


class WireForm(forms.ModelForm):
    amount_text = forms.CharField(label="Amount (USD)", help_text="e.g. 2,500.00")

    class Meta:
        model = Deposit
        fields = ["investor", "reference"]
        help_texts = {"reference": "The bank's wire reference (recorded once)"}

    def clean_amount_text(self) -> int:
        return amount_parse(
            text=self.cleaned_data["amount_text"], currency="usd", locale=translation.get_language()
        )


@admin.register(Deposit)
class DepositAdmin(admin.ModelAdmin):
    """Read-only deposits; "Add" records a wire received (through the service)."""

    list_display = ["reference", "investor", "method", "amount_shown", "status", "completed_at"]
    list_filter = ["method", "status"]
    amount_shown = money_column("amount", description="amount")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = WireForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Deposit._meta.fields] if obj is not None else []

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_broker_dealer(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_broker_dealer(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_broker_dealer(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Deposit, form: Any, change: bool) -> None:
        saved = cash.deposit_wire_record(
            investor=form.cleaned_data["investor"],
            actor=signed_in_user(request),
            amount=form.cleaned_data["amount_text"],
            currency="usd",
            reference=form.cleaned_data["reference"],
        )
        obj.pk = saved.pk


@admin.register(Offering)
class OfferingAdmin(BrokerDealerOnly, admin.ModelAdmin):
    list_display = ["__str__", "kind", "status", "units", "price_shown", "deadline", "units_sold"]
    list_filter = ["status", "kind"]
    price_shown = money_column("price", description="price per unit")
    readonly_fields = [f.name for f in Offering._meta.fields]


@admin.register(Commitment)
class CommitmentAdmin(BrokerDealerOnly, admin.ModelAdmin):
    list_display = ["pk", "offering", "investor", "units", "amount_shown", "status"]
    list_filter = ["status"]

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, obj: Commitment) -> str:
        return obj.offering.money(obj.amount)

    readonly_fields = [f.name for f in Commitment._meta.fields]


@admin.register(Holding)
class HoldingAdmin(BrokerDealerOnly, admin.ModelAdmin):
    list_display = ["ticker", "investor", "units", "reserved_units"]
    list_filter = ["ticker"]
    readonly_fields = [f.name for f in Holding._meta.fields]


@admin.register(Order)
class OrderAdmin(BrokerDealerOnly, admin.ModelAdmin):
    list_display = [
        "pk",
        "ticker",
        "investor",
        "side",
        "kind",
        "price",
        "units",
        "remaining",
        "status",
    ]
    list_filter = ["status", "side", "ticker"]
    readonly_fields = [f.name for f in Order._meta.fields]


@admin.register(Trade)
class TradeAdmin(BrokerDealerOnly, admin.ModelAdmin):
    list_display = ["sequence", "ticker", "buyer", "seller", "price", "units", "executed_at"]
    list_filter = ["ticker"]
    readonly_fields = [f.name for f in Trade._meta.fields]
