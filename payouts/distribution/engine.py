"""The distribution engine: split inflows down the share-table graph, exactly to the cent.

Pure Python + numpy/scipy; no Django, no database. The Django side loads the active table
versions into a :class:`FlowGraph`, calls :func:`compute_distribution`, and posts the integer
amounts it returns to the ledger.

Model
-----
Owner nodes (companies and projects, indices ``0..n_nodes-1``) have share tables. An entry gives
integer millibips (10,000,000 = 100%) either to another node (money passes on and keeps flowing
by that node's table) or to a terminal recipient (a person, an escrow identity, ...). What a
node's table does not assign is its reserve, paid to the node's own reserve terminal. So every
node splits 100% between nodes, terminals and its reserve: an absorbing Markov chain whose
transient states are the nodes and whose absorbing states are the terminals.

With ``Q[i, j]`` the fraction node i gives node j and ``R[i, t]`` the fraction it gives
terminal t (reserves included), money ``b`` entering at the nodes makes

* pass-through ``x = (I - Q^T)^-1 b``: what flows into each node, revisits through cycles
  counted each time, and
* terminal amounts ``f = R^T x``; ``sum(f) == sum(b)`` because no money is created or lost.

This is well defined exactly when no *closed* set of nodes exists (see :mod:`projects.cycles`);
the engine checks that first and raises :class:`ClosedCycleError` otherwise.

Numerics and the error bound
----------------------------
A self entry (a node naming itself) is eliminated exactly first: the node then splits what
arrives by its other entries scaled by ``10^7 / (10^7 - self share)``. The system is solved by a
preconditioned stationary iteration (mixed-precision iterative refinement):

* Strongly connected components (SCCs) are ordered topologically (money flows forward), so
  ``I - Q^T`` becomes block triangular. Every SCC of at most ``exact_block_limit`` nodes (in
  practice all but a giant one, and including slowly leaking cycles such as A->B 100%,
  B->A 99.9999%) is kept whole in the preconditioner ``M``; inside larger SCCs the edges that
  point backwards in the order are left out of ``M`` and lagged: block Gauss-Seidel, run only on
  the nodes those edges can reach.
* ``M`` is factorised once by SuperLU (float64) in the natural order with diagonal pivots. That is
  stable because ``I - Q^T`` is column diagonally dominant, and there is no fill-in outside the
  small SCCs.
* Each pass adds ``M^-1 r`` to ``x`` and recomputes the true residual ``r = b - (I - Q^T) x``.
  ``x``, ``r`` and the final amounts are kept in ``np.longdouble`` (80-bit, eps 1e-19, on x86-64
  Linux; on platforms where it is plain float64 the bound below is simply larger). Without a
  large SCC one pass is a direct solve; a second is rarely needed.

The residual is the money not yet placed: the exact answer is ``x + (I - Q^T)^-1 r``, and the
chain takes any money at the nodes to the same total at the terminals, so every terminal's
float amount is within ``||r||_1`` of the exact rational amount. The engine adds a rigorous
bound on the rounding error of computing ``r`` itself (``eps * (in-degree + 4)`` times the
magnitudes summed at each node) and on the final sums, and returns the total as
``CurrencyResult.error_bound_cents``. It iterates until ``||r||_1`` is within
``clip(1e-14 * total, 1e-6, 1e-3)`` cents or down to its own rounding noise, never more than
``max_iterations`` steps, and raises :class:`ConvergenceError` rather than hang or round blind
if the bound ends above ``MAX_ERROR_BOUND`` (0.01 cent). That happens only when cycles leak so
little that money goes round them ~10^5+ times and the pass-through (total x visits) exceeds
~10^16 cents; the error names the most visited nodes.

Rounding
--------
Amounts are rounded with the largest-remainder rule of :func:`faiross.kernel.allocation.allocate`
(:func:`round_largest_remainder`, its vectorised twin): floor every amount, then give the
missing cents, one each, to the largest fractional parts, ties to the lower terminal index
(``FlowGraph.from_tables`` numbers terminals in id order, so ties go to the smaller id). The
parts add up exactly to the currency's inflow. With error bound ``e``, an amount within ``e`` of
an integer counts as that integer (41.99999999999 is 42, not "41 plus a rounding cent"), and
fractional parts within ``e`` of the cut count as tied with it, so exact rational ties are
still broken by index. Hence each recipient ends within ``1 + e`` cents of the exact rational
amount (within 1 cent unless an integer lies within ``e`` of it), and gets the same cents as
``allocate`` on the exact amounts unless two fractional parts at the cut differ by less than
``e`` (with ``e`` ~1e-6 cents, practically never).

Determinism
-----------
All sums run in a fixed order (scipy's sequential sparse kernels, numpy's pairwise sums,
SuperLU), so the same inputs give bit-identical outputs on the same build; a test checks this
across processes and BLAS thread counts. Another CPU or library build could differ in the last
bits, which can move a cent only between amounts tied within the error bound.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.linalg import splu

from faiross.kernel.shares import FULL_SHARE
from projects.cycles import (
    ClosedCycleError,
    closed_component_nodes,
    edge_ranges,
    row_sums,
    strong_components,
)

__all__ = [
    "ClosedCycleError",
    "ConvergenceError",
    "CurrencyResult",
    "Distribution",
    "FlowGraph",
    "Inflow",
    "PathShare",
    "RoundingError",
    "compute_distribution",
    "explain_paths",
    "round_largest_remainder",
]

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


def _as_int_array(value: object, dtype: type[np.integer], name: str) -> NDArray[np.integer]:
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, not {array.dtype}")
    limits = np.iinfo(dtype)
    # Check before narrowing, so that an out-of-range value cannot wrap into a valid one.
    if array.size and (array.min() < limits.min or array.max() > limits.max):
        raise ValueError(f"{name} must fit in {np.dtype(dtype).name}")
    return array.astype(dtype, copy=False)


@dataclass(frozen=True, eq=False)
class FlowGraph:
    """The share-table graph in CSR form, one row per owner node.

    Fields (all integer numpy arrays; do not mutate them after construction):

    * ``node_indptr`` (``n_nodes + 1``, int64), ``node_targets`` (int32 node indices),
      ``node_millibips`` (int32): each node's entries to other nodes. Self entries are allowed
      (the money comes back and is split again by the same table).
    * ``terminal_indptr`` (``n_nodes + 1``, int64), ``terminal_targets`` (int32 terminal
      indices), ``terminal_millibips`` (int32): each node's entries to terminal recipients.
    * ``reserve_terminals`` (``n_nodes``, int32): the terminal that receives node i's reserve,
      ``10_000_000 - (node entries + terminal entries)``. Distinct per node.
    * ``n_terminals``: terminals are ``0..n_terminals-1``. Terminal index order is the rounding
      tie order (lower index wins a tie).
    * ``node_ids`` / ``terminal_ids``: optional labels (``"project:numpy"``, ``"user:alice"``).

    Invariants (checked on construction, ValueError otherwise): millibips in
    ``[0, 10_000_000]``; each node's entries sum to at most 10,000,000; indices in range;
    reserve terminals distinct. Duplicate entries are allowed and add up.
    """

    node_indptr: NDArray[np.int64]
    node_targets: NDArray[np.int32]
    node_millibips: NDArray[np.int32]
    terminal_indptr: NDArray[np.int64]
    terminal_targets: NDArray[np.int32]
    terminal_millibips: NDArray[np.int32]
    reserve_terminals: NDArray[np.int32]
    n_terminals: int
    node_ids: tuple[str, ...] | None = None
    terminal_ids: tuple[str, ...] | None = None
    reserve_millibips: NDArray[np.int64] = field(init=False, repr=False)

    if TYPE_CHECKING:
        # The generated __init__ takes any integer arrays: __post_init__ checks them and
        # converts each to the dtype of its field above. Spelled out for the type checker only.
        def __init__(
            self,
            node_indptr: ArrayLike,
            node_targets: ArrayLike,
            node_millibips: ArrayLike,
            terminal_indptr: ArrayLike,
            terminal_targets: ArrayLike,
            terminal_millibips: ArrayLike,
            reserve_terminals: ArrayLike,
            n_terminals: int,
            node_ids: tuple[str, ...] | None = None,
            terminal_ids: tuple[str, ...] | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "node_indptr", _as_int_array(self.node_indptr, np.int64, "node_indptr"))
        set_(
            self,
            "terminal_indptr",
            _as_int_array(self.terminal_indptr, np.int64, "terminal_indptr"),
        )
        for name in ("node_targets", "node_millibips", "terminal_targets", "terminal_millibips"):
            set_(self, name, _as_int_array(getattr(self, name), np.int32, name))
        set_(
            self,
            "reserve_terminals",
            _as_int_array(self.reserve_terminals, np.int32, "reserve_terminals"),
        )
        n = self.node_indptr.size - 1
        if n < 0:
            raise ValueError("node_indptr must have n_nodes + 1 entries")
        if isinstance(self.n_terminals, bool) or not isinstance(self.n_terminals, int | np.integer):
            raise TypeError("n_terminals must be an int")
        set_(self, "n_terminals", int(self.n_terminals))
        for kind, indptr, targets, values, bound in (
            ("node", self.node_indptr, self.node_targets, self.node_millibips, n),
            (
                "terminal",
                self.terminal_indptr,
                self.terminal_targets,
                self.terminal_millibips,
                self.n_terminals,
            ),
        ):
            if indptr.size != n + 1 or indptr[0] != 0 or indptr[-1] != targets.size:
                raise ValueError(f"{kind}_indptr must run from 0 to len({kind}_targets)")
            if np.any(np.diff(indptr) < 0):
                raise ValueError(f"{kind}_indptr must not decrease")
            if values.size != targets.size:
                raise ValueError(f"{kind}_millibips must match {kind}_targets in length")
            if targets.size and (targets.min() < 0 or targets.max() >= bound):
                raise ValueError(f"{kind}_targets must be in [0, {bound})")
            if values.size and (values.min() < 0 or values.max() > FULL_SHARE):
                raise ValueError(f"{kind}_millibips must be in [0, {FULL_SHARE}]")
        if self.reserve_terminals.size != n:
            raise ValueError("reserve_terminals must have one entry per node")
        if n and (
            self.reserve_terminals.min() < 0 or self.reserve_terminals.max() >= self.n_terminals
        ):
            raise ValueError(f"reserve_terminals must be in [0, {self.n_terminals})")
        if np.unique(self.reserve_terminals).size != n:
            raise ValueError("reserve_terminals must be distinct")
        assigned = row_sums(indptr=self.node_indptr, values=self.node_millibips) + row_sums(
            indptr=self.terminal_indptr, values=self.terminal_millibips
        )
        if n and assigned.max() > FULL_SHARE:
            bad = int(np.argmax(assigned))
            raise ValueError(
                f"node {self._label(bad)} assigns {int(assigned[bad])} > {FULL_SHARE} millibips"
            )
        set_(self, "reserve_millibips", FULL_SHARE - assigned)
        if self.node_ids is not None and len(self.node_ids) != n:
            raise ValueError("node_ids must have one id per node")
        if self.terminal_ids is not None and len(self.terminal_ids) != self.n_terminals:
            raise ValueError("terminal_ids must have one id per terminal")

    @property
    def n_nodes(self) -> int:
        return int(self.node_indptr.size - 1)

    def _label(self, node: int) -> str:
        return self.node_ids[node] if self.node_ids is not None else str(node)

    @cached_property
    def _node_index(self) -> dict[str, int]:
        if self.node_ids is None:
            raise LookupError("this graph has no node ids")
        return {node_id: i for i, node_id in enumerate(self.node_ids)}

    @cached_property
    def _terminal_index(self) -> dict[str, int]:
        if self.terminal_ids is None:
            raise LookupError("this graph has no terminal ids")
        return {terminal_id: i for i, terminal_id in enumerate(self.terminal_ids)}

    @cached_property
    def _predecessors(self) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        """Reversed positive node edges as CSR (indptr, sources), built on first use."""
        positive = self.node_millibips > 0
        sources = np.repeat(np.arange(self.n_nodes, dtype=np.int32), np.diff(self.node_indptr))
        targets = self.node_targets[positive]
        order = np.argsort(targets, kind="stable")
        indptr = np.searchsorted(targets[order], np.arange(self.n_nodes + 1)).astype(np.int64)
        return indptr, sources[positive][order]

    def node_index(self, node_id: str) -> int:
        """Index of a node id (KeyError when it is not an owner node of this graph)."""
        return self._node_index[node_id]

    def terminal_index(self, terminal_id: str) -> int:
        """Index of a terminal id (KeyError when no entry or reserve pays it)."""
        return self._terminal_index[terminal_id]

    @classmethod
    def from_entries(
        cls,
        *,
        n_nodes: int,
        n_terminals: int,
        owners: NDArray[np.integer],
        targets: NDArray[np.integer],
        millibips: NDArray[np.integer],
        to_node: NDArray[np.bool_],
        reserve_terminals: NDArray[np.integer],
        node_ids: Sequence[str] | None = None,
        terminal_ids: Sequence[str] | None = None,
    ) -> FlowGraph:
        """Build a graph from flat arrays, one element per table entry (e.g. a database query).

        Entry e gives ``millibips[e]`` of owner node ``owners[e]`` to node ``targets[e]`` when
        ``to_node[e]``, else to terminal ``targets[e]``. Entries are put in canonical (owner,
        target) order first, so the result, down to the last float bit, does not depend on
        the order the rows came in. Index orders are the caller's: node and terminal ids are
        labels only, and terminal index order is the rounding tie order (number terminals in
        sorted id order to break ties by id, as :meth:`from_tables` does). Vectorised; about
        two seconds for 10^7 entries.
        """
        owners = _as_int_array(owners, np.int64, "owners")
        targets = _as_int_array(targets, np.int64, "targets")
        millibips = _as_int_array(millibips, np.int64, "millibips")
        to_node = np.asarray(to_node, dtype=bool)
        if not owners.size == targets.size == millibips.size == to_node.size:
            raise ValueError("owners, targets, millibips and to_node must have the same length")
        if owners.size and (owners.min() < 0 or owners.max() >= n_nodes):
            raise ValueError(f"owners must be in [0, {n_nodes})")
        span = max(n_nodes, n_terminals, 1)
        if n_nodes * 2 * span < 2**62:
            # One int64 key (owner, terminals after nodes, target) sorts faster than lexsort,
            # and rows that already come in that order (ORDER BY in SQL) need no sort at all.
            key = (owners * 2 + ~to_node) * span + targets
            order = None if np.all(key[1:] >= key[:-1]) else np.argsort(key, kind="stable")
        else:
            order = np.lexsort((targets, ~to_node, owners))
        if order is not None:
            owners, targets, millibips, to_node = (
                owners[order],
                targets[order],
                millibips[order],
                to_node[order],
            )
        node_indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(owners[to_node], minlength=n_nodes), out=node_indptr[1:])
        terminal_indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(owners[~to_node], minlength=n_nodes), out=terminal_indptr[1:])
        return cls(
            node_indptr=node_indptr,
            node_targets=targets[to_node],
            node_millibips=millibips[to_node],
            terminal_indptr=terminal_indptr,
            terminal_targets=targets[~to_node],
            terminal_millibips=millibips[~to_node],
            reserve_terminals=reserve_terminals,
            n_terminals=n_terminals,
            node_ids=None if node_ids is None else tuple(node_ids),
            terminal_ids=None if terminal_ids is None else tuple(terminal_ids),
        )

    @classmethod
    def from_tables(cls, *, tables: Mapping[str, Mapping[str, int]]) -> FlowGraph:
        """Build a graph from ``{owner id: {recipient id: millibips}}``.

        Every key is an owner node. A recipient that is also a key is a node entry; any other
        recipient is a terminal. Each owner's reserve goes to a terminal whose id is the owner's
        own id (node ids never appear as other terminals, so that is unambiguous: an unclaimed
        purl keeps its money in escrow under its own id whether or not it has a table).

        Node indices follow sorted owner ids and terminal indices sorted terminal ids, so the
        graph, and the rounding tie order, do not depend on dict order. Preconditions: ints in
        ``[0, 10_000_000]``, each owner's entries summing to at most 10,000,000 (else ValueError).
        """
        node_ids = sorted(tables)
        node_index = {node_id: i for i, node_id in enumerate(node_ids)}
        terminal_set: set[str] = set(node_ids)
        for owner, entries in tables.items():
            for recipient, value in entries.items():
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"{owner} -> {recipient}: millibips must be an int")
                if recipient not in node_index:
                    terminal_set.add(recipient)
        terminal_ids = sorted(terminal_set)
        terminal_index = {terminal_id: i for i, terminal_id in enumerate(terminal_ids)}
        node_indptr, node_targets, node_values = [0], [], []
        terminal_indptr, terminal_targets, terminal_values = [0], [], []
        for owner in node_ids:
            for recipient, value in sorted(tables[owner].items()):
                if recipient in node_index:
                    node_targets.append(node_index[recipient])
                    node_values.append(value)
                else:
                    terminal_targets.append(terminal_index[recipient])
                    terminal_values.append(value)
            node_indptr.append(len(node_targets))
            terminal_indptr.append(len(terminal_targets))
        return cls(
            node_indptr=np.asarray(node_indptr, dtype=np.int64),
            node_targets=np.asarray(node_targets, dtype=np.int64),
            node_millibips=np.asarray(node_values, dtype=np.int64),
            terminal_indptr=np.asarray(terminal_indptr, dtype=np.int64),
            terminal_targets=np.asarray(terminal_targets, dtype=np.int64),
            terminal_millibips=np.asarray(terminal_values, dtype=np.int64),
            reserve_terminals=np.asarray([terminal_index[o] for o in node_ids], dtype=np.int64),
            n_terminals=len(terminal_ids),
            node_ids=tuple(node_ids),
            terminal_ids=tuple(terminal_ids),
        )


@dataclass(frozen=True)
class Inflow:
    """Money received for a node: ``cents`` (int >= 0) of ``currency`` entering at ``node``."""

    node: int
    currency: str
    cents: int


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
      rational one before rounding (solver residual, see the module doc).
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


def _reachable(
    *, indptr: NDArray[np.int64], targets: NDArray[np.int32], starts: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Nodes reachable from ``starts`` (included) along the CSR edges: breadth first, one
    vectorised step per level."""
    seen = np.zeros(indptr.size - 1, dtype=bool)
    frontier = np.unique(starts)
    seen[frontier] = True
    while frontier.size:
        edges = edge_ranges(
            starts=indptr[frontier], lengths=indptr[frontier + 1] - indptr[frontier]
        )
        reached = targets[edges]
        frontier = np.unique(reached[~seen[reached]])
        seen[frontier] = True
    return seen


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
    count, labels = strong_components(
        n_nodes=n, indptr=indptr, targets=targets, millibips=millibips
    )
    closed = closed_component_nodes(
        n_nodes=n,
        indptr=indptr,
        targets=targets,
        millibips=millibips,
        n_components=count,
        labels=labels,
    )
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
    the same inputs give bit-identical outputs. See the module doc for the method and the bound.
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


@dataclass(frozen=True)
class PathShare:
    """One route money takes from a node to a terminal: ``nodes`` visited in order (starting at
    the source node), the ``terminal`` it ends at, and the exact ``share`` of the money entering
    the source that takes this route (product of the entries' fractions)."""

    nodes: tuple[int, ...]
    terminal: int
    share: Fraction

    def cents(self, inflow_cents: int) -> Fraction:
        """The exact (unrounded) amount of ``inflow_cents`` that takes this route."""
        return self.share * inflow_cents


def explain_paths(
    *,
    graph: FlowGraph,
    source: int,
    terminal: int,
    top_k: int = 5,
    max_expansions: int = 100_000,
) -> list[PathShare]:
    """The ``top_k`` routes carrying the most money from node ``source`` to ``terminal``.

    Best-first search over walks by share (shares only shrink along a walk, so routes come out
    in decreasing share order). Walks may revisit nodes: money going round a cycle is a real
    route. At most ``max_expansions`` walks are expanded, so the answer may stop short of
    ``top_k`` on huge graphs; ties are broken by the node sequence, so it is deterministic.
    The shares of all routes add up to the exact fraction the terminal gets from the source.
    Walks only enter nodes that can still reach the terminal (a reverse search; the reversed
    edges are built once per graph, about a second at 10^7 entries).
    """
    if not 0 <= source < graph.n_nodes:
        raise ValueError(f"source {source} is not a node index")
    if not 0 <= terminal < graph.n_terminals:
        raise ValueError(f"terminal {terminal} is not a terminal index")
    reserve_owner = np.flatnonzero(graph.reserve_terminals == terminal)
    owner_of_reserve = int(reserve_owner[0]) if reserve_owner.size else -1
    # Only walk through nodes from which the terminal can be reached at all.
    payers = np.repeat(np.arange(graph.n_nodes), np.diff(graph.terminal_indptr))[
        (graph.terminal_targets == terminal) & (graph.terminal_millibips > 0)
    ]
    if owner_of_reserve >= 0 and graph.reserve_millibips[owner_of_reserve] > 0:
        payers = np.append(payers, owner_of_reserve)
    indptr, predecessors = graph._predecessors
    useful = _reachable(indptr=indptr, targets=predecessors, starts=payers.astype(np.int64))
    if not useful[source]:
        return []
    found: list[PathShare] = []
    heap: list[tuple[Fraction, tuple[int, ...]]] = [(Fraction(-1), (source,))]
    expansions = 0
    while heap and len(found) < top_k and expansions < max_expansions:
        negative_share, nodes = heapq.heappop(heap)
        share = -negative_share
        if nodes[-1] < 0:
            found.append(PathShare(nodes=nodes[:-1], terminal=terminal, share=share))
            continue
        expansions += 1
        node = nodes[-1]
        direct = 0
        start, end = graph.terminal_indptr[node], graph.terminal_indptr[node + 1]
        for t, value in zip(
            graph.terminal_targets[start:end].tolist(),
            graph.terminal_millibips[start:end].tolist(),
            strict=True,
        ):
            if t == terminal:
                direct += value
        if node == owner_of_reserve:
            direct += int(graph.reserve_millibips[node])
        if direct:
            # A sentinel -1 marks a finished route, so it sorts among the open walks by share.
            heapq.heappush(heap, (-share * Fraction(direct, FULL_SHARE), (*nodes, -1)))
        start, end = graph.node_indptr[node], graph.node_indptr[node + 1]
        for target, value in zip(
            graph.node_targets[start:end].tolist(),
            graph.node_millibips[start:end].tolist(),
            strict=True,
        ):
            if value and useful[target]:
                heapq.heappush(heap, (-share * Fraction(value, FULL_SHARE), (*nodes, target)))
    return found
