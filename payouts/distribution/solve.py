"""Solving and rounding: the exact flow of inflows through a :class:`FlowGraph` to its
terminals (:func:`compute_distribution`) and the largest-remainder rounding of the amounts
(:func:`round_largest_remainder`).

Part of the distribution engine; the method, its error bound, the rounding rule and
determinism are described in :mod:`payouts.distribution.engine`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import splu

from faiross.kernel.shares import FULL_SHARE
from projects.cycles import (
    ClosedCycleError,
    closed_component_nodes,
    edge_ranges,
    strong_components,
)

from .graph import FlowGraph, Inflow, _reachable

MAX_EXACT_CENTS = 2**53
"""Per-currency inflow totals must stay below this so that they are exact in float64."""

DEFAULT_RELATIVE_TOLERANCE = 1e-14
DEFAULT_ABSOLUTE_TOLERANCE = 1e-6
DEFAULT_MAX_ITERATIONS = 500
DEFAULT_EXACT_BLOCK_LIMIT = 2000
PASS_THROUGH_CAP = 2**62
"""Reported pass-through saturates here (only a cycle leaking < 1e-7 per round of a huge run
could reach it); amounts never do, they are bounded by the inflow."""
MAX_TOLERANCE = 1e-3
"""The solve aims at most this many cents of error bound (less for small totals)."""
MAX_ERROR_BOUND = 1e-2
"""When float rounding alone keeps the bound above the aim (cycles that leak less than about
1e-5 per round, carrying large sums), up to this many cents is accepted; beyond, the run fails."""
MAX_REFINEMENTS = 6
"""Passes of iterative refinement (normally one or two are needed) before giving up."""
WIDE = np.longdouble
"""Accumulator type: 80-bit extended on x86-64 Linux (eps 1e-19), plain float64 elsewhere."""


class ConvergenceError(RuntimeError):
    """The solve did not reach its tolerance within the iteration bound (no closed cycle)."""


class RoundingError(ArithmeticError):
    """Float amounts cannot be rounded to the total: they are not within tolerance of it."""


@dataclass(frozen=True, eq=False)
class CurrencyResult:
    """One currency's split.

    * ``amounts`` (int64 per terminal): the cents each terminal receives; sums exactly to
      ``total_cents``. Reserves are terminals too (see ``kept``).
    * ``kept`` (int64 per node): ``amounts[graph.reserve_terminals]``, what each node keeps.
    * ``pass_through`` (int64 per node): the money that flowed into the node (inflows plus what
      other nodes passed to it, revisits through cycles counted each time), rounded to the
      nearest cent (saturating at 2**62). Informational: it is not a split and does not add up
      to anything.
    * ``inflow`` (int64 per node): the money that entered at the node from outside.
    * ``error_bound_cents``: bound on the distance between each float amount and the exact
      rational one before rounding (solver residual, see :mod:`payouts.distribution.engine`).
    """

    currency: str
    total_cents: int
    amounts: NDArray[np.int64]
    kept: NDArray[np.int64]
    pass_through: NDArray[np.int64]
    inflow: NDArray[np.int64]
    error_bound_cents: float


@dataclass(frozen=True, eq=False)
class Distribution:
    """The result of :func:`compute_distribution`: one :class:`CurrencyResult` per currency
    (keys sorted), and how the solve went (``iterations`` steps, ``lagged_edges`` edges of large
    SCCs left to the iteration)."""

    currencies: Mapping[str, CurrencyResult]
    iterations: int
    lagged_edges: int

    def recipient_amounts(self, *, graph: FlowGraph, currency: str) -> dict[str, int]:
        """``{terminal id: cents}`` for the terminals receiving money, in terminal order."""
        if graph.terminal_ids is None:
            raise LookupError("the graph has no terminal ids")
        amounts = self.currencies[currency].amounts
        return {graph.terminal_ids[t]: int(amounts[t]) for t in np.flatnonzero(amounts)}


def round_largest_remainder(
    *, values: NDArray[np.floating], total: int, tolerance: float = 1e-9
) -> NDArray[np.int64]:
    """Round non-negative float amounts to ints that add up to ``total`` (largest remainder).

    The vectorised twin of :func:`faiross.kernel.allocation.allocate`: floor every value, then
    give one more unit to the ``total - sum(floors)`` values with the largest fractional parts,
    ties to the lower index. ``tolerance`` is the caller's bound on the error of each value:

    * a value within ``tolerance`` of an integer counts as that integer, so float noise around
      an exact integer (41.99999999999) changes nothing;
    * fractional parts within ``tolerance`` of the cut (the smallest fractional part that still
      gets a unit) count as tied with it, so amounts that are exactly tied in rational
      arithmetic but differ by float noise stay tied and the tie goes to the lower index, as in
      ``allocate``. Fractional parts that really differ by less than ``tolerance`` are tied
      too: that is the price of not knowing the values better.

    A value of 0 gets 0. Preconditions: ``values`` one-dimensional, finite, each at least
    ``-tolerance``; the number of units left after flooring must lie between 0 and the number of
    positive values (true whenever the values add up to ``total`` within their fractional
    slack), otherwise RoundingError. Invariants: ``sum(result) == total``; each part is the floor
    or the ceiling of its (snapped) value. On correctly rounded exact shares
    ``total * w / sum(w)`` with ``total * max(w) < 2**52`` and ``1 / sum(w) > 2 * tolerance``
    the result equals ``allocate``'s. O(n): a partition, not a sort.
    """
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError("total must be an int")
    if not tolerance >= 0:
        raise ValueError("tolerance must be >= 0")
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    if v.ndim != 1:
        raise ValueError("values must be one-dimensional")
    if not np.all(np.isfinite(v)):
        raise RoundingError("values must be finite")
    if np.any(v < -tolerance):
        raise RoundingError("values must not be negative")
    # Split into an integer and a float64 fraction without losing the precision of wider
    # inputs: floor the float64 copy, take the remainder in the input's precision, fix up by one
    # where the float64 copy rounded across an integer.
    floors = np.floor(v.astype(np.float64))
    fractions = (v - floors).astype(np.float64)
    below = fractions < 0
    floors[below] -= 1
    fractions[below] += 1
    above = fractions >= 1
    floors[above] += 1
    fractions[above] -= 1
    # Snap values within tolerance of an integer to it.
    up = fractions >= 1 - tolerance
    floors[up] += 1
    fractions[up] = 0
    fractions[fractions <= tolerance] = 0
    positive = (floors > 0) | (fractions > 0)
    floors[~positive] = 0
    parts = floors.astype(np.int64)
    left = total - int(parts.sum())
    candidates = np.flatnonzero(positive)
    if left < 0 or left > candidates.size:
        raise RoundingError(
            f"cannot round {v.size} values summing to {float(v.sum())!r} to total {total}"
        )
    if left == 0:
        return parts
    if left == candidates.size:
        parts[candidates] += 1
        return parts
    ranked = fractions[candidates]
    cut = candidates.size - left
    threshold = np.partition(ranked, cut)[cut]
    # Fractional parts within tolerance of the cut cannot be told apart from it: they are tied
    # with it, and ties go to the lowest index (candidates ascend).
    sure = ranked > threshold + tolerance
    tied = ~sure & (ranked >= threshold - tolerance)
    chosen_sure = candidates[sure]
    parts[chosen_sure] += 1
    parts[candidates[tied][: left - chosen_sure.size]] += 1
    return parts


def _topological_component_rank(
    *, n_components: int, source_labels: NDArray[np.int32], target_labels: NDArray[np.int32]
) -> NDArray[np.int64]:
    """Rank of each SCC in a topological order of the condensation (Kahn, vectorised by level).

    Fallback for when scipy's labels are not already in reverse topological order.
    """
    inter = source_labels != target_labels
    src = source_labels[inter].astype(np.int64)
    dst = target_labels[inter].astype(np.int64)
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    indptr = np.searchsorted(src, np.arange(n_components + 1))
    indegree = np.bincount(dst, minlength=n_components)
    rank = np.full(n_components, -1, dtype=np.int64)
    frontier = np.flatnonzero(indegree == 0)
    next_rank = 0
    while frontier.size:
        rank[frontier] = next_rank + np.arange(frontier.size)
        next_rank += frontier.size
        edges = edge_ranges(
            starts=indptr[frontier], lengths=indptr[frontier + 1] - indptr[frontier]
        )
        touched = dst[edges]
        np.subtract.at(indegree, touched, 1)
        frontier = np.unique(touched[indegree[touched] == 0])
    if next_rank != n_components:
        raise AssertionError("condensation of SCCs is not acyclic")
    return rank


@dataclass(frozen=True, eq=False)
class _Plan:
    """What the solve needs, derived once per graph.

    Positions are a topological order of the SCCs; the preconditioner ``M`` (``I - Q^T``
    without the lagged edges) is lower triangular in them except inside small SCCs. The lagged
    edges all lie inside large SCCs, so a correction only ever spreads through the nodes
    reachable from their targets (``sub_positions``): the iteration runs on that subsystem.
    """

    q: sp.csr_array  # n x n, Q[i, j] = fraction node i gives node j (WIDE)
    r: sp.csr_array  # n x T, explicit terminal fractions (WIDE)
    reserve_fraction: NDArray[np.floating]  # WIDE
    revisits: NDArray[np.floating]  # WIDE, pass-through per arrival (> 1 with a self entry)
    order: NDArray[np.int64]  # position -> node
    factor: Any  # SuperLU of M in position order
    sub_positions: NDArray[np.int64]  # sorted positions of the subsystem
    sub_factor: Any  # SuperLU of M restricted to the subsystem, or None
    lagged: sp.csr_array | None  # the lagged part of Q^T, in subsystem coordinates
    lagged_edges: int
    node_weight: NDArray[np.floating]  # in-degree + 4 per node, for the rounding bound
    terminal_weight: NDArray[np.floating]  # in-degree + 3 per terminal, likewise


def _plan(*, graph: FlowGraph, exact_block_limit: int) -> _Plan:
    n = graph.n_nodes
    indptr, targets, millibips = graph.node_indptr, graph.node_targets, graph.node_millibips
    edges: dict[str, Any] = {
        "n_nodes": n,
        "indptr": indptr,
        "targets": targets,
        "millibips": millibips,
    }
    count, labels = strong_components(**edges)
    closed = closed_component_nodes(**edges, n_components=count, labels=labels)
    if closed is not None:
        if graph.node_ids is not None:
            raise ClosedCycleError(nodes=[graph.node_ids[i] for i in closed.tolist()])
        raise ClosedCycleError(nodes=closed.tolist())

    sources = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    self_loop = sources == targets
    # A self entry sends money back through the same table, so in the limit the node splits
    # what arrives by its other entries, scaled by FULL_SHARE / (FULL_SHARE - self share).
    # Solving that equivalent graph is exact and keeps slow self-cycles from inflating the
    # pass-through (closed singletons, self share = FULL_SHARE, were refused above).
    kept_share = FULL_SHARE - np.bincount(
        sources[self_loop], weights=millibips[self_loop], minlength=n
    ).astype(np.int64)
    fractions = millibips / kept_share[sources]
    positive = (millibips > 0) & ~self_loop
    source_labels, target_labels = labels[sources], labels[targets]
    inter = positive & (source_labels != target_labels)
    # scipy's Pearce SCC labels come out in reverse topological order (an edge goes from a
    # higher label to a lower one). That is an implementation detail, so check it and fall
    # back to Kahn's algorithm if a future scipy labels differently.
    if np.all(source_labels[inter] > target_labels[inter]):
        component_rank = (count - 1) - labels.astype(np.int64)
    else:
        component_rank = _topological_component_rank(
            n_components=count,
            source_labels=source_labels[positive],
            target_labels=target_labels[positive],
        )
    del source_labels, target_labels
    size = np.bincount(labels, minlength=count)
    in_big = size[labels] > exact_block_limit
    internal_big = ~inter & positive & in_big[sources]
    # Inside a large SCC the lagged (backward) edges slow the iteration down, so order its
    # nodes to point most of the money forward: Eades-style, nodes that send more inside the
    # SCC than they receive go first (in dependency graphs: dependents before dependencies).
    score = np.zeros(n, dtype=np.float64)
    if internal_big.any():
        weights = fractions[internal_big]
        score -= np.bincount(sources[internal_big], weights=weights, minlength=n)
        score += np.bincount(targets[internal_big], weights=weights, minlength=n)
    if internal_big.any():
        order = np.lexsort((score, component_rank))
    else:
        order = np.argsort(component_rank, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)

    # M = I - Q^T without the lagged edges, as a CSC matrix whose column p is node order[p]'s
    # table: gathered row by row from the CSR arrays, diagonal first in each column.
    lagged = internal_big & (position[targets] < position[sources])
    keep = positive & ~lagged
    kept_per_node = np.bincount(sources[keep], minlength=n).astype(np.int64)
    kept_starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(kept_per_node, out=kept_starts[1:])
    gathered = np.flatnonzero(keep)[
        edge_ranges(starts=kept_starts[order], lengths=kept_per_node[order])
    ]
    column_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(kept_per_node[order] + 1, out=column_indptr[1:])
    data = np.empty(int(column_indptr[-1]), dtype=np.float64)
    rows = np.empty(int(column_indptr[-1]), dtype=np.int32)
    diagonal_slots = column_indptr[:-1]
    off = np.ones(data.size, dtype=bool)
    off[diagonal_slots] = False
    data[diagonal_slots] = 1.0
    rows[diagonal_slots] = np.arange(n, dtype=np.int32)
    data[off] = -fractions[gathered]
    rows[off] = position[targets[gathered]]
    del gathered, off
    m = sp.csc_array((data, rows, column_indptr), shape=(n, n))
    m.sum_duplicates()
    # Diagonal pivots: column diagonal dominance makes them the largest in their column anyway,
    # and keeping them keeps the triangular structure (no fill outside small SCCs).
    factor = splu(m, permc_spec="NATURAL", diag_pivot_thresh=0.0)

    sub_positions = np.zeros(0, dtype=np.int64)
    sub_factor = None
    lagged_matrix = None
    lagged_edges = int(lagged.sum())
    if lagged_edges:
        lagged_sources = sources[lagged]
        lagged_targets = targets[lagged]
        reach = _reachable(indptr=indptr, targets=targets, starts=lagged_targets.astype(np.int64))
        sub_positions = np.sort(position[np.flatnonzero(reach)])
        sub_m = m[:, sub_positions][sub_positions, :]
        sub_factor = splu(sp.csc_array(sub_m), permc_spec="NATURAL", diag_pivot_thresh=0.0)
        sub_index = np.full(n, -1, dtype=np.int64)
        sub_index[sub_positions] = np.arange(sub_positions.size)
        lagged_matrix = sp.csr_array(
            (
                fractions[lagged],
                (sub_index[position[lagged_targets]], sub_index[position[lagged_sources]]),
            ),
            shape=(sub_positions.size, sub_positions.size),
        )
    del m

    del fractions
    # The residual and the final amounts are summed in WIDE precision, from fractions that are
    # themselves rounded only once (millibips / (10^7 - self share) in WIDE).
    divisor = kept_share.astype(WIDE)
    node_data = millibips.astype(WIDE) / divisor[sources]
    node_data[self_loop] = 0
    q = sp.csr_array((node_data, targets, indptr), shape=(n, n))
    del node_data
    terminal_sources = np.repeat(np.arange(n, dtype=np.int32), np.diff(graph.terminal_indptr))
    r = sp.csr_array(
        (
            graph.terminal_millibips.astype(WIDE) / divisor[terminal_sources],
            graph.terminal_targets,
            graph.terminal_indptr,
        ),
        shape=(n, graph.n_terminals),
    )
    return _Plan(
        q=q,
        r=r,
        reserve_fraction=graph.reserve_millibips.astype(WIDE) / divisor,
        revisits=FULL_SHARE / divisor,
        order=order,
        factor=factor,
        sub_positions=sub_positions,
        sub_factor=sub_factor,
        lagged=lagged_matrix,
        lagged_edges=lagged_edges,
        node_weight=(np.bincount(targets, minlength=n) + 4).astype(WIDE),
        terminal_weight=(
            np.bincount(graph.terminal_targets, minlength=graph.n_terminals) + 4
        ).astype(WIDE),
    )


def _apply_inverse(
    *, plan: _Plan, rhs: NDArray[np.float64], tolerance: NDArray[np.float64], max_steps: int
) -> tuple[NDArray[np.float64], int]:
    """Approximate ``(I - Q^T)^-1 rhs`` in position order; returns it and the steps taken.

    One solve with ``M``, then block Gauss-Seidel on the subsystem: the money the lagged edges
    carry back, ``U dy``, is solved again until it is below ``tolerance`` per column. All terms
    stay non-negative for a non-negative ``rhs``, so the iteration rises monotonically to the
    solution.
    """
    y = plan.factor.solve(rhs)
    if plan.lagged is None:
        return y, 1
    sub = plan.sub_positions
    carried = plan.lagged @ y[sub]
    steps = 1
    while np.any(np.abs(carried).sum(axis=0) > tolerance):
        if steps >= max_steps:
            raise ConvergenceError(
                f"{steps} steps left {np.abs(carried).sum(axis=0).tolist()} cents going round "
                f"large cycles (tolerance {tolerance.tolist()}, {plan.lagged_edges} lagged edges)"
            )
        correction = plan.sub_factor.solve(carried)
        y[sub] += correction
        carried = plan.lagged @ correction
        steps += 1
    return y, steps


def _group_inflows(
    *, graph: FlowGraph, inflows: Sequence[Inflow]
) -> tuple[list[str], list[int], NDArray[np.int64]]:
    """Validate inflows and sum them per (node, currency); currencies sorted."""
    n = graph.n_nodes
    nodes = [inflow.node for inflow in inflows]
    cents = [inflow.cents for inflow in inflows]
    names = [inflow.currency for inflow in inflows]
    # type() rather than isinstance(): bool is an int subclass and must be refused.
    for node, amount in zip(nodes, cents, strict=True):
        if type(node) is not int or type(amount) is not int:
            if isinstance(node, bool) or not isinstance(node, int | np.integer):
                raise TypeError(f"inflow node must be an int, not {node!r}")
            if isinstance(amount, bool) or not isinstance(amount, int | np.integer):
                raise TypeError(f"inflow cents must be an int, not {amount!r}")
    for name in set(names):
        if not isinstance(name, str) or not name:
            raise ValueError(f"inflow currency must be a non-empty string: {name!r}")
    if nodes and (min(nodes) < 0 or max(nodes) >= n):
        bad = next(node for node in nodes if not 0 <= node < n)
        raise ValueError(f"inflow node {bad} is not in [0, {n})")
    if cents and min(cents) < 0:
        raise ValueError(f"inflow cents must not be negative: {min(cents)}")
    currencies = sorted(set(names))
    column_of = {currency: column for column, currency in enumerate(currencies)}
    columns = [column_of[name] for name in names]
    totals = [0] * len(currencies)
    for column, amount in zip(columns, cents, strict=True):
        totals[column] += amount
    for currency, total in zip(currencies, totals, strict=True):
        if total >= MAX_EXACT_CENTS:
            raise ValueError(f"{currency}: total inflow {total} cents is too large (>= 2**53)")
    per_node = np.zeros((n, len(currencies)), dtype=np.int64)
    if nodes:
        # Exact: the totals are below 2**53, so int64 adds cannot overflow.
        np.add.at(
            per_node,
            (np.asarray(nodes, dtype=np.int64), np.asarray(columns, dtype=np.int64)),
            np.asarray(cents, dtype=np.int64),
        )
    return currencies, totals, per_node


def _largest_pass_through(graph: FlowGraph, x: NDArray[np.floating], totals: list[int]) -> str:
    """Name the nodes that money visits most often, per cent of inflow: the slow cycles."""
    visits = (x / np.maximum(np.asarray(totals, dtype=WIDE), 1)).max(axis=1)
    top = np.argsort(-visits, kind="stable")[:5]
    named = ", ".join(f"{graph._label(int(i))} ({float(visits[i]):.3g}x)" for i in top)
    return f"Most visited nodes, pass-through per unit of inflow: {named}"


def compute_distribution(
    *,
    graph: FlowGraph,
    inflows: Sequence[Inflow],
    relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    exact_block_limit: int = DEFAULT_EXACT_BLOCK_LIMIT,
) -> Distribution:
    """Split ``inflows`` down ``graph`` and round each recipient to the cent.

    Preconditions: ``graph`` is a valid :class:`FlowGraph`; inflows name nodes of the graph with
    non-negative int cents; each currency's total is below 2**53 cents.
    Raises :class:`ClosedCycleError` (naming the nodes) when the graph has a closed set, and
    :class:`ConvergenceError` when the solve misses its tolerance after ``max_iterations`` steps
    (never hangs). Invariants of the result, per currency: ``amounts.sum() == total inflow``
    exactly; each amount is within ``1 + error_bound_cents`` cents of the exact rational flow;
    the same inputs give bit-identical outputs. See :mod:`payouts.distribution.engine` for the
    method and the bound.
    ``exact_block_limit`` is the largest SCC kept whole in the preconditioner (tests lower it to
    exercise the iterative path).
    """
    currencies, totals, inflow_cents = _group_inflows(graph=graph, inflows=inflows)
    plan = _plan(graph=graph, exact_block_limit=exact_block_limit)
    if not currencies:
        return Distribution(currencies={}, iterations=0, lagged_edges=plan.lagged_edges)
    tolerance = np.clip(
        relative_tolerance * np.asarray(totals, dtype=np.float64),
        DEFAULT_ABSOLUTE_TOLERANCE,
        MAX_TOLERANCE,
    )
    eps = float(np.finfo(WIDE).eps)
    order = plan.order
    q_transposed = plan.q.T
    b = inflow_cents.astype(WIDE)
    x = np.zeros_like(b)
    residual = b
    reducible = np.abs(residual).sum(axis=0).astype(np.float64)
    rounding = np.zeros_like(reducible)
    iterations = 0
    refinements = 0
    # Mixed-precision iterative refinement: corrections are solved in float64, the pass-through
    # and the residual are kept in WIDE precision, so cycles that leak little (whose
    # pass-through is many times the inflow) still get a residual far below a cent. Normally
    # one pass (a solve, plus the subsystem iteration) and one residual check suffice. Stop
    # when the residual is within tolerance or down to its own rounding noise.
    while np.any(reducible > np.maximum(tolerance, rounding)):
        if refinements == MAX_REFINEMENTS or iterations >= max_iterations:
            raise ConvergenceError(
                f"after {iterations} steps up to {(reducible + rounding).tolist()} cents are not "
                f"placed (tolerance {tolerance.tolist()}); {plan.lagged_edges} lagged edges of "
                f"large cycles converge too slowly. {_largest_pass_through(graph, x, totals)}"
            )
        correction, steps = _apply_inverse(
            plan=plan,
            rhs=residual[order].astype(np.float64),
            tolerance=tolerance / 4,
            max_steps=max_iterations - iterations,
        )
        x[order] += correction
        iterations += steps
        refinements += 1
        residual = b - x + q_transposed @ x
        reducible = np.abs(residual).sum(axis=0).astype(np.float64)
        # |computed - true residual| <= eps * (in-degree + 4) * (b + x + Q^T x) per node:
        # sequential sums of k terms err by at most k * eps of the absolute terms, and the WIDE
        # fractions themselves by eps / 2. So the bound is rigorous, not an estimate.
        rounding = eps * (plan.node_weight @ (b + 2 * np.abs(x))).astype(np.float64)
    unplaced = reducible + rounding

    flows = plan.r.T @ x
    flows[graph.reserve_terminals] += plan.reserve_fraction[:, None] * x
    results = {}
    for column, currency in enumerate(currencies):
        values = flows[:, column]
        # The amounts themselves are sums of up to in-degree + 1 terms, each fraction rounded.
        bound = float(unplaced[column]) + eps * float(
            (plan.terminal_weight * values).max(initial=0)
        )
        if bound > MAX_ERROR_BOUND:
            raise ConvergenceError(
                f"cannot place every cent: {currency} amounts are uncertain by up to {bound} "
                f"cents, more than {MAX_ERROR_BOUND}, because the pass-through is too large for "
                f"the precision (cycles that leak too little). "
                f"{_largest_pass_through(graph, x, totals)}"
            )
        if abs(float(values.sum()) - totals[column]) > bound + 1e-11 * totals[column] + 1e-6:
            raise RoundingError(
                f"{currency}: amounts sum to {float(values.sum())!r}, not {totals[column]}"
            )
        # Fractional parts closer than the error bound cannot be told apart, so the tie rule
        # decides between them.
        amounts = round_largest_remainder(
            values=values, total=totals[column], tolerance=bound + 1e-12
        )
        results[currency] = CurrencyResult(
            currency=currency,
            total_cents=totals[column],
            amounts=amounts,
            kept=amounts[graph.reserve_terminals],
            pass_through=np.rint(np.minimum(x[:, column] * plan.revisits, PASS_THROUGH_CAP)).astype(
                np.int64
            ),
            inflow=inflow_cents[:, column].copy(),
            error_bound_cents=bound,
        )
    return Distribution(currencies=results, iterations=iterations, lagged_edges=plan.lagged_edges)
