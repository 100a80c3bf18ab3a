"""What companies' people are told (issue 12), through ``projects.notifications``: invoices
issued, due soon and overdue, and agreements countersigned, to the company's owners and finance
members (the people who act on its money); and who approves a company's share table.

Each message says only what every one of its recipients may see on the company's dashboard.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from faiross.kernel.money import money_format
from projects.notifications import (
    AGREEMENT_COUNTERSIGNED,
    INVOICE_DUE,
    INVOICE_ISSUED,
    INVOICE_OVERDUE,
    NotificationDraft,
    notifications_send_many,
)

from .models import Agreement, Company, CompanyMember, Invoice
from .selectors import MONEY_ROLES

DUE_SOON_DAYS = 7


def company_money_people(*, company: Company) -> QuerySet[User]:
    """The active owners and finance members of ``company``."""
    return User.objects.filter(
        company_memberships__company=company,
        company_memberships__role__in=MONEY_ROLES,
        is_active=True,
    ).order_by("pk")


def company_table_approvers(*, slug: str) -> QuerySet[User]:
    """A company's owners (they approve its share table)."""
    return User.objects.filter(
        company_memberships__company__slug=slug,
        company_memberships__role=CompanyMember.Role.OWNER,
        is_active=True,
    )


def company_tables_approved_by(*, user: User) -> list[str]:
    """``company:<slug>`` of the companies ``user`` owns."""
    slugs = CompanyMember.objects.filter(user=user, role=CompanyMember.Role.OWNER).values_list(
        "company__slug", flat=True
    )
    return [f"company:{slug}" for slug in slugs]


def _dashboard(company: Company) -> str:
    return reverse("companies:dashboard", kwargs={"slug": company.slug}) + "#open-invoices"


def _invoice_tell(*, invoice: Invoice, kind: str, step: str, subject: str, text: str) -> None:
    company = invoice.company
    amount = money_format(amount=invoice.amount, currency=invoice.currency)
    body = (
        f"{text}\n\n{invoice.number}: {invoice.description}\nAmount: {amount}\n"
        f"Issued on {invoice.issued_on}, due on {invoice.due_on}."
    )
    notifications_send_many(
        kind=kind,
        drafts=[
            NotificationDraft(
                user,
                f"{subject}: {invoice.number} of {company.name} ({amount})",
                body,
                _dashboard(company),
                f"invoice:{invoice.pk}:{step}:{user.pk}",
            )
            for user in company_money_people(company=company)
        ],
    )


def invoice_issued_notify(*, invoice: Invoice) -> None:
    """Tell the company's money people about a new invoice. Precondition: ``invoice`` was
    just created, in the caller's transaction."""
    _invoice_tell(
        invoice=invoice,
        kind=INVOICE_ISSUED,
        step="issued",
        subject="Invoice issued",
        text=f"FairOSS issued an invoice to {invoice.company.name}.",
    )


def invoice_reminders_send(*, today: dt.date | None = None) -> int:
    """Tell the money people of each company about its open invoices that are due within
    ``DUE_SOON_DAYS`` days, and those past their due date: each invoice once per step
    (``invoice:<id>:due`` and ``:overdue``), however often this runs. Returns how many
    invoices were looked at."""
    today = today or timezone.localdate()
    rows = Invoice.objects.filter(
        status=Invoice.Status.OPEN, due_on__lte=today + dt.timedelta(days=DUE_SOON_DAYS)
    ).select_related("company")
    count = 0
    for invoice in rows.order_by("due_on", "pk"):
        count += 1
        if invoice.due_on < today:
            _invoice_tell(
                invoice=invoice,
                kind=INVOICE_OVERDUE,
                step="overdue",
                subject="Invoice overdue",
                text=f"This invoice of {invoice.company.name} was due on {invoice.due_on} and "
                "is still open. Pay it from the company dashboard.",
            )
        else:
            _invoice_tell(
                invoice=invoice,
                kind=INVOICE_DUE,
                step="due",
                subject="Invoice due soon",
                text=f"This invoice of {invoice.company.name} is due on {invoice.due_on}.",
            )
    return count


def agreement_countersigned_notify(*, agreement: Agreement) -> None:
    """Tell the company's money people that FairOSS countersigned ``agreement``.
    Precondition: it was just made active, in the caller's transaction."""
    company = agreement.company
    path = reverse("companies:agreement", kwargs={"slug": company.slug, "pk": agreement.pk})
    notifications_send_many(
        kind=AGREEMENT_COUNTERSIGNED,
        drafts=[
            NotificationDraft(
                user,
                f"Agreement {agreement.reference} of {company.name} is active",
                f"FairOSS countersigned the {agreement.get_kind_display().lower()} agreement "
                f"{agreement.reference} of {company.name}. It is active from today.",
                path,
                f"agreement:{agreement.pk}:countersigned:{user.pk}",
            )
            for user in company_money_people(company=company)
        ],
    )
