"""Payout emails go through the person's notification choices (against the local Stripe
server, as in test_payouts.py)."""

from __future__ import annotations

from django.core import mail

from payouts.connect import transfers
from payouts.models import Payout
from projects.models import UserNotification
from projects.notifications import PAYOUT_FAILED, PAYOUT_SENT
from tests.factories import NotificationPreferenceFactory

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]


def pay(capture, account):
    with capture(execute=True):
        payout, reason = transfers.payout_create(account=account, currency="usd")
    assert reason == ""
    payout.refresh_from_db()
    return payout


def test_a_sent_payout_mails_its_amount_to_the_payee(alice, django_capture_on_commit_callbacks):
    payout = pay(django_capture_on_commit_callbacks, alice)
    assert payout.status == Payout.Status.SENT
    (message,) = mail.outbox
    assert message.to == [alice.user.email]
    assert message.subject == "[FairOSS] Your payout is on its way"
    assert "$123.45" in message.body and "/settings/notifications/" in message.body
    assert UserNotification.objects.get().key == f"payout:{payout.pk}:sent"


def test_payout_sent_turned_off_sends_no_mail_but_the_payout(
    alice, django_capture_on_commit_callbacks
):
    NotificationPreferenceFactory(user=alice.user, kind=PAYOUT_SENT)
    payout = pay(django_capture_on_commit_callbacks, alice)
    assert payout.status == Payout.Status.SENT
    assert mail.outbox == []


def test_payout_failed_turned_off_sends_no_mail(
    alice, stripe_settings, django_capture_on_commit_callbacks
):
    NotificationPreferenceFactory(user=alice.user, kind=PAYOUT_FAILED)
    stripe_settings.onboard(alice.stripe_account_id, "restrict")  # Stripe now refuses
    payout = pay(django_capture_on_commit_callbacks, alice)
    assert payout.status == Payout.Status.FAILED
    assert mail.outbox == []
