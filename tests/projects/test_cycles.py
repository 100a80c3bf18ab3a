"""Closed-cycle detection: hand-made cases, a property test against a plain-Python reference,
and the array API at a size where speed matters. No Django needed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faiross.kernel.shares import FULL_SHARE
from projects.cycles import ClosedCycleError, find_closed_cycle, find_closed_set


def trapped_nodes(edges: dict[str, dict[str, int]]) -> set[str]:
    """Reference: the nodes from which money can never reach a terminal.

    A node leaks when its node-to-node entries sum to less than 100%; money from a node reaches
    a terminal iff some leaking node is reachable from it along positive entries. Plain breadth
    first search backwards from the leaking nodes, independent of the code under test.
    """
    nodes = set(edges) | {t for entries in edges.values() for t in entries}
    predecessors: dict[str, set[str]] = {node: set() for node in nodes}
    for owner, entries in edges.items():
        for target, value in entries.items():
            if value > 0:
                predecessors[target].add(owner)
    leaking = [n for n in nodes if sum(edges.get(n, {}).values()) < FULL_SHARE]
    reaches_leak = set(leaking)
    stack = list(leaking)
    while stack:
        node = stack.pop()
        for p in predecessors[node]:
            if p not in reaches_leak:
                reaches_leak.add(p)
                stack.append(p)
    return nodes - reaches_leak


def is_closed(edges: dict[str, dict[str, int]], members: list[str]) -> bool:
    inside = set(members)
    for node in members:
        entries = edges.get(node, {})
        if sum(entries.values()) != FULL_SHARE:
            return False
        if any(v > 0 and t not in inside for t, v in entries.items()):
            return False
    return True


def test_no_edges_and_leaking_cycles_are_fine():
    assert find_closed_cycle(edges={}) is None
    assert find_closed_cycle(edges={"a": {}}) is None
    assert find_closed_cycle(edges={"a": {"b": FULL_SHARE}, "b": {"a": FULL_SHARE - 1}}) is None
    # b sends everything to c, which has no node entries at all: c leaks (people, reserve).
    assert find_closed_cycle(edges={"a": {"b": FULL_SHARE}, "b": {"c": FULL_SHARE}}) is None


def test_two_node_closed_cycle():
    edges = {"project:b": {"project:a": FULL_SHARE}, "project:a": {"project:b": FULL_SHARE}}
    assert find_closed_cycle(edges=edges) == ["project:a", "project:b"]


def test_closed_cycle_split_over_members():
    edges = {
        "a": {"b": 4_000_000, "c": 6_000_000},
        "b": {"c": FULL_SHARE},
        "c": {"a": 5_000_000, "b": 5_000_000},
    }
    assert find_closed_cycle(edges=edges) == ["a", "b", "c"]


def test_self_entry_of_100_percent_is_closed():
    assert find_closed_cycle(edges={"a": {"a": FULL_SHARE}}) == ["a"]
    assert find_closed_cycle(edges={"a": {"a": FULL_SHARE - 1}}) is None


def test_feeder_is_not_part_of_the_closed_set():
    # x feeds the closed pair; x itself is trapped (all its money ends in the pair) but the
    # minimal closed set, the one to name, is the pair.
    edges = {"x": {"p": FULL_SHARE}, "p": {"q": FULL_SHARE}, "q": {"p": FULL_SHARE}}
    assert find_closed_cycle(edges=edges) == ["p", "q"]


def test_zero_entries_do_not_count_as_edges():
    # The 0-millibip entry to "out" carries no money, so {a, b} is still closed.
    edges = {"a": {"b": FULL_SHARE, "out": 0}, "b": {"a": FULL_SHARE}}
    assert find_closed_cycle(edges=edges) == ["a", "b"]


def test_several_closed_sets_give_the_one_with_the_smallest_id():
    edges = {
        "m": {"n": FULL_SHARE},
        "n": {"m": FULL_SHARE},
        "c": {"d": FULL_SHARE},
        "d": {"c": FULL_SHARE},
    }
    assert find_closed_cycle(edges=edges) == ["c", "d"]
    assert find_closed_cycle(edges=dict(reversed(list(edges.items())))) == ["c", "d"]


def test_leak_downstream_keeps_the_cycle_open():
    # a <-> b pass 100% to each other's set, but b also gives to c which leaks.
    edges = {"a": {"b": FULL_SHARE}, "b": {"a": 9_000_000, "c": 1_000_000}, "c": {"a": 5_000_000}}
    assert find_closed_cycle(edges=edges) is None


@pytest.mark.parametrize(
    ("edges", "error"),
    [
        ({"a": {"b": FULL_SHARE + 1}}, ValueError),
        ({"a": {"b": -1}}, ValueError),
        ({"a": {"b": 6_000_000, "c": 5_000_000}}, ValueError),
        ({"a": {"b": 1.5}}, TypeError),
        ({"a": {"b": True}}, TypeError),
    ],
)
def test_bad_input_is_refused(edges, error):
    with pytest.raises(error):
        find_closed_cycle(edges=edges)


def test_error_message_names_the_nodes():
    error = ClosedCycleError(nodes=["project:a", "project:b"])
    assert "project:a, project:b" in str(error)
    assert error.nodes == ["project:a", "project:b"]


NAMES = [f"p{i}" for i in range(8)]
VALUES = st.sampled_from([0, 1, 2_500_000, 3_333_333, 5_000_000, 9_999_999, FULL_SHARE])


@st.composite
def node_graphs(draw):
    n = draw(st.integers(1, 8))
    edges: dict[str, dict[str, int]] = {}
    for owner in NAMES[:n]:
        targets = draw(st.lists(st.sampled_from(NAMES[:n]), unique=True, max_size=3))
        left = FULL_SHARE
        entries = {}
        for target in targets:
            value = min(left, draw(VALUES))
            entries[target] = value
            left -= value
        # Often top the table up to exactly 100%, so closed sets actually occur.
        if targets and draw(st.booleans()):
            entries[targets[-1]] += left
        edges[owner] = entries
    return edges


@settings(max_examples=200, deadline=None)
@given(node_graphs())
def test_agrees_with_the_reference(edges):
    found = find_closed_cycle(edges=edges)
    trapped = trapped_nodes(edges)
    if not trapped:
        assert found is None
        return
    assert found is not None
    assert found == sorted(found)
    assert set(found) <= trapped
    assert is_closed(edges, found)
    # Minimal: no proper subset is closed, i.e. it is one strongly connected component; enough
    # to check that every member is reached from the first member inside the set.
    seen, stack = {found[0]}, [found[0]]
    while stack:
        for target, value in edges[stack.pop()].items():
            if value > 0 and target not in seen:
                seen.add(target)
                stack.append(target)
    assert seen == set(found)


def _random_csr(n: int, degree: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 2 * degree, n)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    targets = rng.integers(0, n, int(indptr[-1]))
    # Every node gives at most 90% to nodes: it leaks, nothing is closed.
    values = rng.integers(1, 9_000_000 // (2 * degree), targets.size)
    return indptr, targets, values


def test_array_api_is_fast_and_finds_a_planted_cycle():
    n = 200_000
    indptr, targets, values = _random_csr(n, 5, seed=3)
    started = time.perf_counter()
    assert find_closed_set(n_nodes=n, indptr=indptr, targets=targets, millibips=values) is None
    assert time.perf_counter() - started < 5
    # Plant a closed triangle 7 -> 11 -> 13 -> 7, replacing those nodes' tables.
    tables = {
        i: (targets[indptr[i] : indptr[i + 1]], values[indptr[i] : indptr[i + 1]]) for i in range(n)
    }
    tables[7] = (np.array([11]), np.array([FULL_SHARE]))
    tables[11] = (np.array([13]), np.array([FULL_SHARE]))
    tables[13] = (np.array([7, 11]), np.array([FULL_SHARE // 2, FULL_SHARE // 2]))
    counts = [tables[i][0].size for i in range(n)]
    indptr = np.concatenate(([0], np.cumsum(counts)))
    targets = np.concatenate([tables[i][0] for i in range(n)])
    values = np.concatenate([tables[i][1] for i in range(n)])
    found = find_closed_set(n_nodes=n, indptr=indptr, targets=targets, millibips=values)
    assert found is not None
    assert found.tolist() == [7, 11, 13]
