"""The trace of a credit: hop by hop, where a recipient's money in a run came from (agreement
→ inflow → company table → project → … → recipient), or where a company's money went.

What is stored, and when
------------------------
The engine knows each node's exact pass-through, so the exact flow on an entry is the node's
pass-through times the entry's share. Two kinds of hops are stored per run:

* node → node, node → ``people`` and node → what stays (reserve, escrow): the run's public
  :class:`~payouts.models.RunFlow` rows, written when the run is published. Integers, and at
  every node money in equals money out exactly.
* node → one person: :class:`~payouts.models.TraceEdge`, written by :func:`trace_record` in the
  compute stage of the run, from the engine's result (one vectorised pass and a COPY). Each
  entry's exact flow, rounded by largest remainder within each person's terminal, so that a
  person's edges add up exactly to what the engine allocated them.

Nothing is solved again when a trace is shown.

What a trace shows
------------------
Money at a node is mixed: the node splits everything that reaches it by one table. So the
part of a person's credit that came through node ``v`` came into ``v`` in the same proportions
as all of ``v``'s money: from each source ``u`` in the ratio of the hop ``u → v`` to ``v``'s
money in. That is exact for the linear model the engine solves (walks through cycles
included: a cycle simply appears as a node met again further up, with a smaller amount). A
trace applies this hop by hop, upwards for a credit, downwards for a company's money, and
rounds every split with :func:`faiross.kernel.allocation.allocate`, so each hop's amount is
exactly the sum of the hops it splits into: a tree whose figures add up, from the
recipient's real allocation (or the company's inflows) to the end.

A tree is cut to :data:`MAX_DEPTH` levels, :data:`MAX_CHILDREN` branches per hop (the others in
one "more" hop) and :data:`MAX_HOPS` hops; a hop not split further says so. Reading a trace
costs one query per level, whatever the size of the run.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Count
from numpy.typing import NDArray

from faiross.kernel.allocation import allocate
from faiross.kernel.recipients import PERSON_KINDS, is_person_key
from faiross.kernel.registry import Registry
from payouts.distribution.graph import FlowGraph
from payouts.distribution.loader import copy_text
from payouts.distribution.publish import ENTRY_SOURCE, PEOPLE, is_node_label
from payouts.distribution.solve import CurrencyResult, Distribution
from payouts.models import DistributionRun, RunAllocation, RunFlow, TraceEdge
from payouts.models import Inflow as InflowRecord

if TYPE_CHECKING:
    from payouts.distribution.runs import Computed

log = logging.getLogger(__name__)

MAX_DEPTH = 8
"""Levels of hops below the root of a trace (each level is one query)."""
MAX_CHILDREN = 6
"""Branches shown per hop; the smaller ones are summed into one "more" hop."""
MAX_HOPS = 150
"""Hops per currency in one trace; beyond, hops are shown without being split further."""
COPY_BLOCK = 200_000


# --- recording, in the compute stage of a run ----------------------------------------------


def _group_round(
    *,
    groups: NDArray[np.int64],
    weights: NDArray[np.float64],
    exact_weights: Callable[[NDArray[np.int64]], list[int]],
    totals: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Round ``totals[g]`` over the elements of each group ``g`` in proportion to ``weights``
    (largest remainder, ties to the lower element index): the parts of a group add up
    exactly to its total.

    ``weights`` are float64 (fast); groups whose float shares cannot be rounded safely (all
    weights zero, or float noise around the cut) are split again by :func:`allocate` with
    ``exact_weights(elements)``, integers, so the invariant never rests on float luck.
    """
    m = groups.size
    parts = np.zeros(m, dtype=np.int64)
    if not m:
        return parts
    n_groups = int(groups.max()) + 1
    weight_sum = np.bincount(groups, weights=weights, minlength=n_groups)
    share = np.zeros(m, dtype=np.float64)
    positive = weight_sum[groups] > 0
    share[positive] = (
        totals[groups[positive]].astype(np.float64)
        * weights[positive]
        / weight_sum[groups][positive]
    )
    floors = np.floor(share)
    fractions = share - floors
    parts = floors.astype(np.int64)
    deficit = np.zeros(n_groups, dtype=np.int64)
    np.add.at(deficit, groups, -parts)
    present = np.bincount(groups, minlength=n_groups) > 0
    deficit[present] += totals[np.flatnonzero(present)]
    counts = np.bincount(groups[weights > 0], minlength=n_groups)
    bad = present & ((deficit < 0) | (deficit > counts) | (weight_sum <= 0))
    order = np.lexsort((np.arange(m), -fractions, groups))
    sorted_groups = groups[order]
    starts = np.searchsorted(sorted_groups, np.arange(n_groups))
    rank = np.arange(m) - starts[sorted_groups]
    plus = order[rank < deficit[sorted_groups]]
    parts[plus] += 1
    for g in np.flatnonzero(bad).tolist():
        members = np.flatnonzero(groups == g)
        parts[members] = allocate(total=int(totals[g]), weights=exact_weights(members))
    return parts


@dataclass(frozen=True)
class PersonEdges:
    """One currency's node → person hops: ``sources`` (node indices), ``accounts`` (indices
    into the accounts list) and ``amounts`` (int64, all positive), one per (node, account)."""

    sources: NDArray[np.int64]
    accounts: NDArray[np.int64]
    amounts: NDArray[np.int64]


def person_edges(
    *,
    graph: FlowGraph,
    result: CurrencyResult,
    account_of_terminal: NDArray[np.int64],
) -> PersonEdges:
    """The exact flow of every entry naming a person, rounded so that each terminal's entries
    add up exactly to the terminal's amount, then summed per (node, account).

    ``account_of_terminal[t]`` is the person account terminal ``t`` is paid into, or -1 for
    terminals that are not people (reserves, escrow of projects and packages: those are
    RunFlow rows). Invariant: for every account, the amounts add up to the sum of its
    terminals' ``result.amounts``. Vectorised: O(entries log entries)."""
    n = graph.n_nodes
    sources = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.terminal_indptr))
    terminals = graph.terminal_targets.astype(np.int64)
    millibips = graph.terminal_millibips.astype(np.int64)
    keep = (account_of_terminal[terminals] >= 0) & (millibips > 0) & (result.amounts[terminals] > 0)
    sources, terminals, millibips = sources[keep], terminals[keep], millibips[keep]
    through = result.pass_through

    def exact(members: NDArray[np.int64]) -> list[int]:
        # Python ints: pass-through times millibips may not fit in 64 bits.
        weights = [
            int(through[s]) * int(m)
            for s, m in zip(sources[members], millibips[members], strict=True)
        ]
        return weights if any(weights) else [int(m) for m in millibips[members]]

    amounts = _group_round(
        groups=terminals,
        weights=through[sources].astype(np.float64) * millibips,
        exact_weights=exact,
        totals=result.amounts.astype(np.int64),
    )
    accounts = account_of_terminal[terminals]
    n_accounts = int(account_of_terminal.max(initial=-1)) + 1
    keys, inverse = np.unique(sources * max(n_accounts, 1) + accounts, return_inverse=True)
    summed = np.bincount(inverse, weights=amounts, minlength=keys.size).astype(np.int64)
    # bincount sums in float64: exact while a node's payment to one person is below 2**53.
    nonzero = summed > 0
    keys, summed = keys[nonzero], summed[nonzero]
    return PersonEdges(
        sources=keys // max(n_accounts, 1), accounts=keys % max(n_accounts, 1), amounts=summed
    )


@dataclass(frozen=True)
class RunTraceEdges:
    """A computed run's node → person hops: ``node_ids`` and ``accounts`` (person account
    keys) label the indices of ``edges[currency]``."""

    node_ids: Sequence[str]
    accounts: list[str]
    edges: dict[str, PersonEdges]

    def rows(self) -> list[tuple[str, str, str, int]]:
        """``(currency, node key, person account, amount)`` rows."""
        return [
            (currency, self.node_ids[s], self.accounts[a], v)
            for currency, e in self.edges.items()
            for s, a, v in zip(
                e.sources.tolist(), e.accounts.tolist(), e.amounts.tolist(), strict=True
            )
        ]


PERSON_PREFIXES = tuple(f"{kind}:" for kind in PERSON_KINDS)


def trace_edges_compute(
    *,
    graph: FlowGraph,
    distribution: Distribution,
    account_of: Callable[[str], tuple[str, str]],
) -> RunTraceEdges:
    """The node → person hops of a computed run, per currency.

    ``account_of(terminal id)`` is ``(owner, purpose)`` as the run credits it (claimed
    identities are the claimant's ``user:`` account). Pure: no database."""
    terminal_ids = graph.terminal_ids or ()
    # Only terminals that received money in some currency, and not nodes' reserves.
    wanted = np.zeros(graph.n_terminals, dtype=bool)
    for result in distribution.currencies.values():
        wanted |= result.amounts > 0
    wanted[graph.reserve_terminals] = False
    persons = [
        t for t in np.flatnonzero(wanted).tolist() if terminal_ids[t].startswith(PERSON_PREFIXES)
    ]
    index: dict[str, int] = {}
    # setdefault's default is evaluated first: a new owner gets the next index.
    numbers = [index.setdefault(account_of(terminal_ids[t])[0], len(index)) for t in persons]
    account_of_terminal = np.full(graph.n_terminals, -1, dtype=np.int64)
    account_of_terminal[np.asarray(persons, dtype=np.int64)] = numbers
    return RunTraceEdges(
        node_ids=graph.node_ids or (),
        accounts=list(index),
        edges={
            currency: person_edges(
                graph=graph, result=result, account_of_terminal=account_of_terminal
            )
            for currency, result in distribution.currencies.items()
        },
    )


def trace_record(*, run: DistributionRun, computed: Computed) -> int:
    """Store a computed run's node → person hops (:class:`TraceEdge`); returns the rows.

    Precondition: called in the run's compute stage, inside its transaction (so a crash
    leaves none behind, and a stage that is skipped writes nothing twice)."""
    from payouts.distribution.runs import _account_for_terminal  # runs.py calls this module

    started = time.perf_counter()
    snapshot = run.snapshot or {}
    nodes = set(computed.graph.node_ids or ())
    unclaimed = set(snapshot.get("unclaimed", ())) | set(snapshot.get("unverified", ()))
    claims = snapshot.get("claims", {})

    def account_of(terminal: str) -> tuple[str, str]:
        owner, purpose = _account_for_terminal(
            terminal, nodes=nodes, unclaimed=unclaimed, claims=claims
        )
        return owner, str(purpose)

    traced = trace_edges_compute(
        graph=computed.graph, distribution=computed.distribution, account_of=account_of
    )
    computed_at = time.perf_counter()
    count = sum(int(e.amounts.size) for e in traced.edges.values())
    if connection.vendor == "postgresql":
        sql = "COPY payouts_traceedge (run_id, currency, source, recipient, amount) FROM STDIN"
        # Labels escaped once each, lines written in large blocks.
        sources = {
            int(s): copy_text(traced.node_ids[s])
            for e in traced.edges.values()
            for s in np.unique(e.sources).tolist()
        }
        accounts = [copy_text(a) for a in traced.accounts]
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for currency, e in traced.edges.items():
                prefix = f"{run.pk}\t{currency}\t"
                for start in range(0, int(e.amounts.size), COPY_BLOCK):
                    block = slice(start, start + COPY_BLOCK)
                    copy.write(
                        "".join(
                            f"{prefix}{sources[s]}\t{accounts[a]}\t{v}\n"
                            for s, a, v in zip(
                                e.sources[block].tolist(),
                                e.accounts[block].tolist(),
                                e.amounts[block].tolist(),
                                strict=True,
                            )
                        )
                    )
    else:
        TraceEdge.objects.bulk_create(
            [
                TraceEdge(run=run, currency=c, source=s, recipient=r, amount=v)
                for c, s, r, v in traced.rows()
            ],
            batch_size=5000,
        )
    log.info(
        "run %s: %d trace edges in %.2f s (%.2f s to compute, %.2f s to write)",
        run.pk,
        count,
        time.perf_counter() - started,
        computed_at - started,
        time.perf_counter() - computed_at,
    )
    return count


# --- who may see which trace ------------------------------------------------------------


class TraceViewerCheck(Protocol):
    def __call__(self, *, slug: str, user: User | AnonymousUser) -> bool: ...


trace_viewers: Registry[TraceViewerCheck] = Registry(
    "payouts.trace_viewers", required={"company": "companies"}
)
"""Whether a user belongs to an owner that a higher app keeps (a company's members see the
tree of its money); the companies app registers its check at start-up."""


def trace_visible_to(*, recipient: str, user: User | AnonymousUser | None) -> bool:
    """Who sees a trace (money rule 9): a person's only that person, staff, and anyone when
    the person made what they received public; a company's tree its members and staff; a
    project's or a package's anyone (project-level hops are public open data)."""
    from payouts.selectors import recipient_money_visible_to
    from projects.privacy import public_profile_user, viewer_is_staff

    if viewer_is_staff(user=user):
        return True
    kind, _, ident = recipient.partition(":")
    if is_person_key(recipient):
        if recipient_money_visible_to(recipient=recipient, user=user):
            return True
        return kind == "user" and public_profile_user(username=ident) is not None
    if kind == "company":
        if user is None or not user.is_authenticated:
            return False
        return trace_viewers.get("company")(slug=ident, user=user)
    return True


# --- reading a trace ----------------------------------------------------------------------


@dataclass
class Hop:
    """One hop of a trace. ``amount`` is the part of the traced money on this hop; when
    ``split`` the hops whose ``parent`` is this one add up to it exactly. ``node_in``,
    ``node_passed`` and ``node_kept`` are the node's whole money in the run (in = passed on +
    kept), for context; ``people`` counts the people a ``people`` hop stands for."""

    id: int
    parent: int | None
    depth: int
    kind: str  # recipient, node, cycle, inflows, inflow, escrow, people, kept, account, more
    key: str
    amount: int
    split: bool = False
    node_in: int | None = None
    node_passed: int | None = None
    node_kept: int | None = None
    people: int | None = None
    detail: str = ""
    children: list[Hop] = field(default_factory=list)


@dataclass
class CurrencyTrace:
    """One currency's tree; ``sources`` (a company's tree only) are its inflows of the run
    (label, amount), which add up to ``amount`` unless escrow was released to it."""

    currency: str
    amount: int
    hops: list[Hop]
    sources: list[tuple[str, int]] = field(default_factory=list)

    @property
    def root(self) -> Hop:
        return self.hops[0]

    def in_order(self) -> list[Hop]:
        """The hops depth first (each hop followed by the hops it splits into)."""
        out: list[Hop] = []
        stack = [self.root]
        while stack:
            hop = stack.pop()
            out.append(hop)
            stack.extend(reversed(hop.children))
        return out


@dataclass
class Trace:
    """A recipient's trace in one run: ``direction`` "up" (where a credit came from) or
    "down" (where a company's money went), one tree per currency; ``complete`` is False when
    the run's project-level hops are not published (only the first hop is known then)."""

    run: DistributionRun
    recipient: str
    direction: str
    currencies: list[CurrencyTrace]
    complete: bool


@dataclass
class _NodeFlows:
    """A node's hops in one currency as a trace reads them: the largest ``MAX_CHILDREN + 1``
    hops in and out (``(other end, cents)``, largest first), the rest of each side summed
    (``(cents, hops)``), and what the node kept."""

    ins: list[tuple[str, int]] = field(default_factory=list)
    outs: list[tuple[str, int]] = field(default_factory=list)
    in_rest: tuple[int, int] = (0, 0)
    out_rest: tuple[int, int] = (0, 0)
    total_in: int = 0
    total_out: int = 0
    kept: int = 0


_NODE_FLOWS_SQL = """
WITH sides AS (
    SELECT target AS node, 0 AS side, source AS other, amount FROM payouts_runflow
    WHERE run_id = %(run)s AND currency = %(currency)s AND target = ANY(%(keys)s)
    UNION ALL
    SELECT source, 1, target, amount FROM payouts_runflow
    WHERE run_id = %(run)s AND currency = %(currency)s AND source = ANY(%(keys)s)
), ranked AS (
    SELECT node, side, other, amount,
        row_number() OVER (
            PARTITION BY node, side ORDER BY amount DESC, other COLLATE "C"
        ) AS rank,
        side = 1 AND left(other, length(node) + 2) = node || ' (' AS kept
    FROM sides
)
SELECT node, side, CASE WHEN rank <= %(top)s THEN other END AS shown,
    SUM(amount), COUNT(*), SUM(CASE WHEN kept THEN amount ELSE 0 END)
FROM ranked
GROUP BY node, side, shown
"""


def _node_flows(*, run: DistributionRun, currency: str, keys: set[str]) -> dict[str, _NodeFlows]:
    """The hops of the nodes ``keys`` in one query: the database ranks them and sums the
    small ones, so a node named by a hundred thousand tables costs no more to read than one
    named by three."""
    flows = {k: _NodeFlows() for k in keys}
    with connection.cursor() as cursor:
        cursor.execute(
            _NODE_FLOWS_SQL,
            {"run": run.pk, "currency": currency, "keys": sorted(keys), "top": MAX_CHILDREN + 1},
        )
        rows = cursor.fetchall()
    for node, side, other, amount, count, kept in rows:
        f = flows[node]
        amount, count = int(amount), int(count)
        if side == 0:
            f.total_in += amount
            if other is None:
                f.in_rest = (amount, count)
            else:
                f.ins.append((other, amount))
        else:
            f.total_out += amount
            f.kept += int(kept)
            if other is None:
                f.out_rest = (amount, count)
            else:
                f.outs.append((other, amount))
    for f in flows.values():
        # Deterministic order for the splits: largest first, then by key (code points).
        f.ins.sort(key=lambda p: (-p[1], p[0]))
        f.outs.sort(key=lambda p: (-p[1], p[0]))
    return flows


def _kept_label(node: str, target: str) -> bool:
    return target.startswith(f"{node} (")


def _context(hop: Hop, flows: _NodeFlows) -> None:
    hop.node_in = flows.total_in
    hop.node_kept = flows.kept
    hop.node_passed = flows.total_out - flows.kept


class _Builder:
    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.hops: list[Hop] = []

    def add(self, *, parent: Hop | None, kind: str, key: str, amount: int, detail: str = "") -> Hop:
        hop = Hop(
            id=len(self.hops),
            parent=None if parent is None else parent.id,
            depth=0 if parent is None else parent.depth + 1,
            kind=kind,
            key=key,
            amount=amount,
            detail=detail,
        )
        self.hops.append(hop)
        if parent is not None:
            parent.children.append(hop)
        return hop

    def split(
        self,
        hop: Hop,
        parts: Sequence[tuple[str, str, int]],
        hidden: tuple[int, int] = (0, 0),
    ) -> list[Hop]:
        """Split ``hop`` over ``parts`` ``(kind, key, weight)`` and ``hidden`` (the summed
        weight and count of parts not read) by largest remainder; parts beyond MAX_CHILDREN
        join the hidden ones in one "more" hop. Returns the new hops but "more"."""
        parts = [p for p in parts if p[2] > 0]
        hidden_weight, hidden_count = hidden
        if (not parts and not hidden_weight) or hop.amount <= 0:
            return []
        amounts = allocate(
            total=hop.amount, weights=[w for _, _, w in parts] + [max(hidden_weight, 0)]
        )
        hidden_amount = amounts.pop()
        shares = sorted(
            ((a, kind, key) for (kind, key, _), a in zip(parts, amounts, strict=True) if a),
            key=lambda s: (-s[0], s[2]),
        )
        room = max(1, min(MAX_CHILDREN, MAX_HOPS - len(self.hops) - 1))
        shown, rest = shares[:room], shares[room:]
        if len(rest) == 1 and not hidden_amount:
            shown, rest = shares, []
        hop.split = True
        made = [self.add(parent=hop, kind=kind, key=key, amount=a) for a, kind, key in shown]
        more = hidden_amount + sum(a for a, _, _ in rest)
        if more:
            self.add(
                parent=hop,
                kind="more",
                key="",
                amount=more,
                detail=f"{len(rest) + (hidden_count if hidden_amount else 0)} more",
            )
        return made

    def ancestors(self, hop: Hop) -> set[str]:
        """The keys of ``hop`` and the hops above it."""
        keys = {hop.key}
        while hop.parent is not None:
            hop = self.hops[hop.parent]
            keys.add(hop.key)
        return keys

    def full(self) -> bool:
        return len(self.hops) >= MAX_HOPS


def _source_kind(source: str) -> str:
    if source == ENTRY_SOURCE:
        return "inflows"
    if is_node_label(source):
        return "node"
    return "escrow"  # "<project> (escrow)": escrow released from earlier runs


def _target_kind(node: str, target: str) -> str:
    if target == PEOPLE:
        return "people"
    if is_node_label(target):
        return "node"
    return "kept" if _kept_label(node, target) else "account"


def _expand(
    *,
    run: DistributionRun,
    builder: _Builder,
    frontier: list[Hop],
    direction: str,
) -> None:
    """Split the hops of ``frontier`` level by level (one RunFlow query per level)."""
    while frontier and not builder.full():
        keys = {hop.key for hop in frontier}
        flows = _node_flows(run=run, currency=builder.currency, keys=keys)
        following: list[Hop] = []
        # Largest amounts first, so a cut by MAX_HOPS keeps the hops that matter most.
        for hop in sorted(frontier, key=lambda h: (-h.amount, h.id)):
            _context(hop, flows[hop.key])
            if builder.full():
                break
            f = flows[hop.key]
            if direction == "up":
                parts = [(_source_kind(s), s, v) for s, v in f.ins]
                hidden = f.in_rest
            else:
                parts = [(_target_kind(hop.key, t), t, v) for t, v in f.outs]
                hidden = f.out_rest
            above = builder.ancestors(hop)
            for child in builder.split(hop, parts, hidden):
                if child.kind != "node":
                    continue
                if child.key in above:
                    # Money that went round a cycle: it is mixed into that node's money above,
                    # in the same proportions, so splitting it again repeats the tree above.
                    child.kind = "cycle"
                elif child.depth < MAX_DEPTH:
                    following.append(child)
        frontier = following


def _inflow_records(
    *, run: DistributionRun, currency: str, companies: set[str]
) -> dict[str, list[tuple[str, str, int]]]:
    """{company key: [("inflow", label, amount)]}: the run's inflows of these companies
    (date, agreement), in one query."""
    records: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    rows = (
        InflowRecord.objects.filter(run=run, currency=currency)
        .filter(company__slug__in=[c.partition(":")[2] for c in companies])
        .order_by("received_at", "pk")
        # The invoice (and its agreement) is the companies app's; read through the relation.
        .values_list("pk", "company__slug", "received_at", "invoice__agreement", "amount")
    )
    for pk, slug, received_at, agreement_id, amount in rows:
        label = f"inflow #{pk}, received {received_at:%Y-%m-%d}"
        if agreement_id:
            label = f"agreement AGR-{agreement_id:05d}, {label}"
        records[f"company:{slug}"].append(("inflow", label, int(amount)))
    return records


def _name_inflows(*, run: DistributionRun, builder: _Builder) -> None:
    """Split each "inflows" hop into the company's inflow records of the run."""
    inflow_hops = [h for h in builder.hops if h.kind == "inflows" and h.parent is not None]
    if not inflow_hops:
        return
    companies = {builder.hops[h.parent].key for h in inflow_hops if h.parent is not None}
    records = _inflow_records(run=run, currency=builder.currency, companies=companies)
    for hop in inflow_hops:
        if hop.parent is None:
            continue
        for child in builder.split(hop, records.get(builder.hops[hop.parent].key, [])):
            child.detail, child.key = child.key, ""


def _count_people(*, run: DistributionRun, builder: _Builder) -> None:
    people = [h for h in builder.hops if h.kind == "people" and h.parent is not None]
    if not people:
        return
    sources = {builder.hops[h.parent].key for h in people if h.parent is not None}
    counts = dict(
        TraceEdge.objects.filter(run=run, currency=builder.currency, source__in=sources)
        .values("source")
        .annotate(n=Count("id"))
        .values_list("source", "n")
    )
    for hop in people:
        if hop.parent is not None:
            hop.people = int(counts.get(builder.hops[hop.parent].key, 0))


def _credit_roots(
    *, run: DistributionRun, recipient: str
) -> dict[str, tuple[int, list[tuple[str, str, int]]]]:
    """{currency: (the recipient's allocation, its first hops (kind, key, weight))}."""
    allocations: dict[str, dict[str, int]] = defaultdict(dict)
    for purpose, currency, amount in RunAllocation.objects.filter(
        run=run, recipient=recipient
    ).values_list("purpose", "currency", "amount"):
        allocations[currency][purpose] = int(amount)
    first: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    if is_person_key(recipient):
        for currency, source, amount in (
            TraceEdge.objects.filter(run=run, recipient=recipient)
            .order_by("currency", "-amount", "source")
            .values_list("currency", "source", "amount")
        ):
            first[currency].append(("node", source, int(amount)))
    else:
        labels = {f"{recipient} ({p})" for purposes in allocations.values() for p in purposes}
        for currency, source, amount in (
            RunFlow.objects.filter(run=run, target__in=labels)
            .order_by("currency", "-amount", "source")
            .values_list("currency", "source", "amount")
        ):
            first[currency].append(("node", source, int(amount)))
    return {c: (sum(p.values()), first.get(c, [])) for c, p in sorted(allocations.items())}


def run_trace(*, run: DistributionRun, recipient: str) -> Trace:
    """The trace of ``recipient`` in ``run``: for a company, where its money went (down its
    table, to projects, people counted and summed, and what stayed); for anyone else, where
    their credit came from (up to the companies' inflows). Reads stored hops only; at most
    ``MAX_DEPTH`` + 5 queries.

    Precondition: the caller checked :func:`trace_visible_to`. Invariants: each tree's root
    is the recipient's allocation (a company's: its inflows in the run); every split hop's
    children add up to it exactly; people are never named below the root (a person's own
    trace names only that person)."""
    complete = RunFlow.objects.filter(run=run).exists()
    currencies: list[CurrencyTrace] = []
    if recipient.startswith("company:"):
        # The company's own money: what entered the graph at it (its inflows, released
        # escrow), not what other nodes may pass to it.
        totals: dict[str, int] = defaultdict(int)
        for currency, source, amount in RunFlow.objects.filter(
            run=run, target=recipient
        ).values_list("currency", "source", "amount"):
            if not is_node_label(source):
                totals[currency] += int(amount)
        for currency, total in sorted(totals.items()):
            builder = _Builder(currency)
            root = builder.add(parent=None, kind="node", key=recipient, amount=total)
            _expand(run=run, builder=builder, frontier=[root], direction="down")
            _count_people(run=run, builder=builder)
            records = _inflow_records(run=run, currency=currency, companies={recipient})
            currencies.append(
                CurrencyTrace(
                    currency=currency,
                    amount=total,
                    hops=builder.hops,
                    sources=[(label, v) for _, label, v in records.get(recipient, [])],
                )
            )
        return Trace(
            run=run,
            recipient=recipient,
            direction="down",
            currencies=currencies,
            complete=complete,
        )
    for currency, (total, first) in _credit_roots(run=run, recipient=recipient).items():
        builder = _Builder(currency)
        root = builder.add(parent=None, kind="recipient", key=recipient, amount=total)
        hops = builder.split(root, first)
        _expand(
            run=run,
            builder=builder,
            frontier=[h for h in hops if h.kind == "node"],
            direction="up",
        )
        _name_inflows(run=run, builder=builder)
        currencies.append(CurrencyTrace(currency=currency, amount=total, hops=builder.hops))
    return Trace(
        run=run, recipient=recipient, direction="up", currencies=currencies, complete=complete
    )


def trace_problems(trace: Trace) -> list[str]:
    """What does not add up in a trace (empty when everything does): every split hop equals
    the sum of its children, and each root equals its currency's amount."""
    problems = []
    for ct in trace.currencies:
        if ct.root.amount != ct.amount:
            problems.append(f"{ct.currency}: root {ct.root.amount} != {ct.amount}")
        for hop in ct.hops:
            if hop.split and sum(c.amount for c in hop.children) != hop.amount:
                problems.append(f"{ct.currency}: hop {hop.id} ({hop.key}) does not add up")
    return problems
