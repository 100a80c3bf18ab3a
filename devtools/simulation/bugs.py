"""Deliberately injected bugs (``--inject-bug NAME``, for tests of the simulator only).

Each is a ``mock.patch`` active for the whole seed, so the simulation must notice it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any
from unittest import mock


def _rounding() -> AbstractContextManager[Any]:
    """The run's allocation step drops one cent of the largest allocation."""
    from payouts.distribution import runs

    original = runs.run_compute

    def run_compute(snapshot: Any) -> Any:
        computed = original(snapshot)
        allocations = dict(computed.allocations)
        if allocations:
            key = max(sorted(allocations), key=lambda k: allocations[k])
            allocations[key] -= 1
        return runs.Computed(computed.graph, computed.distribution, allocations)

    return mock.patch.object(runs, "run_compute", run_compute)


def _hold() -> AbstractContextManager[Any]:
    """The payout run's hold check answers "not held"."""
    from payouts.connect import transfers

    return mock.patch.object(transfers, "held_recipients", lambda: set())


def _double_transfer() -> AbstractContextManager[Any]:
    """Every attempt to send a payout uses a fresh idempotency key and the transfer-group
    lookup finds nothing (so a retry after a lost answer makes a second transfer)."""
    import itertools

    from payouts.connect import transfers
    from payouts.models import Payout

    original = transfers.payout_send
    attempt = itertools.count(1)

    def payout_send(*, payout_id: int) -> str:
        key = f"faiross-payout-{payout_id}-bug-{next(attempt)}"
        Payout.objects.filter(pk=payout_id).update(idempotency_key=key)
        return original(payout_id=payout_id)

    stack = ExitStack()
    stack.enter_context(mock.patch.object(transfers, "payout_send", payout_send))
    # ... and the lookup by transfer group (the defence after 23 hours) finds nothing.
    stack.enter_context(mock.patch.object(transfers, "_transfer_lookup", lambda *a: None))
    return stack


def _unverified_routes() -> AbstractContextManager[Any]:
    """The snapshot forgets which projects are unverified: their tables move money."""
    from payouts.distribution import runs

    original = runs._snapshot_at

    def snapshot_at(**kwargs: Any) -> Any:
        return {**original(**kwargs), "unverified": []}

    return mock.patch.object(runs, "_snapshot_at", snapshot_at)


def _escrow_kept() -> AbstractContextManager[Any]:
    """A run releases no escrow: a verified project's waiting money never flows on."""
    from payouts.distribution import runs

    return mock.patch.object(runs, "_escrow_release", lambda run: [])


BUGS: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "rounding": _rounding,
    "hold": _hold,
    "double_transfer": _double_transfer,
    "unverified_routes": _unverified_routes,
    "escrow_kept": _escrow_kept,
}
