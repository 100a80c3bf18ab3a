"""Payouts against the local Stripe server: one transfer per payout row, whatever happens."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from payouts import tasks
from payouts.connect import accounts, transfers
from payouts.models import Payout, PayoutRun
from payouts.selectors import account_balance
from tests.factories import TaxFormFactory
from tests.payouts.payout_helpers import credit, onboarded, signed, transfers_for
from tests.thread_helpers import run_at_once

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]


def run_payouts(capture) -> PayoutRun:
    with capture(execute=True):
        run = transfers.payout_run_create()
        run = transfers.payout_run_execute(run_id=run.pk)
    return run


def balance(purpose: str, owner: str = "user:alice") -> int:
    return account_balance(owner=owner, purpose=purpose, currency="usd")


def only_payout() -> Payout:
    (payout,) = Payout.objects.all()
    return payout


def assert_paid_once(payout: Payout) -> None:
    payout.refresh_from_db()
    assert payout.status == Payout.Status.SENT, (payout.status, payout.last_error)
    transfers = transfers_for(payout)
    assert len(transfers) == 1
    assert transfers[0].id == payout.stripe_transfer_id
    assert transfers[0].amount == payout.amount
    assert transfers[0].metadata["faiross_payout"] == str(payout.pk)
    assert balance("in_transit", payout.recipient) == 0


def test_payout_run_pays_available_balance_once(alice, django_capture_on_commit_callbacks):
    run = run_payouts(django_capture_on_commit_callbacks)
    assert run.status == "done" and run.summary["created"] == 1
    payout = only_payout()
    assert_paid_once(payout)
    assert payout.amount == 12_345 and payout.destination == alice.stripe_account_id
    assert balance("available") == 0 and balance("paid_out") == 12_345
    assert [m.subject for m in mail.outbox] == ["[FairOSS] Your payout is on its way"]
    # A second run finds nothing to pay; running the task again changes nothing.
    again = run_payouts(django_capture_on_commit_callbacks)
    assert again.summary.get("created", 0) == 0
    assert tasks.payout_send_task.apply(args=[payout.pk]).get() == "sent"
    assert_paid_once(payout)


def test_worker_killed_after_stripe_transferred_redelivery_sends_nothing_new(
    alice, django_capture_on_commit_callbacks, monkeypatch
):
    """acks_late: the task dies after Stripe made the transfer but before the outcome was
    stored; the broker delivers the task again (simulated: the task runs a second time)."""
    real = transfers._payout_mark_sent
    calls = {"n": 0}

    def die_once(payout, transfer):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("worker killed")
        return real(payout, transfer)

    monkeypatch.setattr(transfers, "_payout_mark_sent", die_once)
    with pytest.raises(SystemExit):
        run_payouts(django_capture_on_commit_callbacks)
    payout = only_payout()
    assert payout.status == Payout.Status.PENDING  # the attempt's transaction rolled back
    assert len(transfers_for(payout)) == 1  # but Stripe did transfer
    assert tasks.payout_send_task.apply(args=[payout.pk]).get() == "sent"
    assert tasks.payout_send_task.apply(args=[payout.pk]).get() == "sent"
    assert_paid_once(payout)
    replays = [r for r in alice_requests(alice) if r["replayed"] and r["path"] == "/v1/transfers"]
    assert len(replays) == 1


def alice_requests(alice):
    from django.conf import settings

    from tests.payouts.stripe_fixtures import Control

    return Control(settings.STRIPE_API_BASE).requests(method="POST", path_prefix="/v1/transfers")


@pytest.mark.parametrize("drops", [1, 3])
def test_connection_dropped_after_stripe_executed_the_transfer(
    alice, stripe_settings, django_capture_on_commit_callbacks, drops
):
    """1 drop: the library's own retry gets the stored answer; 3 drops: every library try is
    dropped, the task retries with the same key and gets the stored transfer."""
    stripe_settings.fault("/v1/transfers", "drop_after_commit", method="POST", count=drops)
    run_payouts(django_capture_on_commit_callbacks)
    payout = only_payout()
    assert_paid_once(payout)
    posts = stripe_settings.requests(method="POST", path_prefix="/v1/transfers")
    assert {r["idempotency_key"] for r in posts} == {f"faiross-payout-{payout.pk}"}
    assert sum(1 for r in posts if not r["replayed"] and r["status"] == 200) == 1


@pytest.mark.parametrize(("mode", "count"), [("429", 3), ("500", 5)])
def test_rate_limited_and_server_errors_are_retried(
    alice, stripe_settings, django_capture_on_commit_callbacks, mode, count
):
    stripe_settings.fault("/v1/transfers", mode, method="POST", count=count)
    run_payouts(django_capture_on_commit_callbacks)
    payout = only_payout()
    assert_paid_once(payout)
    assert payout.attempts >= 2
    posts = stripe_settings.requests(method="POST", path_prefix="/v1/transfers")
    assert sum(1 for r in posts if r["fault"]) == count


def test_refusal_fails_the_payout_and_returns_the_money(
    alice, stripe_settings, django_capture_on_commit_callbacks
):
    stripe_settings.onboard(alice.stripe_account_id, "restrict")  # Stripe now refuses
    with django_capture_on_commit_callbacks(execute=True):
        payout, reason = transfers.payout_create(account=alice, currency="usd")
    assert reason == ""
    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED
    assert "cannot receive transfers" in payout.failure_reason
    assert transfers_for(payout) == []
    assert balance("available") == 12_345 and balance("in_transit") == 0
    assert "A payout failed" in mail.outbox[-1].subject


@pytest.mark.parametrize(
    ("fault", "transferred", "key"),
    [
        # executed, answer lost: looked up, not resent (the key expired at Stripe, re-sending
        # with it would make a second transfer)
        ("drop_after_commit", 1, "faiross-payout-{pk}"),
        # nothing transferred: sent with a new key
        ("500", 0, "faiross-payout-{pk}-2"),
    ],
)
def test_outcome_unknown_for_more_than_a_day(
    alice, stripe_settings, django_capture_on_commit_callbacks, fault, transferred, key
):
    stripe_settings.fault("/v1/transfers", fault, method="POST", count=3)
    with django_capture_on_commit_callbacks(execute=False):
        payout, _ = transfers.payout_create(account=alice, currency="usd")
    assert transfers.payout_send(payout_id=payout.pk) == "retry"
    assert len(transfers_for(payout)) == transferred
    stripe_settings.advance(25 * 3600)
    Payout.objects.filter(pk=payout.pk).update(key_since=timezone.now() - dt.timedelta(hours=25))
    assert transfers.payout_send(payout_id=payout.pk) == "sent"
    assert_paid_once(payout)
    assert payout.idempotency_key == key.format(pk=payout.pk)


def test_replayed_webhook_changes_nothing(alice, stripe_settings, client, monkeypatch):
    """The transfer.created webhook may arrive before the task stored the outcome (it died),
    and again later: the payout is confirmed once, the ledger moved once."""
    real = transfers._payout_mark_sent
    monkeypatch.setattr(
        transfers, "_payout_mark_sent", lambda p, t: (_ for _ in ()).throw(SystemExit("killed"))
    )
    payout, _ = transfers.payout_create(account=alice, currency="usd")
    with pytest.raises(SystemExit):
        transfers.payout_send(payout_id=payout.pk)
    monkeypatch.setattr(transfers, "_payout_mark_sent", real)
    import stripe

    (event,) = stripe.Event.list(type="transfer.created").data
    body, header = signed(event.to_dict(), "whsec_faiross_tests")
    for _ in range(3):
        response = client.post(
            "/payouts/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        )
        assert response.status_code == 200
    assert transfers.payout_send(payout_id=payout.pk) == "sent"
    assert_paid_once(payout)
    assert balance("paid_out") == 12_345
    from payouts.models import StripeEvent

    assert StripeEvent.objects.get(event_id=event.id).deliveries == 3


def test_held_person_is_skipped(alice, django_capture_on_commit_callbacks):
    from tests.factories import HoldFactory

    HoldFactory(recipient="user:alice", amount=0, fund=False)
    run = run_payouts(django_capture_on_commit_callbacks)
    assert run.summary["skipped_held"] == 1 and not Payout.objects.exists()


def test_threshold_and_account_status_gate_payouts(
    alice, stripe_settings, django_capture_on_commit_callbacks
):
    accounts.payout_threshold_set(account=alice, amount=20_000)
    assert run_payouts(django_capture_on_commit_callbacks).summary["skipped_threshold"] == 1
    onboarded("bob", stripe_settings, outcome="incomplete")
    credit("user:bob", 50_000)
    run = run_payouts(django_capture_on_commit_callbacks)
    assert run.summary["skipped_no_account"] == 1
    assert not Payout.objects.exists()
    with pytest.raises(Exception, match="threshold"):
        accounts.payout_threshold_set(account=alice, amount=10)


def test_tax_form_gates_payouts_above_the_yearly_threshold(
    alice, settings, django_capture_on_commit_callbacks
):
    settings.FAIROSS_TAX_FORM_THRESHOLD = 10_000
    run = run_payouts(django_capture_on_commit_callbacks)
    assert run.summary["skipped_tax_form"] == 1 and not Payout.objects.exists()
    TaxFormFactory(user=alice.user)
    run_payouts(django_capture_on_commit_callbacks)
    assert_paid_once(only_payout())


def test_payout_runs_never_overlap(alice):
    first = transfers.payout_run_create()
    with pytest.raises(transfers.PayoutRunInProgress):
        transfers.payout_run_create()
    # Its task was lost (never started within the grace): the next start takes it over
    # instead of opening a second run (tests/payouts/test_payout_resume.py: killed runs).
    PayoutRun.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - transfers.QUEUED_GRACE - dt.timedelta(seconds=1)
    )
    second = transfers.payout_run_create()
    assert second.pk == first.pk and second.status == "running"
    assert PayoutRun.objects.filter(is_open=True).count() == 1


def test_staff_api_starts_a_payout_run(
    alice, api_client, staff, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/payout-runs/")
    assert response.status_code == 201
    detail = api_client.get(f"/api/v1/payout-runs/{response.json()['id']}/").json()
    assert detail["status"] == "done" and detail["payouts"][0]["amount"] == 12_345
    assert_paid_once(only_payout())
    api_client.force_authenticate(alice.user)
    assert api_client.post("/api/v1/payout-runs/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_task_runs_make_one_transfer(stripe_settings):
    account = onboarded("alice", stripe_settings)
    credit("user:alice", 5_000)
    payout, _ = transfers.payout_create(account=account, currency="usd")
    # The transfer takes a while at Stripe, so both tasks overlap.
    stripe_settings.fault("/v1/transfers", "delay", method="POST", delay_seconds=1.0)
    results = run_at_once([lambda: tasks.payout_send_task.apply(args=[payout.pk]).get()] * 2)
    # The second task either finds the row locked ("busy") or, when the thread scheduler
    # starts it after the first committed, already sent: never a second transfer.
    assert sorted(results) in (["busy", "sent"], ["sent", "sent"])
    assert_paid_once(payout)
    call_command("ledger_check", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_payout_runs_create_one_payout_per_person(stripe_settings):
    account = onboarded("alice", stripe_settings)
    credit("user:alice", 5_000)
    results = run_at_once([lambda: transfers.payout_create(account=account, currency="usd")] * 4)
    created = [p for p, _ in results if p is not None]
    assert len(created) == 1
    assert Payout.objects.count() == 1
    assert_paid_once(created[0])
    call_command("ledger_check", stdout=StringIO())
