"""Celery tasks of the market: thin, idempotent."""

from __future__ import annotations

from celery import shared_task

from .services import cash, distribution, offerings


@shared_task(acks_late=True)
def offerings_close_due_task() -> int:
    return offerings.offerings_close_due()


@shared_task(acks_late=True)
def deposits_reconcile_task() -> int:
    return cash.deposits_reconcile()


@shared_task(acks_late=True)
def market_distributions_sweep_task() -> int:
    return distribution.market_distributions_sweep()
