"""What the run commands share (``run_publish``, ``run_verify``)."""

from __future__ import annotations

from django.core.management.base import CommandError

from payouts.models import DistributionRun


def done_run_get(*, run_id: int) -> DistributionRun:
    """The done run ``run_id``. Raises ``CommandError`` naming the run when there is none or
    it is not done: only a done run has (or may get) a publication."""
    run = DistributionRun.objects.filter(pk=run_id).first()
    if run is None:
        raise CommandError(f"There is no run {run_id}.")
    if run.status != DistributionRun.Status.DONE:
        raise CommandError(f"Run {run.pk} is {run.status}: only a done run is published.")
    return run
