"""Distribution runs: staged, restartable, exact (money rules 3, 4 and 5).

A run goes ``pending → snapshot → computed → done``; each stage is one database transaction
that also records the new status, so a crash at any point leaves the run at the last finished
stage and :func:`distribution_run_execute` continues from there. The snapshot stores which
table versions (active at the cutoff), default tables, identity claims, unverified projects
and inflows the run uses, so the computation can be repeated bit-identically later
(:func:`payouts.distribution.explain.run_recompute`). The report is written by
:mod:`payouts.distribution.report`.

Money rule 8 (only a verified project's table moves money): a project not verified at the
cutoff is a node whose table routes nothing; all that reaches it is kept in its escrow
(``project:<slug>`` / ``escrow``). The snapshot stage of a later run *releases* the escrow of
every project verified by that run's cutoff: one balanced ``claim`` transaction per account
(escrow → platform pool, key ``run:<id>:release:<account id>``, in the snapshot's database
transaction), recorded in the snapshot as an inflow row ``["escrow:<txn id>", owner, currency,
amount]`` that enters the graph at the project, so it flows on by the project's table. Held
money is in ``held`` accounts and never moves; a project with an active hold or freeze keeps
its escrow until the hold ends. A failed run reverses its releases (pool → escrow).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from faiross.kernel.recipients import company_key, project_key, recipient_split, user_key
from payouts import queue
from payouts.distribution.graph import FlowGraph, Inflow
from payouts.distribution.loader import copy_text, load_flow_graph
from payouts.distribution.report import run_report
from payouts.distribution.solve import Distribution, compute_distribution
from payouts.holds import held_recipients
from payouts.ledger import PLATFORM, Leg, ledger_post, ledger_post_run, ledger_reverse
from payouts.models import (
    Account,
    ClaimedIdentity,
    DistributionRun,
    LedgerTransaction,
    Posting,
    RunAllocation,
)
from payouts.models import Inflow as InflowRecord
from payouts.notifications import run_credited_notify
from payouts.totals import project_received_add
from payouts.webhook_events import run_done_emit
from projects.cycles import ClosedCycleError
from projects.models import Project, TableVersion
from projects.services.tables import default_table_entries

log = logging.getLogger(__name__)

RELEASED_PREFIX = "escrow:"
"""Inflow rows of a snapshot whose id starts with this are released escrow, not Inflows."""


class RunInProgress(Exception):
    """Another run is unfinished; runs never overlap."""

    def __init__(self, run: DistributionRun) -> None:
        super().__init__(f"run {run.pk} is still {run.status}")
        self.run = run


# --- start -----------------------------------------------------------------------------


def distribution_run_create(
    *, started_by: User | None = None, cutoff: dt.datetime | None = None
) -> DistributionRun:
    """Create a pending run, or raise :class:`RunInProgress` naming the unfinished one.

    The partial unique index on ``is_open`` makes this safe against concurrent starts.
    """
    try:
        with transaction.atomic():
            return DistributionRun.objects.create(
                cutoff=cutoff or timezone.now(), started_by=started_by, progress="waiting"
            )
    except IntegrityError:
        open_run = DistributionRun.objects.filter(is_open=True).first()
        if open_run is None:  # it finished in the meantime
            return distribution_run_create(started_by=started_by, cutoff=cutoff)
        raise RunInProgress(open_run) from None


def distribution_run_start(
    *, started_by: User | None = None, cutoff: dt.datetime | None = None
) -> DistributionRun:
    """Create a run and hand it to the task queue after commit (in-process when embedded)."""
    run = distribution_run_create(started_by=started_by, cutoff=cutoff)
    transaction.on_commit(lambda: queue.distribution_run_enqueue.fn(run.pk))
    return run


# --- stage 1: snapshot ------------------------------------------------------------------


def _versions_at_qs(cutoff: dt.datetime):  # type: ignore[no-untyped-def]
    return TableVersion.objects.filter(activated_at__lte=cutoff).filter(
        Q(superseded_at__isnull=True) | Q(superseded_at__gt=cutoff)
    )


def _snapshot(run: DistributionRun, released: list[list[object]]) -> dict[str, Any]:
    inflows: list[list[object]] = [
        [pk, company_key(slug), currency, amount]
        for pk, slug, currency, amount in InflowRecord.objects.filter(
            run__isnull=True, received_at__lte=run.cutoff
        )
        .order_by("pk")
        .values_list("pk", "company__slug", "currency", "amount")
    ]
    return _snapshot_at(cutoff=run.cutoff, inflows=inflows + released)


def _snapshot_at(*, cutoff: dt.datetime, inflows: list[list[object]]) -> dict[str, Any]:
    """Which tables move the money: versions active at ``cutoff``, default tables of every
    project reached without one, claims, unclaimed and unverified projects, and the inflows.

    ``unverified`` lists the projects (among those the run can reach) not verified at the
    cutoff: :func:`run_compute` lets their tables route nothing (money rule 8)."""
    versions_qs = _versions_at_qs(cutoff)
    versions = dict(versions_qs.values_list("table__owner_key", "pk"))
    # Projects named by these tables that have no table of their own at the cutoff: they
    # use their default table. Hash joins only, so memory stays flat with a million tables.
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH v AS (SELECT id, table_id FROM projects_tableversion WHERE activated_at <= %s "
            "AND (superseded_at IS NULL OR superseded_at > %s)), "
            "named AS (SELECT DISTINCT e.project_id FROM projects_tableentry e "
            "JOIN v ON v.id = e.version_id WHERE e.project_id IS NOT NULL), "
            "owned AS (SELECT st.owner_key FROM projects_sharetable st "
            "JOIN v ON v.table_id = st.id) "
            "SELECT p.slug FROM named JOIN projects_project p ON p.id = named.project_id "
            "LEFT JOIN owned o ON o.owner_key = %s || p.slug WHERE o.owner_key IS NULL",
            [cutoff, cutoff, project_key("")],  # the key's prefix, "project:"
        )
        named = {project_key(row[0]) for row in cursor.fetchall()}
    owners = {str(row[1]) for row in inflows}
    # Every project named anywhere becomes a node; one without a version uses its default
    # table (which may name further projects).
    defaults: dict[str, dict[str, int]] = {}
    seen: set[str] = set(versions)
    pending = (named | {o for o in owners if o.startswith("project:")}) - seen
    while pending:
        key = pending.pop()
        seen.add(key)
        project = Project.objects.filter(slug=recipient_split(key)[1]).first()
        default = dict(default_table_entries(project=project, at=cutoff)) if project else {}
        defaults[key] = default
        pending |= {r for r in default if r.startswith("project:") and r not in seen}
    unclaimed_all = {
        project_key(slug)
        for slug in Project.objects.filter(status=Project.Status.UNCLAIMED).values_list(
            "slug", flat=True
        )
    }
    unclaimed = sorted(unclaimed_all & (seen | named))
    # Few projects are unverified, so they are listed and intersected (not the reverse).
    unverified_all = {
        project_key(slug)
        for slug in Project.objects.filter(
            Q(verified_at__isnull=True) | Q(verified_at__gt=cutoff)
        ).values_list("slug", flat=True)
    }
    unverified = sorted(unverified_all & (seen | named))
    claims = dict(
        ClaimedIdentity.objects.filter(claimed_at__lte=cutoff).values_list(
            "identity", "user__username"
        )
    )
    return {
        "versions": versions,
        "defaults": defaults,
        "unclaimed": unclaimed,
        "unverified": unverified,
        "claims": claims,
        "inflows": inflows,
    }


def _escrow_release(run: DistributionRun) -> list[list[object]]:
    """Move the escrow of projects verified by the run's cutoff into the run (money rule 8).

    Precondition: called inside the snapshot stage's transaction, with the run row locked.
    Invariants: one balanced transaction per escrow account (escrow → platform pool), keyed
    by run and account, so a repeat writes nothing new; escrow accounts are locked in
    (owner, currency) order; projects with an active hold or freeze are skipped (their money
    waits until the ombudsman is done; what a hold took is in ``held`` and never moves here).
    Returns the snapshot inflow rows ``["escrow:<txn id>", owner, currency, amount]``.
    """
    candidates = list(
        Posting.objects.filter(
            account__purpose=Account.Purpose.ESCROW,
            account__owner__startswith=project_key(""),
        )
        .values("account_id", "account__owner")
        .annotate(total=Sum("amount"))
        .filter(total__gt=0)
    )
    slugs = {recipient_split(row["account__owner"])[1] for row in candidates}
    verified = {
        project_key(slug)
        for slug in Project.objects.filter(slug__in=slugs, verified_at__lte=run.cutoff).values_list(
            "slug", flat=True
        )
    }
    ids = sorted(
        (row["account__owner"], row["account_id"])
        for row in candidates
        if row["account__owner"] in verified
    )
    if not ids:
        return []
    held = held_recipients()
    rows: list[list[object]] = []
    accounts = Account.objects.select_for_update().filter(pk__in=[pk for _, pk in ids])
    for account in sorted(accounts, key=lambda a: (a.owner, a.currency)):
        if account.owner in held:
            continue
        balance = int(Posting.objects.filter(account=account).aggregate(t=Sum("amount"))["t"] or 0)
        if balance <= 0:
            continue
        txn, _ = ledger_post(
            idempotency_key=f"run:{run.pk}:release:{account.pk}",
            kind=LedgerTransaction.Kind.CLAIM,
            reference=f"run:{run.pk}",
            legs=[
                Leg(account.owner, Account.Purpose.ESCROW, account.currency, -balance),
                Leg(PLATFORM, Account.Purpose.POOL, account.currency, balance),
            ],
            memo=f"{account.owner} is verified: its escrow flows on by its table in run {run.pk}",
        )
        rows.append([f"{RELEASED_PREFIX}{txn.pk}", account.owner, account.currency, balance])
    return rows


def snapshot_inflow_ids(snapshot: Mapping[str, Any]) -> list[int]:
    """The ids of the Inflow records a snapshot took (released escrow rows excluded)."""
    return [row[0] for row in snapshot.get("inflows", []) if isinstance(row[0], int)]


def snapshot_released(snapshot: Mapping[str, Any]) -> list[tuple[int, str, str, int]]:
    """[(ledger transaction id, project key, currency, amount)] of the escrow a run released."""
    return [
        (int(str(row[0]).removeprefix(RELEASED_PREFIX)), row[1], row[2], int(row[3]))
        for row in snapshot.get("inflows", [])
        if isinstance(row[0], str) and row[0].startswith(RELEASED_PREFIX)
    ]


@transaction.atomic
def _stage_snapshot(run_id: int) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status != DistributionRun.Status.PENDING:
        return
    released = _escrow_release(run)
    snapshot = _snapshot(run, released)
    InflowRecord.objects.filter(pk__in=snapshot_inflow_ids(snapshot)).update(run=run)
    run.snapshot = snapshot
    run.status = DistributionRun.Status.SNAPSHOT
    run.progress = (
        f"snapshot: {len(snapshot['inflows']) - len(released)} inflows, "
        f"{len(released)} released escrow, {len(snapshot['versions'])} tables"
    )
    run.save(update_fields=["snapshot", "status", "progress"])


# --- stage 2: compute --------------------------------------------------------------------


@dataclass(frozen=True)
class Computed:
    graph: FlowGraph
    distribution: Distribution
    allocations: dict[tuple[str, str, str], int]


def _account_for_terminal(
    terminal: str, *, nodes: set[str], unclaimed: set[str], claims: Mapping[str, str]
) -> tuple[str, str]:
    """Where a terminal's money is kept (money rule 6: unknown identities wait in escrow;
    rule 8: an unverified project's money waits in its escrow; ``unclaimed`` holds both)."""
    kind = terminal.split(":", 1)[0]
    if terminal in nodes:  # a node's own reserve
        if terminal in unclaimed:
            return terminal, Account.Purpose.ESCROW
        return terminal, Account.Purpose.RESERVE
    if kind == "user":
        return terminal, Account.Purpose.AVAILABLE
    if terminal in claims:
        return user_key(claims[terminal]), Account.Purpose.AVAILABLE
    return terminal, Account.Purpose.ESCROW


def run_compute(snapshot: Mapping[str, Any]) -> Computed:
    """Pure with respect to the snapshot: the same snapshot gives the same result.

    Unverified projects (``snapshot["unverified"]``, absent in snapshots taken before rule 8)
    stay nodes with an empty table: everything reaching them is their reserve terminal,
    kept in their escrow.
    """
    inflow_rows = snapshot["inflows"]
    unverified = set(snapshot.get("unverified", ()))
    graph = load_flow_graph(
        versions={o: v for o, v in snapshot["versions"].items() if o not in unverified},
        defaults={
            o: ({} if o in unverified else entries) for o, entries in snapshot["defaults"].items()
        },
        extra_owners=[row[1] for row in inflow_rows] + sorted(unverified),
    )
    index = {node: i for i, node in enumerate(graph.node_ids or ())}
    inflows = [
        Inflow(node=index[owner], currency=cur, cents=amount)
        for _, owner, cur, amount in inflow_rows
    ]
    distribution = compute_distribution(graph=graph, inflows=inflows)
    nodes = set(graph.node_ids or ())
    unclaimed = set(snapshot["unclaimed"]) | unverified
    claims = snapshot["claims"]
    terminal_ids = graph.terminal_ids or ()
    accounts: dict[int, tuple[str, str]] = {}  # terminal index -> (owner, purpose)
    allocations: dict[tuple[str, str, str], int] = defaultdict(int)
    for currency, result in distribution.currencies.items():
        paid = np.flatnonzero(result.amounts)
        got = 0
        for t, cents in zip(paid.tolist(), result.amounts[paid].tolist(), strict=True):
            account = accounts.get(t)
            if account is None:
                account = accounts[t] = _account_for_terminal(
                    terminal_ids[t], nodes=nodes, unclaimed=unclaimed, claims=claims
                )
            allocations[(account[0], account[1], currency)] += cents
            got += cents
        if got != result.total_cents:  # money rule 3, checked, not assumed
            raise ArithmeticError(f"{currency}: allocations {got} != inflows {result.total_cents}")
    return Computed(graph, distribution, dict(allocations))


def _write_allocations(
    run: DistributionRun, allocations: Mapping[tuple[str, str, str], int]
) -> None:
    # Order does not matter to the database; sorting two million keys would cost seconds.
    rows = [(o, p, c, v) for (o, p, c), v in allocations.items() if v]
    if connection.vendor == "postgresql":
        sql = "COPY payouts_runallocation (run_id, recipient, purpose, currency, amount) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            # Text lines written in large blocks (a write per row costs a round of I/O each).
            for start in range(0, len(rows), 200_000):
                block = rows[start : start + 200_000]
                copy.write(
                    "".join(f"{run.pk}\t{copy_text(o)}\t{p}\t{c}\t{v}\n" for o, p, c, v in block)
                )
        return
    RunAllocation.objects.bulk_create(
        [
            RunAllocation(run=run, recipient=o, purpose=p, currency=c, amount=v)
            for o, p, c, v in rows
        ],
        batch_size=5000,
    )


@transaction.atomic
def _stage_compute(run_id: int) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status != DistributionRun.Status.SNAPSHOT:
        return
    computed = run_compute(run.snapshot)  # type: ignore[arg-type]
    _write_allocations(run, computed.allocations)
    run.totals = {c: r.total_cents for c, r in computed.distribution.currencies.items()}
    run.report = run_report(
        graph=computed.graph,
        distribution=computed.distribution,
        allocations=computed.allocations,
    )
    run.status = DistributionRun.Status.COMPUTED
    run.progress = f"computed: {len(computed.allocations)} allocations"
    run.save(update_fields=["totals", "report", "status", "progress"])


# --- stage 3: post -----------------------------------------------------------------------


@transaction.atomic
def _stage_post(run_id: int) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status != DistributionRun.Status.COMPUTED:
        return
    for currency in sorted(run.totals or {}):
        ledger_post_run(
            run_id=run.pk,
            currency=currency,
            idempotency_key=f"run:{run.pk}:{currency}",
            reference=f"run:{run.pk}",
            memo=f"distribution run {run.pk}",
        )
    run.status = DistributionRun.Status.DONE
    run.is_open = None
    run.finished_at = timezone.now()
    run.progress = "done"
    run.save(update_fields=["status", "is_open", "finished_at", "progress"])
    run_done_emit(run=run)  # webhooks, sent once this transaction commits
    run_credited_notify(run=run)  # each person's own amount, emailed after commit


def distribution_run_execute(*, run_id: int) -> DistributionRun:
    """Run (or continue) a run to the end. Safe to call twice, concurrently, or after a crash:
    each stage locks the run row and skips itself when already done (money rule 4).
    A closed cycle or any other failure marks the run failed, loudly, and releases its inflows.
    """
    stages = (_stage_snapshot, _stage_compute, _stage_post)
    try:
        for stage in stages:
            stage(run_id)
    except Exception as exc:
        log.exception("distribution run %s failed", run_id)
        _fail(run_id, exc)
        raise
    from payouts.distribution.publish import run_publication_ensure  # it imports this module

    run_publication_ensure(run_id=run_id)  # hashes, Merkle roots, flows; never undoes the run
    project_received_add(run_id=run_id)  # explore's per-project totals, counted once
    return DistributionRun.objects.get(pk=run_id)


@transaction.atomic
def _fail(run_id: int, exc: Exception) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status == DistributionRun.Status.DONE:
        return
    InflowRecord.objects.filter(run=run).update(run=None)
    # Released escrow goes back to the project's escrow; the next run takes it again.
    for txn_id, *_ in snapshot_released(run.snapshot or {}):
        ledger_reverse(
            original=LedgerTransaction.objects.get(pk=txn_id), reason=f"run {run.pk} failed"
        )
    RunAllocation.objects.filter(run=run).delete()
    prefix = "closed cycle" if isinstance(exc, ClosedCycleError) else type(exc).__name__
    run.status = DistributionRun.Status.FAILED
    run.is_open = None
    run.error = f"{prefix}: {exc}"
    run.finished_at = timezone.now()
    run.progress = "failed"
    run.save(update_fields=["status", "is_open", "error", "finished_at", "progress"])


__all__ = [
    "RunInProgress",
    "distribution_run_create",
    "distribution_run_execute",
    "distribution_run_start",
    "run_compute",
    "snapshot_inflow_ids",
    "snapshot_released",
]
