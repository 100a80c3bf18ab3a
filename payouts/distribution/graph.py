"""The share-table graph the engine works on (:class:`FlowGraph`, CSR arrays with checked
invariants), the money entering it (:class:`Inflow`), and reachability along its edges.

Part of the distribution engine; see :mod:`payouts.distribution.engine` for the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from faiross.kernel.shares import FULL_SHARE
from projects.cycles import edge_ranges, row_sums


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
