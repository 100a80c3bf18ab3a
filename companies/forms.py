"""Page forms: they parse what people type (money, percentages, lines); rules live in
services, whose errors are shown on the named fields (``form_add_service_errors``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from faiross.kernel.money import MAX_AMOUNT, amount_parse, money_format
from faiross.kernel.numbers import babel_locale
from faiross.kernel.shares import (
    FULL_SHARE,
    format_percent,
    percent_to_millibips,
)

from . import terms as terms_math
from .models import Agreement, Company, CompanyMember, LiquidityEvent
from .services.agreement_terms import MAX_SHARE_MILLIBIPS

# The multiplication sign of "$50.00 per developer per month (times) 12 developers"; escaped
# because ruff flags the character in source.
TIMES = "\u00d7"


def _typed_as() -> str:
    """How numbers are typed in the active language, for help texts: read when the form is
    made (per request), since the language is the person's."""
    language = babel_locale().get_display_name("en") or "English"
    example = money_format(amount=200050, currency="usd", symbol=False)
    return f"Typed as in {language}: e.g. {example}."


class MoneyField(forms.CharField):
    """An amount as typed in currency units (``2,000.50``; ``2.000,50`` in German). Its
    currency is the form's ``currency`` field, so :class:`MoneyForm` turns the text into
    minor units (:func:`~faiross.kernel.money.amount_parse`) once both are clean."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)


class MoneyForm(forms.Form):
    """A form with :class:`MoneyField` s and a ``currency`` field: ``cleaned_data`` holds each
    amount as int minor units of that currency (None when left empty). Each money field's
    help says how numbers are typed in the person's language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, MoneyField):
                field.help_text = " ".join(filter(None, [str(field.help_text), _typed_as()]))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("currency") or "usd"
        for name, field in self.fields.items():
            text = data.get(name)
            if not isinstance(field, MoneyField) or name in self.errors:
                continue
            if not text:
                data[name] = None
                continue
            try:
                data[name] = amount_parse(text=text, currency=currency, field=name)
            except ValidationError as exc:
                data.pop(name, None)
                self.add_error(name, exc.message_dict[name])
        return data


class PercentField(forms.CharField):
    """A percentage as typed (up to 5 decimals) → int millibips
    (:func:`~faiross.kernel.shares.percent_to_millibips`); None when left empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().clean(value)
        if not text:
            return None
        try:
            return percent_to_millibips(text=text)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


def currency_choices() -> list[tuple[str, str]]:
    return [(c, c.upper()) for c in settings.FAIROSS_CURRENCIES]


class CompanyForm(forms.Form):
    name = forms.CharField(label="Legal name", max_length=200)
    slug = forms.CharField(
        max_length=50, help_text="Lower-case letters, digits and hyphens; used in URLs."
    )
    kind = forms.ChoiceField(choices=Company.Kind.choices)
    country = forms.CharField(
        max_length=2, required=False, help_text="Two-letter ISO code, e.g. US, DE."
    )
    website = forms.CharField(
        max_length=300, required=False, widget=forms.URLInput(attrs={"placeholder": "https://"})
    )


class CompanySettingsForm(forms.Form):
    name = forms.CharField(label="Legal name", max_length=200)
    kind = forms.ChoiceField(choices=Company.Kind.choices)
    country = forms.CharField(max_length=2, required=False)
    website = forms.CharField(max_length=300, required=False, widget=forms.URLInput())
    require_mfa = forms.BooleanField(
        label="Require two-factor authentication for acting on money",
        required=False,
    )


class InviteForm(forms.Form):
    target = forms.CharField(label="Username or email address", max_length=254)
    role = forms.ChoiceField(choices=CompanyMember.Role.choices, initial="finance")


class AgreementForm(MoneyForm):
    """One form per kind: only the kind's fields are shown and read."""

    currency = forms.ChoiceField(choices=currency_choices)
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Optional."
    )
    amount = MoneyField(
        label="Amount per developer per period",
        required=False,
        help_text="e.g. 2000 for the Open Source Pledge's $2,000 per developer per year.",
    )
    developers = forms.IntegerField(label="Developers", required=False, initial=1)
    period = forms.ChoiceField(choices=Agreement.Period.choices, required=False, initial="yearly")
    share = PercentField(
        label="FairOSS's share (%)",
        required=False,
        help_text="A percentage, up to 5 decimals: 0.5 means 0.5%.",
    )
    share_count = forms.IntegerField(label="Number of shares", required=False)
    share_class = forms.CharField(
        label="Share class", max_length=60, required=False, initial="Common Stock"
    )
    cliff_months = forms.IntegerField(label="Cliff (months)", required=False, initial=12)
    vesting_months = forms.IntegerField(label="Vesting period (months)", required=False, initial=48)
    time_vesting = PercentField(
        label="Part vesting over time (%)",
        required=False,
        initial="100",
        help_text="The rest vests on milestones; together they must make 100%.",
    )
    milestones = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "25; Series A closed"}),
        help_text="One per line: percent; title.",
    )
    fund_name = forms.CharField(label="Fund", max_length=200, required=False)

    FIELDS = {
        "pledge": ["amount", "developers", "period"],
        "dividend": ["share"],
        "equity": [
            "share",
            "share_count",
            "share_class",
            "cliff_months",
            "vesting_months",
            "time_vesting",
            "milestones",
        ],
        "carry": ["share", "fund_name"],
    }
    COMMON = ["currency", "start_date", "end_date"]

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        keep = set(self.COMMON) | set(self.FIELDS[kind])
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if kind == "equity":
            self.fields["share"].label = "FairOSS's stake (% of fully diluted shares)"

    def clean_share(self) -> int | None:
        """The service refuses the same range; said here in percent, as it was typed."""
        share: int | None = self.cleaned_data.get("share")
        if share is not None and not 0 < share <= MAX_SHARE_MILLIBIPS:
            raise forms.ValidationError(
                "Give a share above 0% and at most "
                f"{format_percent(millibips=MAX_SHARE_MILLIBIPS)}."
            )
        return share

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        amount, developers = data.get("amount"), data.get("developers")
        if amount and developers and amount * developers > MAX_AMOUNT:
            # The service's limit, said in money rather than minor units.
            limit = money_format(amount=MAX_AMOUNT, currency=data.get("currency") or "usd")
            self.add_error(
                "amount",
                f"The pledge per period (amount {TIMES} developers) must be at most {limit}.",
            )
        return data

    def clean_milestones(self) -> list[dict[str, Any]]:
        rows = []
        for i, line in enumerate(self.cleaned_data.get("milestones", "").splitlines(), 1):
            if not line.strip():
                continue
            pct, sep, title = line.partition(";")
            if not sep:
                raise forms.ValidationError(f"line {i}: write 'percent; title'.")
            try:
                millibips = percent_to_millibips(text=pct, field="milestones")
            except ValidationError as exc:
                raise forms.ValidationError(f"line {i}: {' '.join(exc.messages)}") from None
            rows.append({"title": title.strip(), "millibips": millibips})
        return rows

    def terms(self) -> dict[str, Any]:
        """The cleaned values in the service's (and API's) vocabulary."""
        data = self.cleaned_data
        out: dict[str, Any] = {
            "currency": data["currency"],
            "start_date": data["start_date"],
            "end_date": data.get("end_date"),
        }
        renames = {"share": "share_millibips", "time_vesting": "time_vesting_millibips"}
        for name in self.FIELDS[self.kind]:
            value = data.get(name)
            if value is None or value == "":
                if name in ("time_vesting",):
                    value = 0 if data.get("milestones") else FULL_SHARE
                elif name in ("cliff_months", "vesting_months"):
                    value = 0
                else:
                    value = None
            out[renames.get(name, name)] = value
        return out

    def service_field(self, name: str) -> str:
        return {"share_millibips": "share", "time_vesting_millibips": "time_vesting"}.get(
            name, name
        )

    def summary(self, company: Company) -> list[str]:
        """What the valid form proposes, in words, formatted money and percent: the first
        line says the deal ("You are proposing: $50.00 per developer per month, times 12
        developers = $600.00/month", with a multiplication sign), the others its details."""
        terms = self.terms()
        currency = terms["currency"]

        def money(amount: int) -> str:
            return money_format(amount=amount, currency=currency)

        def percent(millibips: int) -> str:
            return format_percent(millibips=millibips)

        lines: list[str] = []
        if self.kind == Agreement.Kind.PLEDGE:
            amount, developers = terms["amount"], terms["developers"] or 1
            noun = Agreement(period=terms["period"]).period_noun
            people = "developer" if developers == 1 else "developers"
            lines.append(
                f"You are proposing: {money(amount)} per developer per {noun} {TIMES} "
                f"{developers:,} {people} = {money(amount * developers)}/{noun}."
            )
        else:
            label = Agreement.Kind(self.kind).label.lower()
            lines.append(f"You are proposing a {label} agreement of {company.name}.")
            share = percent(terms["share_millibips"])
            if self.kind == Agreement.Kind.DIVIDEND:
                lines.append(f"FairOSS's share: {share} of every dividend {company.name} declares.")
            elif self.kind == Agreement.Kind.CARRY:
                fund = terms.get("fund_name") or company.name
                lines.append(f"FairOSS's share: {share} of the carried interest {fund} realises.")
            else:
                lines += _equity_lines(terms, share)
        start = terms["start_date"].isoformat()
        end = terms.get("end_date")
        until = f" until {end.isoformat()}" if end else ", with no end date"
        lines.append(f"In {currency.upper()}, from {start}{until}.")
        return lines


def _equity_lines(terms: Mapping[str, Any], share: str) -> list[str]:
    """The stake and its vesting, as the equity confirmation says them."""
    count = terms.get("share_count")
    shares = f" ({count:,} shares of {terms.get('share_class') or 'stock'})" if count else ""
    lines = [f"FairOSS's stake: {share} of the fully diluted shares{shares}."]
    time_part = terms.get("time_vesting_millibips") or 0
    if time_part:
        months, cliff = terms.get("vesting_months") or 0, terms.get("cliff_months") or 0
        over = f"over {months} months" if months else "at once"
        after = f" after a {cliff}-month cliff" if cliff else ""
        lines.append(f"Vesting: {format_percent(millibips=time_part)} {over}{after}.")
    for row in terms.get("milestones") or []:
        lines.append(
            f"Milestone: {format_percent(millibips=row['millibips'])} on “{row['title']}”."
        )
    return lines


def _due_sentence(agreement: Agreement, amount: int, currency: str) -> str:
    share = agreement.share_millibips or 0
    due = terms_math.share_of(amount=amount, millibips=share)
    return (
        f"FairOSS's part ({format_percent(millibips=share)}) will be invoiced: "
        f"{money_format(amount=due, currency=currency)}."
    )


class DeclarationForm(MoneyForm):
    declared_on = forms.DateField(
        label="Declared on", widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = MoneyField(label="Total dividend declared")
    currency = forms.ChoiceField(choices=currency_choices)

    def summary(self, agreement: Agreement) -> str:
        """What the valid form will record, in words and formatted money."""
        data = self.cleaned_data
        money = money_format(amount=data["amount"], currency=data["currency"])
        return (
            f"You are recording a dividend of {money} declared by {agreement.company.name} on "
            f"{data['declared_on'].isoformat()}. "
            + _due_sentence(agreement, data["amount"], data["currency"])
        )


class LiquidityForm(MoneyForm):
    kind = forms.ChoiceField(choices=LiquidityEvent.Kind.choices)
    occurred_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    proceeds = MoneyField(label="Proceeds for 100% of the fully diluted shares")
    currency = forms.ChoiceField(choices=currency_choices)
    portion = PercentField(
        label="Part of FairOSS's stake sold (%)",
        required=False,
        help_text="Empty: all of the vested, unsold stake.",
    )

    def summary(self, agreement: Agreement) -> str:
        """What the valid form will record, in words and formatted money."""
        data = self.cleaned_data
        kind = LiquidityEvent.Kind(data["kind"]).label.lower()
        money = money_format(amount=data["proceeds"], currency=data["currency"])
        portion = data.get("portion")
        sold = (
            f"{format_percent(millibips=portion)} of FairOSS's stake is sold"
            if portion
            else "all of FairOSS's vested, unsold stake is sold"
        )
        text = (
            f"You are recording an event ({kind}) of {agreement.company.name} on "
            f"{data['occurred_on'].isoformat()}: proceeds of {money} for 100% of the fully "
            f"diluted shares; {sold}."
        )
        if portion:
            due = terms_math.share_of_share(
                amount=data["proceeds"],
                millibips=agreement.share_millibips or 0,
                portion_millibips=portion,
            )
            text += (
                " FairOSS's part will be invoiced: "
                f"{money_format(amount=due, currency=data['currency'])}."
            )
        return text


class CarryForm(MoneyForm):
    distributed_on = forms.DateField(
        label="Distributed on", widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = MoneyField(label="Carried interest realised")
    currency = forms.ChoiceField(choices=currency_choices)

    def summary(self, agreement: Agreement) -> str:
        """What the valid form will record, in words and formatted money."""
        data = self.cleaned_data
        money = money_format(amount=data["amount"], currency=data["currency"])
        return (
            f"You are recording {money} of carried interest realised by "
            f"{agreement.company.name} on {data['distributed_on'].isoformat()}. "
            + _due_sentence(agreement, data["amount"], data["currency"])
        )


class EndForm(forms.Form):
    reason = forms.CharField(max_length=500)


class PreviewForm(MoneyForm):
    amount = MoneyField(label="Amount")
    currency = forms.ChoiceField(choices=currency_choices)


def error_text(exc: Exception) -> str:
    """A service error as one sentence for a page message."""
    from django.core.exceptions import ValidationError

    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You may not do this."
