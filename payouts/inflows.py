"""Money received for a company (an inflow), posted to the ledger: the start of the money path."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from faiross.kernel.conflicts import ConflictError
from faiross.kernel.money import amount_clean, currency_clean, money_format
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

    Idempotent by ``reference``: the same reference with the same company, amount and
    currency returns the first inflow; with different terms it is refused with
    :class:`~faiross.kernel.conflicts.ConflictError` (API: 409), also when both arrive at the
    same time: callers with one reference are serialized by a lock on it, so a caller never
    gets back an inflow of other terms than its own. Posts
    ``company:<slug>/contributed -amount, platform/pool +amount`` in one ledger transaction.
    """
    amount = amount_clean(amount=amount)
    currency = currency_clean(currency=currency)
    reference = (reference or "").strip()
    if not reference or len(reference) > 200:
        raise ValidationError({"reference": "Give the payment's reference (1 to 200 characters)."})
    _reference_lock(reference)
    existing = Inflow.objects.filter(reference=reference).first()
    if existing is not None:
        return _same_terms(existing, company=company, amount=amount, currency=currency), False
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
        # Only reachable without the lock (another database); the same rule still holds.
        existing = Inflow.objects.get(reference=reference)
        return _same_terms(existing, company=company, amount=amount, currency=currency), False
    return inflow, True


def _reference_lock(reference: str) -> None:
    """Serialize inflows of one reference until the transaction ends (PostgreSQL advisory
    lock). Without it two requests with one reference and different amounts both miss the
    other's uncommitted row, and the second silently got the first one's inflow. SQLite
    needs none: its writers are serialized (IMMEDIATE transactions)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_SPACE, reference]
            )


_LOCK_SPACE = 7_401  # the advisory-lock namespace of inflow references


def _same_terms(existing: Inflow, *, company: InflowSource, amount: int, currency: str) -> Inflow:
    """``existing`` when it records the same money, else the conflict, in words."""
    if (existing.company_id, existing.amount, existing.currency) == (company.pk, amount, currency):
        return existing
    recorded = money_format(amount=existing.amount, currency=existing.currency)
    raise ConflictError(
        {
            "reference": f"The reference '{existing.reference}' was already used for another "
            f"inflow ({recorded}); give this payment its own reference."
        }
    )
