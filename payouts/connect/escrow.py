"""Escrow that waits too long: returning unclaimed escrow to the tables that sent it, and
telling ``email:`` identities that money waits for them (money rule 6)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from faiross.kernel.allocation import allocate
from faiross.kernel.recipients import recipient_split
from payouts.distribution.runs import run_compute
from payouts.holds import recipient_is_held
from payouts.ledger import Leg, ledger_post
from payouts.models import (
    Account,
    ClaimedIdentity,
    DistributionRun,
    LedgerTransaction,
    Posting,
    RunAllocation,
)
from payouts.notifications import _notify


def _run_sources(
    run_id: int, identity: str, currency: str, cache: dict[int, Any]
) -> dict[str, int]:
    """{table owner: weight} of the tables that sent ``identity`` money in a run: the money
    passing through each owner times the millibips its table gave the identity."""
    if run_id not in cache:
        run = DistributionRun.objects.filter(pk=run_id, status=DistributionRun.Status.DONE).first()
        cache[run_id] = run_compute(run.snapshot) if run and run.snapshot else None  # type: ignore[arg-type]
    computed = cache[run_id]
    if computed is None or currency not in computed.distribution.currencies:
        return {}
    graph = computed.graph
    terminals = list(graph.terminal_ids or ())
    if identity not in terminals:
        return {}
    t = terminals.index(identity)
    nodes = graph.node_ids or ()
    through = computed.distribution.currencies[currency].pass_through
    weights: dict[str, int] = defaultdict(int)
    for i in range(len(nodes)):
        s, e = int(graph.terminal_indptr[i]), int(graph.terminal_indptr[i + 1])
        for target, m in zip(
            graph.terminal_targets[s:e].tolist(),
            graph.terminal_millibips[s:e].tolist(),
            strict=True,
        ):
            if target == t and m > 0 and int(through[i]) > 0:
                weights[nodes[i]] += int(through[i]) * int(m)
    return dict(weights)


def escrow_expired_parts(*, account: Account, cutoff: dt.datetime) -> list[tuple[int | None, int]]:
    """[(run id or None, amount)] of the escrow credited before ``cutoff`` and still there.

    Debits (claims, returns, holds) consume the oldest credits first.
    """
    postings = list(
        Posting.objects.filter(account=account)
        .select_related("transaction")
        .order_by("id")
        .values_list(
            "amount", "transaction__reference", "transaction__kind", "transaction__created_at"
        )
    )
    debits = -sum(a for a, *_ in postings if a < 0)
    parts: list[tuple[int | None, int]] = []
    for amount, reference, kind, created in postings:
        if amount <= 0:
            continue
        used = min(debits, amount)
        debits -= used
        left = amount - used
        if left and created < cutoff:
            run_id = None
            if kind == LedgerTransaction.Kind.DISTRIBUTION and reference.startswith("run:"):
                run_id = int(reference.split(":", 1)[1])
            parts.append((run_id, left))
    return parts


def escrow_return_expired(*, now: dt.datetime | None = None) -> list[LedgerTransaction]:
    """Return escrow unclaimed for ``FAIROSS_ESCROW_RETURN_DAYS`` to the reserve of the table
    owners that named the identity (money rule 6), split by what each table sent it.

    Skips claimed identities (swept instead), held ones (money rule 7), unclaimed projects'
    own escrow and credits whose source tables cannot be found. Idempotent: the key names the
    account and its last posting.
    """
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.FAIROSS_ESCROW_RETURN_DAYS)
    claimed = set(ClaimedIdentity.objects.values_list("identity", flat=True))
    cache: dict[int, Any] = {}
    out: list[LedgerTransaction] = []
    candidates = (
        Account.objects.filter(
            purpose=Account.Purpose.ESCROW, postings__transaction__created_at__lt=cutoff
        )
        .exclude(owner__startswith="project:")
        .distinct()
        .order_by("owner", "currency")
    )
    for candidate in candidates:
        if candidate.owner in claimed or recipient_is_held(recipient=candidate.owner):
            continue
        with transaction.atomic():
            account = Account.objects.select_for_update().get(pk=candidate.pk)
            parts = escrow_expired_parts(account=account, cutoff=cutoff)
            legs: dict[str, int] = defaultdict(int)
            for run_id, amount in parts:
                sources = (
                    _run_sources(run_id, account.owner, account.currency, cache) if run_id else {}
                )
                if not sources:
                    continue
                owners = sorted(sources)
                for owner, share in zip(
                    owners,
                    allocate(total=amount, weights=[sources[o] for o in owners]),
                    strict=True,
                ):
                    if share:
                        legs[owner] += share
            total = sum(legs.values())
            if total <= 0:
                continue
            last = Posting.objects.filter(account=account).aggregate(last=Max("id"))["last"]
            txn, _ = ledger_post(
                idempotency_key=f"escrow_return:{account.pk}:{last}",
                kind=LedgerTransaction.Kind.ESCROW_RETURN,
                reference=f"escrow_return:{account.owner}",
                legs=[
                    Leg(account.owner, Account.Purpose.ESCROW, account.currency, -total),
                    *(
                        Leg(owner, Account.Purpose.RESERVE, account.currency, amount)
                        for owner, amount in sorted(legs.items())
                    ),
                ],
                memo=f"unclaimed for {settings.FAIROSS_ESCROW_RETURN_DAYS} days",
            )
            out.append(txn)
    return out


def escrow_waiting_notify(*, run_id: int) -> int:
    """Email each ``email:`` identity a run credited to escrow that money waits to be claimed
    (once per run and address). Returns how many were notified."""
    n = 0
    rows = RunAllocation.objects.filter(
        run_id=run_id,
        run__status=DistributionRun.Status.DONE,
        purpose=Account.Purpose.ESCROW,
        recipient__startswith="email:",
    ).order_by("recipient", "currency")
    for row in rows:
        address = recipient_split(row.recipient)[1]
        _notify(
            key=f"escrow-waiting:run:{run_id}:{row.recipient}:{row.currency}",
            to=address,
            subject="Money is waiting for you on FairOSS",
            template="payouts/email/escrow_waiting.txt",
            context={"identity": row.recipient, "allocation": row},
        )
        n += 1
    return n
