"""Escrow that waits too long: returning unclaimed escrow to the tables that sent it, and
telling ``email:`` identities that money waits for them (money rule 6)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from faiross.kernel.allocation import allocate
from faiross.kernel.recipients import project_key, recipient_split
from payouts.distribution.explain import EXPLAIN_MAX_TABLES
from payouts.distribution.report import run_table_count
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
from payouts.selectors import table_named_identities
from projects.models import Project, TableEntry


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


def _snapshot_owners(run_id: int, owners: list[str]) -> dict[str, tuple[str | None, bool]]:
    """{owner: (its version id in run ``run_id``'s snapshot as text or None, unverified)}: read
    in the database, not by loading the snapshot, and kept in the cache for good (a taken
    snapshot never changes)."""
    keys = {o: f"run-owner:{run_id}:{o}" for o in owners}
    found = django_cache.get_many(list(keys.values()))
    out = {o: tuple(found[k]) for o, k in keys.items() if k in found}
    missing = [o for o in owners if o not in out]
    if missing and connection.vendor != "postgresql":
        # The embedded database (SQLite, demo sizes) has no JSON operators for this: read
        # the snapshot whole.
        snapshot = (
            DistributionRun.objects.filter(pk=run_id).values_list("snapshot", flat=True).first()
            or {}
        )
        versions = snapshot.get("versions", {})
        unverified = set(snapshot.get("unverified", ()))
        fresh_local = {
            o: (None if o not in versions else str(versions[o]), o in unverified) for o in missing
        }
        django_cache.set_many({keys[o]: list(v) for o, v in fresh_local.items()}, timeout=None)
        out.update(fresh_local)
    elif missing:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT o, r.snapshot -> 'versions' ->> o, "
                "COALESCE(r.snapshot -> 'unverified', '[]'::jsonb) ? o "
                "FROM payouts_distributionrun r, unnest(%s::text[]) AS o "
                "WHERE r.id = %s AND r.snapshot IS NOT NULL",
                [missing, run_id],
            )
            fresh = {o: (v, bool(u)) for o, v, u in cursor.fetchall()}
        django_cache.set_many({keys[o]: list(v) for o, v in fresh.items()}, timeout=None)
        out.update(fresh)
    return out  # type: ignore[return-value]


def _run_namers(run_id: int, identity: str, cache: dict[tuple[int, str], list[str]]) -> list[str]:
    """The table owners whose version in the run named ``identity`` and routed money (an
    unverified owner's table routes nothing), without recomputing the run."""
    key = (run_id, identity)
    if key not in cache:
        # By the indexed recipient key; only the snapshot's lines for these owners are read
        # (the whole snapshot is megabytes at 100,000 projects).
        rows = list(
            TableEntry.objects.filter(recipient_key__key=identity).values_list(
                "version_id", "version__table__owner_key"
            )
        )
        in_run = _snapshot_owners(run_id, sorted({o for _, o in rows}))
        cache[key] = sorted(
            {o for v, o in rows if o in in_run and in_run[o][0] == str(v) and not in_run[o][1]}
        )
    return cache[key]


def escrow_part_sources(
    *,
    run_id: int,
    identity: str,
    currency: str,
    amount: int,
    cache: dict[Any, Any],
    recompute_limit: int | None = None,
) -> dict[str, int] | None:
    """{table owner: cents} of ``amount`` of the escrow ``identity`` got in a run, split by what
    each table sent it (largest remainder); the parts add up to ``amount``.

    One naming table takes it all with no recomputation. Several need the run recomputed from
    its snapshot; with ``recompute_limit`` set, a run of more tables than that answers None
    (unknown) rather than recompute on a page view. ``{}`` when no source can be found.
    """
    namers = _run_namers(run_id, identity, cache.setdefault("namers", {}))
    if len(namers) == 1:
        return {namers[0]: amount}
    if recompute_limit is not None and run_table_count(run_id=run_id) > recompute_limit:
        return None
    sources = _run_sources(run_id, identity, currency, cache.setdefault("runs", {}))
    if not sources:
        return {}
    owners = sorted(sources)
    shares = allocate(total=amount, weights=[sources[o] for o in owners])
    return {o: v for o, v in zip(owners, shares, strict=True) if v}


def escrow_open_parts(*, account: Account) -> list[tuple[int | None, dt.datetime, int]]:
    """[(run id or None, credited at, amount)] of the credits still in an escrow account.

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
    parts: list[tuple[int | None, dt.datetime, int]] = []
    for amount, reference, kind, created in postings:
        if amount <= 0:
            continue
        used = min(debits, amount)
        debits -= used
        left = amount - used
        if left:
            run_id = None
            if kind == LedgerTransaction.Kind.DISTRIBUTION and reference.startswith("run:"):
                run_id = int(reference.split(":", 1)[1])
            parts.append((run_id, created, left))
    return parts


def escrow_expired_parts(*, account: Account, cutoff: dt.datetime) -> list[tuple[int | None, int]]:
    """[(run id or None, amount)] of the escrow credited before ``cutoff`` and still there."""
    return [
        (run_id, amount)
        for run_id, created, amount in escrow_open_parts(account=account)
        if created < cutoff
    ]


def escrow_return_expired(*, now: dt.datetime | None = None) -> list[LedgerTransaction]:
    """Return escrow unclaimed for ``FAIROSS_ESCROW_RETURN_DAYS`` to the reserve of the table
    owners that named the identity (money rule 6), split by what each table sent it.

    Skips claimed identities (swept instead), held ones (money rule 7), projects' own escrow
    (an unverified or unclaimed project's money waits for its verification, then flows on by
    its table in the next run: money rule 8, never returned) and credits whose source tables
    cannot be found. The share of a source that is an unverified project now stays where it
    is (the identity may still claim it) until that project is verified: a reserve is money a
    project's stewards may grant, and unproven stewards must not get it. Idempotent: the key
    names the account and its last posting.
    """
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.FAIROSS_ESCROW_RETURN_DAYS)
    claimed = set(ClaimedIdentity.objects.values_list("identity", flat=True))
    unverified = {
        project_key(slug)
        for slug in Project.objects.filter(verified_at__isnull=True).values_list("slug", flat=True)
    }
    cache: dict[Any, Any] = {}
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
                if run_id is None:
                    continue
                sources = escrow_part_sources(
                    run_id=run_id,
                    identity=account.owner,
                    currency=account.currency,
                    amount=amount,
                    cache=cache,
                )
                for owner, share in (sources or {}).items():
                    if owner not in unverified:
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


# --- the public notice on a table owner's page ------------------------------------------------


def escrow_notices_for_owner(*, owner_key: str) -> dict[str, list[dict[str, object]]]:
    """What the public notice on ``owner_key``'s page says, in two lists:

    ``"own"``: the owner's own escrow per currency (a project not verified yet, or verified
    and waiting for the next run): ``{"currency", "amount", "verified"}``;
    ``"identities"``: money waiting for identities that ``owner_key``'s active table names,
    counting only the part that came from *this* owner's table (another table naming the same
    identity has its own notice): ``{"identity", "currency", "amount", "since",
    "returns_on", "soon"}``, where ``returns_on`` is when that part returns to this owner's
    reserve unless claimed. Parts of runs too large to attribute on a page view
    (more than ``EXPLAIN_MAX_TABLES`` tables, identity named by several) are left out.
    """
    own: list[dict[str, object]] = []
    if owner_key.startswith("project:"):
        project = Project.objects.filter(slug=recipient_split(owner_key)[1]).first()
        for account in Account.objects.filter(
            owner=owner_key, purpose=Account.Purpose.ESCROW
        ).order_by("currency"):
            balance = sum(a for _, _, a in escrow_open_parts(account=account))
            if balance > 0:
                own.append(
                    {
                        "currency": account.currency,
                        "amount": balance,
                        "verified": bool(project and project.is_verified),
                    }
                )
    named = table_named_identities(owner_key=owner_key)
    claimed = set(
        ClaimedIdentity.objects.filter(identity__in=named).values_list("identity", flat=True)
    )
    days = settings.FAIROSS_ESCROW_RETURN_DAYS
    cache: dict[Any, Any] = {}
    identities: list[dict[str, object]] = []
    for account in Account.objects.filter(
        purpose=Account.Purpose.ESCROW, owner__in=[i for i in named if i not in claimed]
    ).order_by("owner", "currency"):
        mine = 0
        first: dt.datetime | None = None
        for run_id, created, amount in escrow_open_parts(account=account):
            if run_id is None:
                continue
            sources = escrow_part_sources(
                run_id=run_id,
                identity=account.owner,
                currency=account.currency,
                amount=amount,
                cache=cache,
                recompute_limit=EXPLAIN_MAX_TABLES,
            )
            share = (sources or {}).get(owner_key, 0)
            if share > 0:
                mine += share
                first = first or created
        if mine <= 0:
            continue
        returns_on = first + dt.timedelta(days=days) if first else None
        soon_from = timezone.now() + dt.timedelta(days=settings.FAIROSS_ESCROW_NOTICE_DAYS)
        identities.append(
            {
                "identity": account.owner,
                "currency": account.currency,
                "amount": mine,
                "since": first,
                "returns_on": returns_on,
                "soon": bool(returns_on and returns_on <= soon_from),
            }
        )
    return {"own": own, "identities": identities}
