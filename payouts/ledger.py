"""Writing to the ledger: the only way money moves (money rules 1, 2 and 4)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from .models import Account, LedgerTransaction, Posting

PLATFORM = "platform"


@dataclass(frozen=True)
class Leg:
    """One posting to be written: ``amount`` minor units to ``owner``'s ``purpose`` account."""

    owner: str
    purpose: str
    currency: str
    amount: int


class LedgerError(ValueError):
    """A transaction that would break a ledger rule; nothing was written."""


def accounts_get_or_create(
    *, keys: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Account]:
    """Accounts for ``(owner, purpose, currency)`` keys, creating the missing ones in bulk."""
    wanted = set(keys)
    found = _fetch(wanted)
    missing = wanted - set(found)
    if missing:
        Account.objects.bulk_create(
            [Account(owner=o, purpose=p, currency=c) for (o, p, c) in sorted(missing)],
            ignore_conflicts=True,
            batch_size=5000,
        )
        found.update(_fetch(missing))
    return found


def _fetch(keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], Account]:
    out: dict[tuple[str, str, str], Account] = {}
    owners = sorted({k[0] for k in keys})
    for i in range(0, len(owners), 5000):
        for account in Account.objects.filter(owner__in=owners[i : i + 5000]):
            key = (account.owner, account.purpose, account.currency)
            if key in keys:
                out[key] = account
    return out


def ledger_post(
    *,
    idempotency_key: str,
    kind: str,
    reference: str,
    legs: Sequence[Leg],
    memo: str = "",
    reverses: LedgerTransaction | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Write one balanced transaction; returns ``(transaction, created)``.

    Preconditions: every leg's amount is a non-zero int; legs sum to zero per currency;
    currencies are lower-case ISO codes.
    Invariants: a second call with the same ``idempotency_key`` writes nothing and returns
    the first transaction (money rule 4); all postings are inserted in one statement, which
    the database checks for balance (PostgreSQL trigger).
    """
    if not idempotency_key:
        raise LedgerError("an idempotency key is required")
    totals: dict[str, int] = defaultdict(int)
    merged: dict[tuple[str, str, str], int] = defaultdict(int)
    for leg in legs:
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int):
            raise LedgerError(f"amounts are integer minor units, got {leg.amount!r}")
        if len(leg.currency) != 3 or not leg.currency.islower() or not leg.currency.isalpha():
            raise LedgerError(f"currency must be a lower-case ISO code, got {leg.currency!r}")
        totals[leg.currency] += leg.amount
        merged[(leg.owner, leg.purpose, leg.currency)] += leg.amount
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise LedgerError(f"postings must sum to zero per currency; they sum to {unbalanced}")
    merged = {k: v for k, v in merged.items() if v != 0}
    if not merged:
        raise LedgerError("a transaction needs at least one non-zero posting")
    existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            accounts = accounts_get_or_create(keys=merged.keys())
            txn = LedgerTransaction.objects.create(
                idempotency_key=idempotency_key,
                kind=kind,
                reference=reference[:200],
                memo=memo,
                reverses=reverses,
            )
            Posting.objects.bulk_create(
                [
                    Posting(transaction=txn, account=accounts[key], amount=amount, currency=key[2])
                    for key, amount in sorted(merged.items())
                ],
                batch_size=None,
            )
    except IntegrityError:
        # Lost a race with the same idempotency key: the other writer's transaction stands.
        existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing, False
    return txn, True


def ledger_reverse(*, original: LedgerTransaction, reason: str) -> LedgerTransaction:
    """A correction: a new transaction with every posting of ``original`` negated."""
    legs = [
        Leg(p.account.owner, p.account.purpose, p.currency, -p.amount)
        for p in original.postings.select_related("account")
    ]
    txn, _ = ledger_post(
        idempotency_key=f"reversal:{original.pk}",
        kind=LedgerTransaction.Kind.REVERSAL,
        reference=f"txn:{original.pk}",
        legs=legs,
        memo=reason,
        reverses=original,
    )
    return txn
