"""How a project's share for its dependencies is divided among them."""

from __future__ import annotations

from faiross.kernel.allocation import allocate

from .base import Dependency
from .kinds import KIND_BUILD, KIND_DEV, KIND_OPTIONAL, KIND_PEER, KIND_RUNTIME

POLICY_EVEN = "even"
POLICY_DIRECT_WEIGHTED = "direct-weighted"
POLICY_RUNTIME_ONLY = "runtime-only"
SHARE_POLICIES = (POLICY_EVEN, POLICY_DIRECT_WEIGHTED, POLICY_RUNTIME_ONLY)

_WEIGHTS = {
    POLICY_EVEN: dict.fromkeys((KIND_RUNTIME, KIND_BUILD, KIND_PEER, KIND_OPTIONAL, KIND_DEV), 1),
    POLICY_DIRECT_WEIGHTED: {
        KIND_RUNTIME: 3,
        KIND_BUILD: 2,
        KIND_PEER: 2,
        KIND_OPTIONAL: 1,
        KIND_DEV: 1,
    },
    POLICY_RUNTIME_ONLY: {
        KIND_RUNTIME: 1,
        KIND_BUILD: 0,
        KIND_PEER: 0,
        KIND_OPTIONAL: 0,
        KIND_DEV: 0,
    },
}


def split_dependency_share(
    *, total_millibips: int, dependencies: list[Dependency], policy: str
) -> list[int]:
    """Split ``total_millibips`` over ``dependencies``; one part per dependency, same order.

    Policies: ``even`` (every dependency weighs the same), ``direct-weighted`` (runtime 3,
    build and peer 2, optional and dev 1), ``runtime-only`` (runtime 1, every other kind 0:
    the caller drops the zero parts).

    Preconditions: ``total_millibips`` is a non-negative int; ``policy`` is one of
    :data:`SHARE_POLICIES` (else ``ValueError``).
    Invariants: every part is a non-negative int; a dependency of weight 0 gets 0; when at
    least one dependency has a positive weight the parts add up exactly to
    ``total_millibips`` (largest remainder, via the project's single rounding function
    :func:`faiross.kernel.allocation.allocate`, ties to the earlier dependency). When none has
    (no dependencies, or no runtime one under ``runtime-only``) every part is 0 and the
    whole stays with the owner.
    """
    weights_by_kind = _WEIGHTS.get(policy)
    if weights_by_kind is None:
        raise ValueError(
            f"unknown share policy {policy!r}; expected one of: {', '.join(SHARE_POLICIES)}"
        )
    if isinstance(total_millibips, bool) or not isinstance(total_millibips, int):
        raise TypeError("total_millibips must be an int")
    if total_millibips < 0:
        raise ValueError("total_millibips must not be negative")
    weights = [weights_by_kind[dep.kind] for dep in dependencies]
    if not any(weights):
        return [0] * len(weights)
    return allocate(total=total_millibips, weights=weights)


def dependency_rows_fit(
    *, total_millibips: int, weights: list[int], limit: int
) -> tuple[list[int], list[int]]:
    """Keep at most ``limit`` of the weighted dependencies and split ``total_millibips`` over
    those kept, so that a file with more dependencies than a table has rows still gives a
    table that can be saved.

    Returns the indexes kept (in their original order) and one part per index kept.
    Preconditions: ``total_millibips`` and every weight are non-negative ints; ``limit`` is a
    non-negative int. Invariants: the ``limit`` largest weights are kept, ties to the earlier
    dependency; the parts are proportional to the kept weights and add up exactly to
    ``total_millibips`` (largest remainder via :func:`faiross.kernel.allocation.allocate`)
    unless nothing with a positive weight is kept, when every part is 0.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError("limit must be a non-negative int")
    ranked = sorted(range(len(weights)), key=lambda i: (-weights[i], i))
    kept = sorted(ranked[:limit])
    kept_weights = [weights[i] for i in kept]
    if not any(kept_weights):
        return kept, [0] * len(kept)
    return kept, allocate(total=total_millibips, weights=kept_weights)
