"""What a company's people are told: invoices issued, due soon, overdue; agreements
countersigned. Owners and finance members only, each step once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from companies.models import Agreement
from companies.notifications import invoice_reminders_send
from companies.tasks import invoice_reminders
from projects.notifications import INVOICE_OVERDUE
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    CompanyMemberFactory,
    InvoiceFactory,
    NotificationPreferenceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    """acme: olga owner, fina finance, vic viewer; mallory is in another company."""
    olga, fina, vic, mallory = (UserFactory(username=n) for n in ("olga", "fina", "vic", "mallory"))
    company = CompanyFactory(slug="acme", name="Acme Inc.", owner=olga)
    CompanyMemberFactory(company=company, user=fina, role="finance")
    CompanyMemberFactory(company=company, user=vic, role="viewer")
    CompanyFactory(slug="other", owner=mallory)
    return company


def recipients() -> list[str]:
    return sorted(m.to[0] for m in mail.outbox)


def test_countersigning_tells_owners_and_finance(acme, django_capture_on_commit_callbacks):
    agreement = AgreementFactory(company=acme, status=Agreement.Status.SIGNED)
    from companies.services import agreement_countersign
    from tests.factories import StaffFactory

    with django_capture_on_commit_callbacks(execute=True):
        agreement_countersign(agreement=agreement, staff=StaffFactory())
    assert recipients() == ["fina@example.com", "olga@example.com"]
    assert mail.outbox[0].subject == (
        f"[FairOSS] Agreement {agreement.reference} of Acme Inc. is active"
    )
    assert f"/companies/acme/agreements/{agreement.pk}/" in mail.outbox[0].body


def test_an_invoice_issued_tells_owners_and_finance_with_its_amount(
    acme, django_capture_on_commit_callbacks
):
    agreement = AgreementFactory(company=acme)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = InvoiceFactory(agreement=agreement, amount=123_456)
    assert recipients() == ["fina@example.com", "olga@example.com"]
    message = mail.outbox[0]
    assert message.subject == f"[FairOSS] Invoice issued: {invoice.number} of Acme Inc. ($1,234.56)"
    assert f"due on {invoice.due_on}" in message.body
    assert "/companies/acme/#open-invoices" in message.body


def test_reminders_due_soon_then_overdue_each_once(acme, django_capture_on_commit_callbacks):
    invoice = InvoiceFactory(agreement=AgreementFactory(company=acme))
    NotificationPreferenceFactory(user=acme.members.get(role="finance").user, kind=INVOICE_OVERDUE)

    with django_capture_on_commit_callbacks(execute=True):
        assert invoice_reminders_send(today=invoice.due_on - dt.timedelta(days=30)) == 0
    assert mail.outbox == []  # not due within a week yet

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            invoice_reminders_send(today=invoice.due_on - dt.timedelta(days=3))
    assert recipients() == ["fina@example.com", "olga@example.com"]
    assert all(m.subject.startswith("[FairOSS] Invoice due soon: ") for m in mail.outbox)

    mail.outbox.clear()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            invoice_reminders_send(today=invoice.due_on + dt.timedelta(days=1))
    # fina turned "overdue" off
    assert recipients() == ["olga@example.com"]
    assert mail.outbox[0].subject.startswith("[FairOSS] Invoice overdue: ")
    assert "still open" in mail.outbox[0].body


def test_a_paid_invoice_gets_no_reminder(acme, django_capture_on_commit_callbacks):
    invoice = InvoiceFactory(agreement=AgreementFactory(company=acme), status="paid")
    with django_capture_on_commit_callbacks(execute=True):
        assert invoice_reminders_send(today=invoice.due_on + dt.timedelta(days=5)) == 0
    assert mail.outbox == []


def test_the_daily_task_is_scheduled_and_runs(acme):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Invoice reminders")
    assert task.task == "companies.invoice_reminders"
    assert invoice_reminders() == 0
