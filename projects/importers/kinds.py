"""The kinds of dependency, how strong each is, and how kinds pass along a dependency graph."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

KIND_RUNTIME = "runtime"
KIND_BUILD = "build"
KIND_PEER = "peer"
KIND_OPTIONAL = "optional"
KIND_DEV = "dev"
# Strongest first: when one package is listed under several kinds, the first of these wins.
KINDS = (KIND_RUNTIME, KIND_BUILD, KIND_PEER, KIND_OPTIONAL, KIND_DEV)
_STRENGTH = {kind: len(KINDS) - index for index, kind in enumerate(KINDS)}


def kind_strength(kind: str) -> int:
    """Rank of ``kind``: higher is stronger (runtime > build > peer > optional > dev)."""
    return _STRENGTH[kind]


def weaker_kind(first: str, second: str) -> str:
    """The weaker of two kinds: a dev dependency's runtime dependency is still only dev."""
    return first if _STRENGTH[first] <= _STRENGTH[second] else second


def propagate_kinds(
    *, roots: Iterable[str], edges: Iterable[tuple[str, str, str]]
) -> dict[str, str]:
    """Kinds of the nodes of a dependency graph, as seen from its roots.

    ``edges`` are ``(dependent, dependency, kind of that edge)``. A root counts as
    runtime; a node reached through an edge gets the weaker of its dependent's kind and
    the edge's kind; over several paths the strongest wins. Nodes not reachable from a
    root are absent from the result. Runs in O(edges * len(KINDS)) even with cycles,
    because a node's kind only ever gets stronger and there are five strengths.
    """
    adjacency: dict[str, list[tuple[str, str]]] = {}
    for parent, child, kind in edges:
        adjacency.setdefault(parent, []).append((child, kind))
    kinds: dict[str, str] = {}
    queue: deque[str] = deque()
    for root in roots:
        if root not in kinds:
            kinds[root] = KIND_RUNTIME
            queue.append(root)
    while queue:
        node = queue.popleft()
        for child, edge_kind in adjacency.get(node, ()):
            candidate = weaker_kind(kinds[node], edge_kind)
            current = kinds.get(child)
            if current is None or _STRENGTH[candidate] > _STRENGTH[current]:
                kinds[child] = candidate
                queue.append(child)
    return kinds
