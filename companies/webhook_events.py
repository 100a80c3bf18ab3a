"""Webhook events of the companies layer (issue 12; the sending is in projects.webhooks).

They go to the company's own endpoints (managed by its owners), so they carry what the
company's members see on its dashboard: its invoices and agreements, never who signed or
from where (signature records stay private).
"""

from __future__ import annotations

from django.urls import reverse

from faiross.kernel.money import money_format
from faiross.kernel.recipients import company_key
from projects.webhooks.emitters import site_url
from projects.webhooks.events import AGREEMENT_COUNTERSIGNED, INVOICE_ISSUED, INVOICE_PAID
from projects.webhooks.services import event_emit

from .models import Agreement, Invoice


def _invoice_data(invoice: Invoice) -> dict[str, object]:
    return {
        "invoice": {
            "number": invoice.number,
            "description": invoice.description,
            "amount": invoice.amount,
            "currency": invoice.currency,
            "amount_display": money_format(amount=invoice.amount, currency=invoice.currency),
            "status": invoice.status,
            "issued_on": invoice.issued_on,
            "due_on": invoice.due_on,
            "period_start": invoice.period_start,
            "period_end": invoice.period_end,
            "paid_at": invoice.paid_at,
            "paid_via": invoice.paid_via or None,
            "agreement": invoice.agreement.reference,
            "pay_url": site_url(
                reverse("companies:invoice_pay", args=[invoice.company.slug, invoice.pk])
            ),
        }
    }


def invoice_issued_emit(*, invoice: Invoice) -> None:
    """``invoice.issued``. Precondition: ``invoice`` was just created in this transaction."""
    event_emit(
        owner_keys=[company_key(invoice.company.slug)],
        event_type=INVOICE_ISSUED,
        data=lambda _owner: _invoice_data(invoice),
    )


def invoice_paid_emit(*, invoice: Invoice) -> None:
    """``invoice.paid``. Precondition: ``invoice`` was just marked paid in this transaction."""
    event_emit(
        owner_keys=[company_key(invoice.company.slug)],
        event_type=INVOICE_PAID,
        data=lambda _owner: _invoice_data(invoice),
    )


def agreement_countersigned_emit(*, agreement: Agreement) -> None:
    """``agreement.countersigned``. Precondition: ``agreement`` just became active."""
    event_emit(
        owner_keys=[company_key(agreement.company.slug)],
        event_type=AGREEMENT_COUNTERSIGNED,
        data=lambda _owner: {
            "agreement": {
                "reference": agreement.reference,
                "kind": agreement.kind,
                "status": agreement.status,
                "currency": agreement.currency,
                "start_date": agreement.start_date,
                "activated_at": agreement.activated_at,
                "url": site_url(
                    reverse("companies:agreement", args=[agreement.company.slug, agreement.pk])
                ),
            }
        },
    )
