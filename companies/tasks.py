"""Celery tasks of companies: thin, they call services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="companies.issue_pledge_invoices")
def issue_pledge_invoices() -> int:
    """Issue the invoices of pledge periods that have begun (idempotent); on a beat schedule
    editable in admin (Periodic tasks → "Issue pledge invoices")."""
    return len(services.pledge_invoices_issue())


@shared_task(name="companies.invoice_reminders")
def invoice_reminders() -> int:
    """Tell owners and finance members about invoices due within a week and overdue ones
    (each once); on a beat schedule editable in admin (Periodic tasks → "Invoice reminders")."""
    from .notifications import invoice_reminders_send

    return invoice_reminders_send()
