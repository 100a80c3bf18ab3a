"""Operations of the money path: inflows, distribution runs (see payouts.runs), balances."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from companies.models import Company

from .ledger import PLATFORM, Leg, ledger_post
from .models import Account, Inflow, LedgerTransaction

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


@transaction.atomic
def inflow_record(
    *,
    company: Company,
    amount: int,
    currency: str,
    reference: str,
    source: str = Inflow.Source.WIRE,
    received_at: dt.datetime | None = None,
    recorded_by: AbstractBaseUser | None = None,
) -> tuple[Inflow, bool]:
    """Record money received for ``company``; returns ``(inflow, created)``.

    Idempotent by ``reference``: the same reference with the same amount and currency returns
    the first inflow; with different terms it is refused. Posts
    ``company:<slug>/contributed -amount, platform/pool +amount`` in one ledger transaction.
    """
    amount = amount_clean(amount=amount)
    currency = currency_clean(currency=currency)
    reference = (reference or "").strip()
    if not reference or len(reference) > 200:
        raise ValidationError({"reference": "Give the payment's reference (1 to 200 characters)."})
    existing = Inflow.objects.filter(reference=reference).first()
    if existing is not None:
        if (existing.company_id, existing.amount, existing.currency) != (
            company.pk,
            amount,
            currency,
        ):
            raise ValidationError(
                {"reference": f"The reference '{reference}' was already used for another inflow."}
            )
        return existing, False
    txn, _ = ledger_post(
        idempotency_key=f"inflow:{reference}",
        kind=LedgerTransaction.Kind.INFLOW,
        reference=f"inflow:{reference}",
        legs=[
            Leg(company.owner_key, Account.Purpose.CONTRIBUTED, currency, -amount),
            Leg(PLATFORM, Account.Purpose.POOL, currency, amount),
        ],
        memo=f"{source} from {company.name}",
    )
    try:
        with transaction.atomic():
            inflow = Inflow.objects.create(
                company=company,
                amount=amount,
                currency=currency,
                reference=reference,
                source=source,
                received_at=received_at or timezone.now(),
                recorded_by=recorded_by,
                ledger_transaction=txn,
            )
    except IntegrityError:
        return Inflow.objects.get(reference=reference), False
    return inflow, True
