"""Celery tasks: thin, idempotent, take ids (money rule 4)."""

from __future__ import annotations

from celery import shared_task

from . import runs


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=3, default_retry_delay=30)
def distribution_run_task(run_id: int) -> str:
    return runs.distribution_run_execute(run_id=run_id).status


@shared_task(acks_late=True)
def scheduled_distribution() -> str:
    """The beat schedule's entry point: start a run unless one is still unfinished."""
    try:
        run = runs.distribution_run_create()
    except runs.RunInProgress as exc:
        return f"run {exc.run.pk} still {exc.run.status}; not starting another"
    return f"run {run.pk}: {runs.distribution_run_execute(run_id=run.pk).status}"
