"""Writing to the ledger: the only way money moves (money rules 1, 2 and 4)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from faiross.kernel.bulk import copy_rows, ids_reserve

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
    merged = _legs_merged(legs)
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


def _legs_merged(legs: Sequence[Leg]) -> dict[tuple[str, str, str], int]:
    """The non-zero amount per account of one transaction's legs; raises :class:`LedgerError`
    unless the amounts are integers in lower-case ISO currencies summing to zero per currency."""
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
    nonzero = {k: v for k, v in merged.items() if v != 0}
    if not nonzero:
        raise LedgerError("a transaction needs at least one non-zero posting")
    return nonzero


@dataclass(frozen=True)
class TransactionDraft:
    """One transaction for :func:`ledger_post_many`."""

    idempotency_key: str
    kind: str
    reference: str
    legs: Sequence[Leg]


def ledger_post_many(
    *,
    drafts: Sequence[TransactionDraft],
    created_at: dt.datetime,
    account_ids: Mapping[tuple[str, str, str], int] | None = None,
) -> dict[str, int]:
    """Write many balanced transactions at once (a market batch); returns ``{key: id}``.

    Preconditions: inside the caller's database transaction; no draft's key is in the ledger
    yet (the caller derives keys from ids it assigned, so a key can exist only if this very
    batch committed before); ``account_ids``, when given, holds every account the legs name.
    Invariants: the rules of :func:`ledger_post` per draft (checked before anything is
    written); on PostgreSQL two COPY statements, the postings' statement checked for balance by
    the trigger as usual; elsewhere one :func:`ledger_post` per draft.
    """
    merged = [_legs_merged(d.legs) for d in drafts]
    if not drafts:
        return {}
    if any(not d.idempotency_key for d in drafts):
        raise LedgerError("an idempotency key is required")
    if connection.vendor != "postgresql":
        out = {}
        for draft in drafts:
            txn, _ = ledger_post(
                idempotency_key=draft.idempotency_key,
                kind=draft.kind,
                reference=draft.reference,
                legs=draft.legs,
            )
            out[draft.idempotency_key] = txn.pk
        return out
    if account_ids is None:
        keys = {key for legs in merged for key in legs}
        account_ids = {k: a.pk for k, a in accounts_get_or_create(keys=keys).items()}
    with connection.cursor() as cursor:
        pks = ids_reserve(cursor, "payouts_ledgertransaction", len(drafts))
        copy_rows(
            cursor,
            "payouts_ledgertransaction",
            ("id", "idempotency_key", "kind", "reference", "memo", "created_at"),
            [
                pks,
                [d.idempotency_key for d in drafts],
                [d.kind for d in drafts],
                [d.reference[:200] for d in drafts],
                [""] * len(drafts),
                [created_at] * len(drafts),
            ],
        )
        postings = [
            (pk, account_ids[key], amount, key[2])
            for pk, legs in zip(pks, merged, strict=True)
            for key, amount in sorted(legs.items())
        ]
        copy_rows(
            cursor,
            "payouts_posting",
            ("transaction_id", "account_id", "amount", "currency"),
            [list(column) for column in zip(*postings, strict=True)],
        )
    return {d.idempotency_key: pk for d, pk in zip(drafts, pks, strict=True)}


def ledger_post_run(
    *, run_id: int, currency: str, idempotency_key: str, reference: str, memo: str
) -> tuple[LedgerTransaction, bool]:
    """Post a run's allocations in ``currency``: the pool pays every recipient account.

    The same rules as :func:`ledger_post` (idempotent by key, one balanced transaction). On
    PostgreSQL the postings are written by one INSERT ... SELECT on the server, so a run with
    millions of recipients never builds a Python object per posting; the balance trigger
    checks the statement as usual.
    """
    from .models import RunAllocation

    existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    allocations = RunAllocation.objects.filter(run_id=run_id, currency=currency)
    if connection.vendor != "postgresql":
        legs = [
            Leg(owner, purpose, currency, amount)
            for owner, purpose, amount in allocations.values_list("recipient", "purpose", "amount")
        ]
        total = sum(leg.amount for leg in legs)
        return ledger_post(
            idempotency_key=idempotency_key,
            kind=LedgerTransaction.Kind.DISTRIBUTION,
            reference=reference,
            legs=[Leg(PLATFORM, "pool", currency, -total), *legs],
            memo=memo,
        )
    with transaction.atomic():
        pool = accounts_get_or_create(keys=[(PLATFORM, "pool", currency)])[
            (PLATFORM, "pool", currency)
        ]
        txn = LedgerTransaction.objects.create(
            idempotency_key=idempotency_key,
            kind=LedgerTransaction.Kind.DISTRIBUTION,
            reference=reference[:200],
            memo=memo,
        )
        with connection.cursor() as cursor:
            # Hash joins over millions of rows want memory; only this transaction gets it.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")  # a second of compiling, nothing gained
            # Accounts that do not exist yet (all of them in a first run, few later), in key
            # order so the unique index grows at its end rather than everywhere.
            cursor.execute(
                "INSERT INTO payouts_account (owner, purpose, currency, created_at) "
                "SELECT r.recipient, r.purpose, r.currency, now() "
                "FROM payouts_runallocation r WHERE r.run_id = %s AND r.currency = %s "
                "AND NOT EXISTS (SELECT 1 FROM payouts_account a WHERE a.owner = r.recipient "
                "AND a.purpose = r.purpose AND a.currency = r.currency) "
                "ORDER BY r.recipient, r.purpose "
                "ON CONFLICT (owner, purpose, currency) DO NOTHING",
                [run_id, currency],
            )
            # One statement, so the balance trigger checks the whole transaction at once;
            # in account order, so the account indexes are written in order.
            cursor.execute(
                "INSERT INTO payouts_posting (transaction_id, account_id, amount, currency) "
                "SELECT t, a, v, c FROM ("
                "SELECT %s AS t, a.id AS a, r.amount AS v, r.currency AS c "
                "FROM payouts_runallocation r "
                "JOIN payouts_account a ON a.owner = r.recipient AND a.purpose = r.purpose "
                "AND a.currency = r.currency WHERE r.run_id = %s AND r.currency = %s "
                "UNION ALL SELECT %s, %s, -SUM(r.amount), %s FROM payouts_runallocation r "
                "WHERE r.run_id = %s AND r.currency = %s) rows ORDER BY a",
                [txn.pk, run_id, currency, txn.pk, pool.pk, currency, run_id, currency],
            )
    return txn, True
