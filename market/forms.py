"""Forms of the market's pages: what people type, parsed by the kernel's rules (amounts in
the locale, shares in percent); the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone, translation

from faiross.kernel.money import amount_parse
from faiross.kernel.shares import percent_to_millibips

from .models import Offering


def _amount(form: forms.Form, name: str, currency: str = "usd") -> int:
    return amount_parse(
        text=form.cleaned_data[name],
        currency=currency,
        locale=translation.get_language(),
        field=name,
    )


class ListingForm(forms.Form):
    symbol = forms.CharField(max_length=8, help_text="2 to 8 capital letters, e.g. NUMPY")
    unit_percent = forms.CharField(
        label="One unit is",
        initial="0.001",
        help_text="percent of the table (0.001% = 100 millibips)",
    )
    cap_percent = forms.CharField(
        label="Cap", initial="10", help_text="the most of the table ever sold to investors, in %"
    )

    def clean_unit_percent(self) -> int:
        return percent_to_millibips(
            text=self.cleaned_data["unit_percent"],
            locale=translation.get_language(),
            field="unit_percent",
        )

    def clean_cap_percent(self) -> int:
        return percent_to_millibips(
            text=self.cleaned_data["cap_percent"],
            locale=translation.get_language(),
            field="cap_percent",
        )


class CapForm(forms.Form):
    cap_percent = forms.CharField(label="Cap", help_text="in % of the table")

    def clean_cap_percent(self) -> int:
        return percent_to_millibips(
            text=self.cleaned_data["cap_percent"],
            locale=translation.get_language(),
            field="cap_percent",
        )


class OfferingForm(forms.Form):
    kind = forms.ChoiceField(choices=Offering.Kind.choices)
    percent = forms.CharField(
        label="Share of the table offered", help_text="in %, from the reserve"
    )
    price = forms.CharField(
        label="Price per unit", help_text="fixed price, or the lowest bid in an auction"
    )
    minimum_raise = forms.CharField(
        label="Minimum raise", help_text="below this, everyone is refunded"
    )
    deadline = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="at least 21 days away"
    )
    use_of_proceeds = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000)
    risks = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=20_000)

    def __init__(self, *args: Any, currency: str = "usd", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_percent(self) -> int:
        return percent_to_millibips(
            text=self.cleaned_data["percent"], locale=translation.get_language(), field="percent"
        )

    def clean_price(self) -> int:
        return _amount(self, "price", self.currency)

    def clean_minimum_raise(self) -> int:
        return _amount(self, "minimum_raise", self.currency)

    def deadline_at(self) -> dt.datetime:
        day: dt.date = self.cleaned_data["deadline"]
        return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59)), dt.UTC)


class DisclosureForm(forms.Form):
    use_of_proceeds = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000)
    risks = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=20_000)
    material = forms.BooleanField(
        required=False, help_text="A material change asks every investor to reconfirm."
    )


class CommitForm(forms.Form):
    units = forms.IntegerField(min_value=1, max_value=10**12)
    price_limit = forms.CharField(
        required=False, label="Highest price per unit", help_text="auction only"
    )
    disclosure_version = forms.IntegerField(widget=forms.HiddenInput)
    confirm_read = forms.BooleanField(label="I have read this version of the disclosure document")

    def __init__(self, *args: Any, currency: str = "usd", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_price_limit(self) -> int | None:
        if not self.cleaned_data.get("price_limit"):
            return None
        return _amount(self, "price_limit", self.currency)


class ProfileForm(forms.Form):
    legal_name = forms.CharField(max_length=200)
    country = forms.CharField(max_length=2, help_text="two letters, e.g. US, DE")
    annual_income = forms.CharField(
        required=False, label="Annual income (USD)", help_text="used only for your limit"
    )
    net_worth = forms.CharField(
        required=False, label="Net worth (USD)", help_text="without your home; only for your limit"
    )

    def clean_country(self) -> str:
        return str(self.cleaned_data["country"]).strip().upper()

    def clean_annual_income(self) -> int | None:
        return _amount(self, "annual_income") if self.cleaned_data.get("annual_income") else None

    def clean_net_worth(self) -> int | None:
        return _amount(self, "net_worth") if self.cleaned_data.get("net_worth") else None


class AmountForm(forms.Form):
    amount = forms.CharField(help_text="e.g. 250.00")

    def clean_amount(self) -> int:
        return _amount(self, "amount")
