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

Modules
-------
:mod:`~payouts.distribution.graph` (the graph and its checks), :mod:`~payouts.distribution.solve`
(solving and rounding), :mod:`~payouts.distribution.paths` (explaining routes). Their public
names are imported from here.
"""

from __future__ import annotations

from projects.cycles import ClosedCycleError

from .graph import FlowGraph, Inflow
from .paths import PathShare, explain_paths
from .solve import (
    ConvergenceError,
    CurrencyResult,
    Distribution,
    RoundingError,
    compute_distribution,
    round_largest_remainder,
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
