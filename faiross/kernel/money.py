"""Money values: integer minor units plus a lower-case ISO 4217 code (money rule 1).

The one place that says what a valid amount and currency are; forms, API serializers and
services all call these, so a rule accepted in one place is accepted everywhere.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_AMOUNT = 10**12  # minor units; 10 billion in a 2-decimal currency


def currency_clean(*, currency: object, field: str = "currency") -> str:
    if not isinstance(currency, str) or currency.lower() not in settings.FAIROSS_CURRENCIES:
        supported = ", ".join(settings.FAIROSS_CURRENCIES)
        raise ValidationError({field: f"Use one of the supported currencies: {supported}."})
    return currency.lower()


def amount_clean(*, amount: object, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError({field: "Give a whole number of minor units (cents), e.g. 250000."})
    if not 0 < amount <= MAX_AMOUNT:
        raise ValidationError({field: f"The amount must be from 1 to {MAX_AMOUNT:,} minor units."})
    return amount
