"""Synthetic share-table graphs for the distribution benchmark (pure numpy, no Django).

Shape, chosen to look like a package ecosystem funded by companies:

* Projects have a popularity rank (0 = most depended upon). A dependency entry of the project
  at rank i names a rank drawn log-uniformly from ``[0, i)``: Zipf-like popularity (a few
  projects are named by a large share of all tables), and dependencies point mostly towards
  more popular projects, as real ones do.
* Cycles: a share ``cycle_rate`` of the dependency entries name one of the owner's own
  dependents instead (mutual dependencies, plugin <-> host). Chained, they make cycles of every
  length: at 1,000,000 projects, 0.2% gives ~5,000 small cycles (largest ~20 nodes) and the
  default 2% gives ~35,000 small ones plus one strongly connected component of ~42,000 nodes.
* People: the other entries name people, most of them specific to a project and some (Zipf)
  active in many.
* Reserves: every project keeps between 1% and 20%, so no set of projects is closed. Companies
  give their whole table to projects (no reserve, never part of a cycle).
* Entry counts per table are skewed (log-normal), totals exactly ``entries``; millibips are
  random weights that add up exactly to each table's assigned part.

Node and people indices are shuffled so that index order says nothing about the flow, as with
database ids. Terminals: people ``0..people-1``, then each node's reserve ``people + node``.
Run ``python -m payouts.distribution.bench_graph`` for the benchmark figures (build, compute,
peak memory).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from numpy.typing import NDArray

from faiross.kernel.shares import FULL_SHARE, MILLIBIPS_PER_PERCENT
from payouts.distribution.graph import FlowGraph, Inflow
from payouts.distribution.solve import compute_distribution

RESERVE_MIN = 1 * MILLIBIPS_PER_PERCENT
RESERVE_MAX = 20 * MILLIBIPS_PER_PERCENT


def _log_uniform_below(*, rng: np.random.Generator, bounds: NDArray[np.int64]) -> NDArray[np.int64]:
    """One draw per bound of ``floor((bound + 1) ** u) - 1``, in ``[0, bound)``: P(k) ~ 1/(k+1)."""
    u = rng.random(bounds.size)
    draws = np.floor(np.exp(u * np.log1p(bounds.astype(np.float64)))).astype(np.int64) - 1
    return np.clip(draws, 0, np.maximum(bounds - 1, 0))


def _split_millibips(
    *, rng: np.random.Generator, owners: NDArray[np.int64], budget: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Random positive millibips per entry adding up exactly to ``budget[owner]`` per owner.

    Preconditions: ``owners`` sorted; each owner's budget at least its number of entries.
    """
    n_entries = owners.size
    counts = np.bincount(owners, minlength=budget.size)
    weights = rng.exponential(size=n_entries)
    weight_sum = np.bincount(owners, weights=weights, minlength=budget.size)
    spare = budget - counts  # every entry gets 1 millibip first, so none is 0
    values = 1 + np.floor(weights / weight_sum[owners] * spare[owners]).astype(np.int64)
    short = budget - np.bincount(owners, weights=values, minlength=budget.size).astype(np.int64)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has_entries = counts > 0
    values[first[has_entries]] += short[has_entries]
    return values


def build_synthetic_graph(
    *,
    projects: int,
    entries: int,
    people: int,
    companies: int,
    seed: int,
    cycle_rate: float = 0.02,
    person_share: float = 0.4,
) -> FlowGraph:
    """A random :class:`FlowGraph` with ``companies + projects`` nodes and ``entries`` entries.

    Preconditions: ``projects >= 2``, ``people >= 1``, ``companies >= 0``,
    ``entries >= projects + companies`` (every table gets an entry). Invariants: no closed set
    (every project keeps >= 1%); exactly ``entries`` entries with no duplicate recipient in a
    table; nodes ``0..companies-1`` are the companies, the projects follow in shuffled
    popularity order; the same seed gives the same graph.
    Labels are not generated (``node_ids`` / ``terminal_ids`` are None) to save memory.
    """
    if projects < 2 or people < 1 or companies < 0 or entries < projects + companies:
        raise ValueError("need projects >= 2, people >= 1, entries >= projects + companies")
    rng = np.random.default_rng(seed)
    n_nodes = companies + projects
    # Company tables are small next to project tables; they take ~2% of the entries.
    company_entries = min(entries - projects, max(companies, entries // 50)) if companies else 0
    project_entries = entries - company_entries

    def spread(count: int, owners: int, sigma: float) -> NDArray[np.int64]:
        if owners == 0:
            return np.zeros(0, dtype=np.int64)
        weights = rng.lognormal(sigma=sigma, size=owners)
        return 1 + rng.multinomial(count - owners, weights / weights.sum())

    project_counts = spread(project_entries, projects, 1.0)
    company_counts = spread(company_entries, companies, 0.8)

    # Project rank r is node companies + shuffle[r]; people indices are shuffled too.
    project_node = companies + rng.permutation(projects).astype(np.int64)
    person_id = rng.permutation(people).astype(np.int64)

    owner_rank = np.repeat(np.arange(projects, dtype=np.int64), project_counts)
    is_person = (rng.random(owner_rank.size) < person_share) | (owner_rank == 0)
    dep_rank = _log_uniform_below(rng=rng, bounds=owner_rank)
    # Mutual dependencies: a share of entries name one of the owner's own dependents (a
    # project whose table names the owner), which closes a cycle; chained, these make cycles of
    # every length. Owners that nobody depends on name a slightly less popular project instead.
    back = ~is_person & (rng.random(owner_rank.size) < cycle_rate)
    forward = np.flatnonzero(~is_person & ~back)
    by_target = forward[np.argsort(dep_rank[forward], kind="stable")]
    first_in = np.searchsorted(dep_rank[by_target], np.arange(projects + 1))
    back_owner = owner_rank[back]
    in_count = first_in[back_owner + 1] - first_in[back_owner]
    pick = first_in[back_owner] + np.floor(rng.random(back_owner.size) * in_count).astype(np.int64)
    near = np.minimum(projects - 1, back_owner + rng.geometric(1e-3, size=back_owner.size))
    dep_rank[back] = np.where(
        in_count > 0, owner_rank[by_target[np.minimum(pick, by_target.size - 1)]], near
    )
    person = np.where(
        rng.random(owner_rank.size) < 0.8,
        rng.integers(0, people, owner_rank.size),
        _log_uniform_below(rng=rng, bounds=np.full(owner_rank.size, people, dtype=np.int64)),
    )
    # Encode every recipient as one int64: nodes as themselves, people after the nodes.
    project_recipient = np.where(is_person, n_nodes + person_id[person], project_node[dep_rank])
    project_owner = project_node[owner_rank]

    company_owner = np.repeat(np.arange(companies, dtype=np.int64), company_counts)
    company_recipient = project_node[
        _log_uniform_below(rng=rng, bounds=np.full(company_owner.size, projects, dtype=np.int64))
    ]
    owner = np.concatenate((company_owner, project_owner))
    recipient = np.concatenate((company_recipient, project_recipient))

    # No table names a recipient twice: replace duplicates (and self entries) by fresh random
    # people until none is left; the entry count and each table's size stay the same.
    while True:
        key = owner * (n_nodes + people) + recipient
        order = np.argsort(key, kind="stable")
        key, owner, recipient = key[order], owner[order], recipient[order]
        duplicate = np.zeros(key.size, dtype=bool)
        duplicate[1:] = key[1:] == key[:-1]
        duplicate |= owner == recipient
        if not duplicate.any():
            break
        recipient[duplicate] = n_nodes + rng.integers(0, people, int(duplicate.sum()))

    reserve = np.zeros(n_nodes, dtype=np.int64)
    reserve[companies:] = rng.integers(RESERVE_MIN, RESERVE_MAX + 1, projects)
    values = _split_millibips(rng=rng, owners=owner, budget=FULL_SHARE - reserve)

    to_node = recipient < n_nodes
    return FlowGraph.from_entries(
        n_nodes=n_nodes,
        n_terminals=people + n_nodes,
        owners=owner,
        targets=np.where(to_node, recipient, recipient - n_nodes),
        millibips=values,
        to_node=to_node,
        reserve_terminals=people + np.arange(n_nodes),
    )


def build_synthetic_inflows(
    *,
    companies: int,
    inflows: int,
    seed: int,
    currencies: tuple[str, ...] = ("usd", "eur"),
) -> list[Inflow]:
    """``inflows`` random inflows into the company nodes ``0..companies-1``: skewed amounts
    (log-normal around $1,000, at most $10M each), 80% in the first currency."""
    if companies < 1:
        raise ValueError("need at least one company")
    rng = np.random.default_rng(seed)
    nodes = _log_uniform_below(rng=rng, bounds=np.full(inflows, companies, dtype=np.int64))
    cents = np.minimum(rng.lognormal(mean=np.log(100_000), sigma=1.5, size=inflows), 1e9)
    which = np.where(rng.random(inflows) < 0.8, 0, rng.integers(0, len(currencies), inflows))
    return [
        Inflow(node=int(node), currency=currencies[int(c)], cents=int(amount))
        for node, c, amount in zip(nodes, which, cents.astype(np.int64), strict=True)
    ]


def inflow_totals(inflows: list[Inflow]) -> dict[str, int]:
    """What the inflows add up to, per currency: what a run must distribute exactly."""
    totals: dict[str, int] = {}
    for inflow in inflows:
        totals[inflow.currency] = totals.get(inflow.currency, 0) + inflow.cents
    return totals


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def add_size_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's sizes, the same for this module and ``manage.py bench_distribution``."""
    parser.add_argument("--projects", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--inflows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)


def main() -> None:
    """Build a graph, distribute, check exactness, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser)
    parser.add_argument("--cycle-rate", type=float, default=0.02)
    args = parser.parse_args()

    started, started_cpu = time.perf_counter(), time.process_time()
    graph = build_synthetic_graph(
        projects=args.projects,
        entries=args.entries,
        people=args.people,
        companies=args.companies,
        seed=args.seed,
        cycle_rate=args.cycle_rate,
    )
    inflows = build_synthetic_inflows(
        companies=args.companies, inflows=args.inflows, seed=args.seed + 1
    )
    built, built_cpu = time.perf_counter(), time.process_time()
    distribution = compute_distribution(graph=graph, inflows=inflows)
    computed, computed_cpu = time.perf_counter(), time.process_time()

    totals = inflow_totals(inflows)
    exact = all(
        int(result.amounts.sum()) == totals[currency]
        for currency, result in distribution.currencies.items()
    )
    bounds = {c: r.error_bound_cents for c, r in distribution.currencies.items()}
    print(
        f"projects={args.projects} entries={graph.node_targets.size + graph.terminal_targets.size}"
        f" people={args.people} companies={args.companies} inflows={len(inflows)}"
        f" build_s={built - started:.2f} (cpu {built_cpu - started_cpu:.2f})"
        f" compute_s={computed - built:.2f} (cpu {computed_cpu - built_cpu:.2f})"
        f" iterations={distribution.iterations} lagged_edges={distribution.lagged_edges}"
        f" error_bound_cents={bounds} peak_mb={peak_mb():.0f} exact={'yes' if exact else 'NO'}"
    )


if __name__ == "__main__":
    main()
