"""Investor profiles: the investor states who they are; the broker-dealer checks it.

The investor writes their legal name, country and (for the limit) income and net worth. The
broker-dealer's staff set the KYC status with a reference to the documents they hold (never
the documents) and whether the investor is accredited; a change by the investor to their name
or country sends a verified profile back to "pending".
"""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import InvestorProfile
from ._common import require_broker_dealer, text_clean

COUNTRY_RE = re.compile(r"[A-Z]{2}")


@transaction.atomic
def investor_profile_save(
    *,
    user: User,
    legal_name: object,
    country: object,
    annual_income: int | None = None,
    net_worth: int | None = None,
) -> InvestorProfile:
    name = text_clean(legal_name, field="legal_name", max_length=200)
    code = text_clean(country, field="country", max_length=2).upper()
    if not COUNTRY_RE.fullmatch(code):
        raise ValidationError({"country": "Two letters (ISO 3166), e.g. US."})
    for field, value in (("annual_income", annual_income), ("net_worth", net_worth)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ValidationError({field: "A non-negative amount."})
    profile = InvestorProfile.objects.select_for_update().filter(user=user).first()
    if profile is None:
        return InvestorProfile.objects.create(
            user=user,
            legal_name=name,
            country=code,
            annual_income=annual_income,
            net_worth=net_worth,
            kyc_status=InvestorProfile.Kyc.PENDING,
        )
    if (profile.legal_name, profile.country) != (name, code) and profile.kyc_status == "verified":
        profile.kyc_status = InvestorProfile.Kyc.PENDING  # a new identity to check
    profile.legal_name, profile.country = name, code
    profile.annual_income, profile.net_worth = annual_income, net_worth
    profile.save()
    return profile


@transaction.atomic
def investor_kyc_set(
    *,
    profile: InvestorProfile,
    actor: User,
    status: object,
    reference: object,
    accredited: bool | None = None,
) -> InvestorProfile:
    """The broker-dealer sets the KYC status; "verified" needs the document reference."""
    require_broker_dealer(actor)
    if status not in InvestorProfile.Kyc.values:
        raise ValidationError({"kyc_status": "Choose none, pending, verified or rejected."})
    ref = text_clean(
        reference, field="kyc_reference", max_length=200, required=status == "verified"
    )
    profile = InvestorProfile.objects.select_for_update().get(pk=profile.pk)
    profile.kyc_status = status
    profile.kyc_reference = ref
    profile.kyc_set_by = actor
    profile.kyc_set_at = timezone.now()
    if accredited is not None:
        profile.accredited = bool(accredited)
    profile.save()
    return profile
