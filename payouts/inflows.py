"""Money received for a company (an inflow), posted to the ledger: the start of the money path."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from faiross.kernel.money import amount_clean, currency_clean
from payouts.ledger import PLATFORM, Leg, ledger_post
from payouts.models import Account, Inflow, LedgerTransaction


class InflowSource(Protocol):
    """Whom money is received for: a company (the companies app's model)."""

    pk: Any
    name: str

    @property
    def owner_key(self) -> str: ...


@transaction.atomic
def inflow_record(
    *,
    company: InflowSource,
    amount: int,
    currency: str,
    reference: str,
    source: str = Inflow.Source.WIRE,
    received_at: dt.datetime | None = None,
    recorded_by: User | None = None,
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
                company_id=company.pk,
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
