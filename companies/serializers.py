"""Input serializers of the companies API: every call's input is parsed here once.

Types, NUL characters, lengths, ranges, dates, amounts and currencies are checked by the
kernel's fields (:mod:`faiross.kernel.api_fields`); the views pass ``validated_data`` (ints,
dates, lists, model instances) to the services, which keep the business rules (a slug is
taken, an event is in the agreement's currency, vesting adds up to 100%, who may act).
Errors are 400 with ``{"field": ["message", ...]}`` (DESIGN.md "API v1").
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from faiross.kernel.api_fields import (
    AmountField,
    CurrencyField,
    FlatListField,
    MillibipsField,
    NoNulCharField,
    NoUnknownFieldsSerializer,
    StrictBooleanField,
    StrictDateField,
    StrictIntegerField,
    field_messages,
)
from faiross.kernel.money import MAX_AMOUNT, amount_clean

from .models import Agreement, Company, CompanyMember, LiquidityEvent
from .services.agreement_terms import (
    MAX_DEVELOPERS,
    MAX_MILESTONES,
    MAX_SHARE_COUNT,
    MAX_SHARE_MILLIBIPS,
    MAX_VESTING_MONTHS,
)
from .services.billing import MAX_PROCEEDS

# --- companies ----------------------------------------------------------------------------


class CompanyUpdateInput(serializers.Serializer):
    """``PATCH /api/v1/companies/{slug}/``: any of the details; the slug never changes."""

    name = NoNulCharField(max_length=200, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Company.Kind.choices, required=False)
    country = NoNulCharField(
        max_length=2, required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2 code"
    )
    website = NoNulCharField(max_length=300, required=False, allow_blank=True)
    require_mfa = StrictBooleanField(required=False)


class CompanyCreateInput(CompanyUpdateInput):
    """``POST /api/v1/companies/``: the creator becomes owner. The slug and name rules (and
    whether the slug is taken) are the service's, so every problem is reported at once."""

    slug = NoNulCharField(max_length=50)
    name = NoNulCharField(max_length=200, allow_blank=True)


class CompanyInviteInput(serializers.Serializer):
    """``POST /api/v1/companies/{slug}/invitations/``: a username or an email address."""

    target = NoNulCharField(max_length=254, help_text="a username or an email address")
    role = serializers.ChoiceField(choices=CompanyMember.Role.choices)


# --- agreements ---------------------------------------------------------------------------


class _AgreementInput(NoUnknownFieldsSerializer):
    """The terms every kind has; a subclass per kind adds its own."""

    kind = serializers.ChoiceField(choices=Agreement.Kind.choices)
    currency = CurrencyField()
    start_date = StrictDateField()
    end_date = StrictDateField(required=False, allow_null=True, blank_is_none=True)


class PledgeAgreementInput(_AgreementInput):
    """A pledge: ``amount`` per developer per ``period``."""

    amount = AmountField(help_text="per developer per period, in minor units")
    developers = StrictIntegerField(min_value=1, max_value=MAX_DEVELOPERS, required=False)
    period = serializers.ChoiceField(choices=Agreement.Period.choices)


class DividendAgreementInput(_AgreementInput):
    """A share of each dividend the company declares."""

    share_millibips = MillibipsField(max_value=MAX_SHARE_MILLIBIPS)


class MilestoneInput(serializers.Serializer):
    title = NoNulCharField(max_length=200)
    millibips = MillibipsField()


class EquityAgreementInput(_AgreementInput):
    """Millibips of the company, vesting over time and by milestones (together 100%)."""

    share_millibips = MillibipsField(max_value=MAX_SHARE_MILLIBIPS)
    share_count = StrictIntegerField(min_value=1, max_value=MAX_SHARE_COUNT)
    share_class = NoNulCharField(max_length=60)
    cliff_months = StrictIntegerField(min_value=0, max_value=MAX_VESTING_MONTHS, required=False)
    vesting_months = StrictIntegerField(min_value=0, max_value=MAX_VESTING_MONTHS, required=False)
    time_vesting_millibips = MillibipsField(min_value=0, required=False)
    milestones = FlatListField(
        child=MilestoneInput(),
        item_name="milestone",
        max_length=MAX_MILESTONES,
        required=False,
        allow_null=True,
    )


class CarryAgreementInput(_AgreementInput):
    """A share of a VC fund's realised carried interest."""

    share_millibips = MillibipsField(max_value=MAX_SHARE_MILLIBIPS)
    fund_name = NoNulCharField(max_length=200)


class AgreementKindInput(serializers.Serializer):
    """What is checked when the kind itself is missing or unknown."""

    kind = serializers.ChoiceField(choices=Agreement.Kind.choices)


AGREEMENT_INPUTS: dict[str, type[_AgreementInput]] = {
    Agreement.Kind.PLEDGE: PledgeAgreementInput,
    Agreement.Kind.DIVIDEND: DividendAgreementInput,
    Agreement.Kind.EQUITY: EquityAgreementInput,
    Agreement.Kind.CARRY: CarryAgreementInput,
}

AgreementCreateSchema = PolymorphicProxySerializer(
    component_name="AgreementCreateInput",
    serializers={str(kind): cls for kind, cls in AGREEMENT_INPUTS.items()},
    resource_type_field_name="kind",
)


def agreement_create_input(data: Any) -> serializers.Serializer:
    """``POST .../agreements/``: the input serializer of the body's kind."""
    kind = data.get("kind") if isinstance(data, dict) else None
    cls = AGREEMENT_INPUTS.get(kind) if isinstance(kind, str) else None
    return (cls or AgreementKindInput)(data=data)


class AgreementEndInput(serializers.Serializer):
    reason = NoNulCharField(max_length=500)


# --- events of an agreement (money becomes due) --------------------------------------------


def _confirm_duplicate() -> StrictBooleanField:
    return StrictBooleanField(
        required=False,
        default=False,
        help_text="true records it even when one of the same day and amount exists (else 409)",
    )


class DividendDeclarationInput(serializers.Serializer):
    amount = AmountField(max_value=MAX_PROCEEDS, help_text="the whole dividend, minor units")
    currency = CurrencyField()
    declared_on = StrictDateField()
    confirm_duplicate = _confirm_duplicate()


class LiquidityEventInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LiquidityEvent.Kind.choices)
    occurred_on = StrictDateField()
    proceeds = AmountField(
        max_value=MAX_PROCEEDS, help_text="the price of 100% of the fully diluted shares"
    )
    currency = CurrencyField()
    portion_millibips = MillibipsField(
        required=False,
        allow_null=True,
        help_text="the part of FairOSS's stake sold; default: all of the vested, unsold part",
    )
    confirm_duplicate = _confirm_duplicate()


class CarryDistributionInput(serializers.Serializer):
    amount = AmountField(max_value=MAX_PROCEEDS, help_text="realised carry, minor units")
    currency = CurrencyField()
    distributed_on = StrictDateField()
    confirm_duplicate = _confirm_duplicate()


# --- invoices and previews ----------------------------------------------------------------

URL_MESSAGE = "Give an http(s) URL of at most 1,000 characters."


def _http_url(value: str) -> None:
    if value and not value.startswith(("http://", "https://")):
        raise serializers.ValidationError(URL_MESSAGE)


class InvoiceCheckoutInput(serializers.Serializer):
    """Where Stripe Checkout returns to; by default the invoice's page and the dashboard."""

    success_url = NoNulCharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        validators=[_http_url],
        error_messages={"max_length": URL_MESSAGE},
    )
    cancel_url = NoNulCharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        validators=[_http_url],
        error_messages={"max_length": URL_MESSAGE},
    )


class InvoiceConfirmInput(serializers.Serializer):
    session_id = NoNulCharField(max_length=100, help_text="the Checkout Session id (cs_...)")


class InvoiceWireInput(serializers.Serializer):
    reference = NoNulCharField(max_length=150, required=False, allow_blank=True)


class PreviewQuery(serializers.Serializer):
    """``GET .../preview/?amount=&currency=`` (a query string: the amount is digits)."""

    amount = serializers.IntegerField(
        min_value=1, max_value=MAX_AMOUNT, help_text="integer minor units (cents)"
    )
    currency = CurrencyField()

    def validate_amount(self, value: int) -> int:
        try:
            return amount_clean(amount=value, field="amount")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(field_messages(exc, "amount")) from None


# --- money received (staff) ---------------------------------------------------------------


class InflowInput(serializers.Serializer):
    """``POST /api/v1/inflows/``: money received (e.g. a wire), idempotent by ``reference``."""

    company = NoNulCharField(max_length=50, help_text="the company's slug")
    amount = AmountField()
    currency = CurrencyField()
    reference = NoNulCharField(max_length=200)

    def validate_company(self, value: str) -> Company:
        company = Company.objects.filter(slug=value).first()
        if company is None:
            raise serializers.ValidationError("There is no company with this slug.")
        return company
