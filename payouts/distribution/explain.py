"""Distribution runs explained: a past run recomputed from its snapshot (audits), a preview of
how money would flow today, and the routes ("hops") that brought a recipient its money."""

from __future__ import annotations

import logging

from django.utils import timezone

from faiross.kernel.recipients import user_key
from payouts.distribution.paths import explain_paths
from payouts.distribution.report import run_table_count
from payouts.distribution.runs import _snapshot_at, run_compute
from payouts.models import DistributionRun, RunAllocation

log = logging.getLogger(__name__)


def run_recompute(*, run: DistributionRun) -> dict[tuple[str, str, str], int]:
    """Compute a finished run again from its snapshot (for audits); must equal its postings."""
    return dict(run_compute(run.snapshot).allocations)  # type: ignore[arg-type]


def distribution_preview(
    *, owner_key: str, amount: int, currency: str
) -> dict[tuple[str, str], int]:
    """How ``amount`` entering at ``owner_key`` would flow today: {(owner, purpose): cents}."""
    snapshot = _snapshot_at(cutoff=timezone.now(), inflows=[[0, owner_key, currency, amount]])
    computed = run_compute(snapshot)
    return {(o, p): v for (o, p, _), v in computed.allocations.items()}


def run_explain(*, run: DistributionRun, recipient: str, top_k: int = 3) -> list[dict[str, object]]:
    """The main routes ("hops") that brought a run's money to ``recipient``, with amounts.

    Rebuilds the run's graph from its snapshot, so it answers for any past run exactly.
    """
    snapshot = run.snapshot or {}
    computed = run_compute(snapshot)
    graph = computed.graph
    terminal_ids = list(graph.terminal_ids or ())
    node_ids = list(graph.node_ids or ())
    claims = snapshot.get("claims", {})
    targets = [recipient] + [i for i, user in claims.items() if user_key(user) == recipient]
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
        .defer("run__snapshot", "run__report")  # megabytes per run at 100,000 projects
        .order_by("-run_id", "currency")[:limit]
    )
    for allocation in allocations:
        routes: list[dict[str, object]] = []
        if run_table_count(run_id=allocation.run_id) <= EXPLAIN_MAX_TABLES:
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
