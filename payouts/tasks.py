"""Celery tasks: thin, idempotent, take ids (money rule 4)."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings

from payouts.connect import escrow, transfers
from payouts.distribution import runs


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=3, default_retry_delay=30)
def distribution_run_task(run_id: int) -> str:
    status = runs.distribution_run_execute(run_id=run_id).status
    escrow.escrow_waiting_notify(run_id=run_id)
    return status


@shared_task(acks_late=True)
def scheduled_distribution() -> str:
    """The beat schedule's entry point: start a run unless one is still unfinished."""
    try:
        run = runs.distribution_run_create()
    except runs.RunInProgress as exc:
        return f"run {exc.run.pk} still {exc.run.status}; not starting another"
    status = runs.distribution_run_execute(run_id=run.pk).status
    escrow.escrow_waiting_notify(run_id=run.pk)
    return f"run {run.pk}: {status}"


# --- payouts (issue 6) ----------------------------------------------------------------------


@shared_task(acks_late=True, reject_on_worker_lost=True)
def payout_run_task(run_id: int) -> str:
    run = transfers.payout_run_execute(run_id=run_id)
    return f"payout run {run.pk}: {run.status} {run.summary}"


@shared_task(acks_late=True)
def scheduled_payout_run() -> str:
    """The beat schedule's entry point (daily, after distribution runs)."""
    try:
        run = transfers.payout_run_create()
    except transfers.PayoutRunInProgress as exc:
        return f"payout run {exc.run.pk} still running; not starting another"
    return payout_run_task(run.pk)


@shared_task(acks_late=True)
def scheduled_escrow_return() -> str:
    return f"{len(escrow.escrow_return_expired())} escrow returns"


class PayoutSendTransient(Exception):
    """Raised by ``payout_send_task`` when the send may succeed later (a network error, a 429
    or a 5xx from Stripe: ``SendResult.RETRY``); Celery's ``autoretry_for`` catches exactly
    this and schedules the retry."""


# Retries: exponential backoff of 30 s, 60 s, 2 min, ... capped at one hour, with full jitter
# (each delay is random from 0 to that bound), by Celery's autoretry (``retry_backoff``).
PAYOUT_RETRY_BACKOFF = 30
PAYOUT_RETRY_BACKOFF_MAX = 3600


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(PayoutSendTransient,),
    retry_backoff=PAYOUT_RETRY_BACKOFF,
    retry_backoff_max=PAYOUT_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    # The limit is FAIROSS_PAYOUT_MAX_RETRIES, checked in the body (read when the task runs):
    # when it is reached the task returns and the payout stays pending, it does not fail.
    max_retries=None,
)
def payout_send_task(self, payout_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one payout. Safe to run twice or concurrently (the row lock and Stripe's
    idempotency key make one transfer). Transient failures retry with backoff; after
    FAIROSS_PAYOUT_MAX_RETRIES the payout stays pending and the next payout run resumes it."""
    result = transfers.payout_send(payout_id=payout_id)
    if self.request.is_eager:
        # In-process (embedded default, tests): Celery cannot delay an eager retry, so retry
        # here with a short backoff.
        for attempt in range(settings.FAIROSS_PAYOUT_MAX_RETRIES):
            if result != transfers.SendResult.RETRY:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))
            result = transfers.payout_send(payout_id=payout_id)
        return result
    if result == transfers.SendResult.RETRY:
        if self.request.retries >= settings.FAIROSS_PAYOUT_MAX_RETRIES:
            return "retry later (next payout run)"
        raise PayoutSendTransient(f"payout {payout_id}: Stripe failed transiently; retrying")
    return result
