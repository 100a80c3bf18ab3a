"""Steps higher apps take after a distribution run is done (filled at start-up).

The market app pays its ``market:<TICKER>`` entries on to the holders of units once a run
posted; it sits above payouts, so it registers its step here in ``market.apps``. A step is
idempotent (it may run again after a crash) and runs after the run's own transaction, so a
failing step never undoes a run: it is logged and the step's own sweep retries it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from faiross.kernel.registry import Registry

log = logging.getLogger(__name__)


class RunFollowup(Protocol):
    def __call__(self, *, run_id: int) -> object: ...


run_followups: Registry[RunFollowup] = Registry(
    "payouts.run_followups", required={"market": "market"}
)


def run_followups_call(*, run_id: int) -> None:
    """Call every registered step for the done run ``run_id``, each on its own."""
    for name, step in run_followups.items():
        try:
            step(run_id=run_id)
        except Exception:
            log.exception("run %s: follow-up step %s failed; its sweep retries it", run_id, name)
