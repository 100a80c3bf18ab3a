"""Celery tasks of companies: thin, they call services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="companies.issue_pledge_invoices")
def issue_pledge_invoices() -> int:
    """Issue the invoices of pledge periods that have begun (idempotent); on a beat schedule
    editable in admin (Periodic tasks → "Issue pledge invoices")."""
    return len(services.pledge_invoices_issue())
