"""Distribution runs: staged, restartable, exact (money rules 3, 4 and 5).

A run goes ``pending → snapshot → computed → done``; each stage is one database transaction
that also records the new status, so a crash at any point leaves the run at the last finished
stage and :func:`distribution_run_execute` continues from there. The snapshot stores which
table versions (active at the cutoff), default tables, identity claims and inflows the run
uses, so the computation can be repeated bit-identically later (:func:`run_recompute`).
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from projects.models import Project, TableVersion
from projects.services.tables import default_table_entries

from .engine import ClosedCycleError, Distribution, FlowGraph, Inflow, compute_distribution
from .graph_loader import copy_text, load_flow_graph
from .ledger import ledger_post_run
from .models import Account, ClaimedIdentity, DistributionRun, RunAllocation
from .models import Inflow as InflowRecord

log = logging.getLogger(__name__)

TOP_N = 50


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
    from .tasks import distribution_run_task

    run = distribution_run_create(started_by=started_by, cutoff=cutoff)
    transaction.on_commit(lambda: distribution_run_task.delay(run.pk))
    return run


# --- stage 1: snapshot ------------------------------------------------------------------


def _versions_at_qs(cutoff: dt.datetime):  # type: ignore[no-untyped-def]
    return TableVersion.objects.filter(activated_at__lte=cutoff).filter(
        Q(superseded_at__isnull=True) | Q(superseded_at__gt=cutoff)
    )


def _snapshot(run: DistributionRun) -> dict[str, Any]:
    inflows = [
        [pk, f"company:{slug}", currency, amount]
        for pk, slug, currency, amount in InflowRecord.objects.filter(
            run__isnull=True, received_at__lte=run.cutoff
        )
        .order_by("pk")
        .values_list("pk", "company__slug", "currency", "amount")
    ]
    return _snapshot_at(cutoff=run.cutoff, inflows=inflows)


def _snapshot_at(*, cutoff: dt.datetime, inflows: list[list[object]]) -> dict[str, Any]:
    """Which tables move the money: versions active at ``cutoff``, default tables of every
    project reached without one, claims and unclaimed projects, and the inflows."""
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
            "LEFT JOIN owned o ON o.owner_key = 'project:' || p.slug WHERE o.owner_key IS NULL",
            [cutoff, cutoff],
        )
        named = {f"project:{row[0]}" for row in cursor.fetchall()}
    owners = {str(row[1]) for row in inflows}
    # Every project named anywhere becomes a node; one without a version uses its default
    # table (which may name further projects).
    defaults: dict[str, dict[str, int]] = {}
    seen: set[str] = set(versions)
    pending = (named | {o for o in owners if o.startswith("project:")}) - seen
    while pending:
        key = pending.pop()
        seen.add(key)
        project = Project.objects.filter(slug=key.split(":", 1)[1]).first()
        default = dict(default_table_entries(project=project, at=cutoff)) if project else {}
        defaults[key] = default
        pending |= {r for r in default if r.startswith("project:") and r not in seen}
    unclaimed_all = {
        f"project:{slug}"
        for slug in Project.objects.filter(status=Project.Status.UNCLAIMED).values_list(
            "slug", flat=True
        )
    }
    unclaimed = sorted(unclaimed_all & (seen | named))
    claims = dict(
        ClaimedIdentity.objects.filter(claimed_at__lte=cutoff).values_list(
            "identity", "user__username"
        )
    )
    return {
        "versions": versions,
        "defaults": defaults,
        "unclaimed": unclaimed,
        "claims": claims,
        "inflows": inflows,
    }


@transaction.atomic
def _stage_snapshot(run_id: int) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status != DistributionRun.Status.PENDING:
        return
    snapshot = _snapshot(run)
    InflowRecord.objects.filter(pk__in=[i[0] for i in snapshot["inflows"]]).update(run=run)
    run.snapshot = snapshot
    run.status = DistributionRun.Status.SNAPSHOT
    run.progress = (
        f"snapshot: {len(snapshot['inflows'])} inflows, {len(snapshot['versions'])} tables"
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
    """Where a terminal's money is kept (money rule 6: unknown identities wait in escrow)."""
    kind = terminal.split(":", 1)[0]
    if terminal in nodes:  # a node's own reserve
        if terminal in unclaimed:
            return terminal, Account.Purpose.ESCROW
        return terminal, Account.Purpose.RESERVE
    if kind == "user":
        return terminal, Account.Purpose.AVAILABLE
    if terminal in claims:
        return f"user:{claims[terminal]}", Account.Purpose.AVAILABLE
    return terminal, Account.Purpose.ESCROW


def run_compute(snapshot: Mapping[str, Any]) -> Computed:
    """Pure with respect to the snapshot: the same snapshot gives the same result."""
    inflow_rows = snapshot["inflows"]
    graph = load_flow_graph(
        versions=snapshot["versions"],
        defaults=snapshot["defaults"],
        extra_owners=[row[1] for row in inflow_rows],
    )
    index = {node: i for i, node in enumerate(graph.node_ids or ())}
    inflows = [
        Inflow(node=index[owner], currency=cur, cents=amount)
        for _, owner, cur, amount in inflow_rows
    ]
    distribution = compute_distribution(graph=graph, inflows=inflows)
    nodes = set(graph.node_ids or ())
    unclaimed = set(snapshot["unclaimed"])
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


def _report(computed: Computed) -> dict[str, object]:
    graph, dist = computed.graph, computed.distribution
    ids = graph.node_ids or ()
    report: dict[str, object] = {}
    for currency, result in dist.currencies.items():
        mine = [(v, o, p) for (o, p, c), v in computed.allocations.items() if c == currency]
        top_recipients = heapq.nlargest(TOP_N, mine)
        # Node indices follow sorted ids, so a stable sort breaks ties by id.
        order = np.argsort(-result.pass_through, kind="stable")[:TOP_N].tolist()
        nodes = [
            {
                "node": ids[i],
                "inflow": int(result.inflow[i]),
                "pass_through": int(result.pass_through[i]),
                "kept": int(result.kept[i]),
            }
            for i in order[:TOP_N]
            if result.pass_through[i] > 0
        ]
        report[currency] = {
            "total": result.total_cents,
            "recipients": len(mine),
            "error_bound_cents": result.error_bound_cents,
            "top_recipients": [
                {"recipient": o, "purpose": p, "amount": v} for v, o, p in top_recipients
            ],
            "nodes": nodes,
            "flows": _top_flows(graph, result.pass_through, ids),
        }
    return report


def _top_flows(graph: FlowGraph, pass_through, ids) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """The largest edges (node → node or node → terminal) by money, for the Sankey diagram."""
    import numpy as np

    flows: list[tuple[float, str, str]] = []
    x = pass_through.astype(np.float64)
    terms = graph.terminal_ids or ()
    for i in np.argsort(-x, kind="stable")[: 4 * TOP_N]:
        if x[i] <= 0:
            break
        s, e = graph.node_indptr[i], graph.node_indptr[i + 1]
        for t, m in zip(
            graph.node_targets[s:e].tolist(), graph.node_millibips[s:e].tolist(), strict=True
        ):
            flows.append((x[i] * m / 1e7, ids[i], ids[t]))
        s, e = graph.terminal_indptr[i], graph.terminal_indptr[i + 1]
        for t, m in zip(
            graph.terminal_targets[s:e].tolist(),
            graph.terminal_millibips[s:e].tolist(),
            strict=True,
        ):
            flows.append((x[i] * m / 1e7, ids[i], terms[t]))
        reserve = graph.reserve_millibips[i]
        if reserve > 0:
            flows.append((x[i] * int(reserve) / 1e7, ids[i], f"{ids[i]} (reserve)"))
    flows.sort(key=lambda f: (-f[0], f[1], f[2]))
    return [{"source": s, "target": t, "amount": round(v)} for v, s, t in flows[:TOP_N] if v >= 0.5]


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
    run.report = _report(computed)
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
    return DistributionRun.objects.get(pk=run_id)


@transaction.atomic
def _fail(run_id: int, exc: Exception) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status == DistributionRun.Status.DONE:
        return
    InflowRecord.objects.filter(run=run).update(run=None)
    RunAllocation.objects.filter(run=run).delete()
    prefix = "closed cycle" if isinstance(exc, ClosedCycleError) else type(exc).__name__
    run.status = DistributionRun.Status.FAILED
    run.is_open = None
    run.error = f"{prefix}: {exc}"
    run.finished_at = timezone.now()
    run.progress = "failed"
    run.save(update_fields=["status", "is_open", "error", "finished_at", "progress"])


def run_recompute(*, run: DistributionRun) -> dict[tuple[str, str, str], int]:
    """Compute a finished run again from its snapshot (for audits); must equal its postings."""
    return run_compute(run.snapshot).allocations  # type: ignore[arg-type]


def distribution_preview(
    *, owner_key: str, amount: int, currency: str
) -> dict[tuple[str, str], int]:
    """How ``amount`` entering at ``owner_key`` would flow today: {(owner, purpose): cents}."""
    snapshot = _snapshot_at(cutoff=timezone.now(), inflows=[[0, owner_key, currency, amount]])
    computed = run_compute(snapshot)
    return {(o, p): v for (o, p, _), v in computed.allocations.items()}


__all__ = [
    "RunInProgress",
    "distribution_preview",
    "distribution_run_create",
    "distribution_run_execute",
    "distribution_run_start",
    "run_compute",
    "run_recompute",
]


def run_explain(*, run: DistributionRun, recipient: str, top_k: int = 3) -> list[dict[str, object]]:
    """The main routes ("hops") that brought a run's money to ``recipient``, with amounts.

    Rebuilds the run's graph from its snapshot, so it answers for any past run exactly.
    """
    from .engine import explain_paths

    snapshot = run.snapshot or {}
    computed = run_compute(snapshot)
    graph = computed.graph
    terminal_ids = list(graph.terminal_ids or ())
    node_ids = list(graph.node_ids or ())
    claims = snapshot.get("claims", {})
    targets = [recipient] + [i for i, user in claims.items() if f"user:{user}" == recipient]
    routes: list[dict[str, object]] = []
    for _, owner, currency, cents in snapshot.get("inflows", []):
        source = node_ids.index(owner)
        for target in targets:
            if target not in terminal_ids:
                continue
            for path in explain_paths(
                graph=graph, source=source, terminal=terminal_ids.index(target), top_k=top_k
            ):
                hops = [node_ids[i] for i in path.nodes]
                routes.append(
                    {
                        "hops": [*hops, target] if hops[-1] != target else hops,
                        "currency": currency,
                        # The exact share of the inflow on this route, to the nearest cent.
                        "amount": round(path.cents(int(cents))),
                    }
                )
    routes.sort(key=lambda r: -float(r["amount"]))  # type: ignore[arg-type]
    return routes[: top_k * 3]


EXPLAIN_MAX_TABLES = 5_000
"""Routes are explained for runs up to this many tables; a larger run would be recomputed in
full for each page view, so its lines show the amount without routes."""


def received_lines(*, recipient: str, limit: int = 10) -> list[dict[str, object]]:
    """'Received from run N' lines of a person or a project, with the routes ("hops") that
    brought the money when the run is small enough to explain on a page view."""
    lines: list[dict[str, object]] = []
    allocations = (
        RunAllocation.objects.filter(recipient=recipient, run__status=DistributionRun.Status.DONE)
        .select_related("run")
        .order_by("-run_id", "currency")[:limit]
    )
    for allocation in allocations:
        routes: list[dict[str, object]] = []
        snapshot = allocation.run.snapshot or {}
        if len(snapshot.get("versions", {})) <= EXPLAIN_MAX_TABLES:
            try:
                routes = [
                    r
                    for r in run_explain(run=allocation.run, recipient=recipient)
                    if r["currency"] == allocation.currency
                ]
            except Exception:  # an explanation is a courtesy; the amount stands without it
                log.exception("could not explain run %s for %s", allocation.run_id, recipient)
        lines.append({"allocation": allocation, "routes": routes})
    return lines
