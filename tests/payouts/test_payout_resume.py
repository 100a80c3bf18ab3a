"""A killed payout run: known at once (its advisory lock is free), resumed where it stopped or
closed as failed, never paying anyone twice or losing a payout; a new run never waits."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from payouts.connect import transfers
from payouts.models import Payout, PayoutRun
from payouts.selectors import account_balance
from tests.payouts.payout_helpers import credit, onboarded, transfers_for

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]


@pytest.fixture
def people(db, stripe_settings, ledger_checked):
    for name, amount in (("alice", 12_345), ("bob", 6_789)):
        onboarded(name, stripe_settings)
        credit(f"user:{name}", amount)


def killed_run(monkeypatch, capture) -> PayoutRun:
    """A payout run whose worker died after creating alice's payout (whose send was lost
    with it) and before bob's: ``KeyboardInterrupt`` is not caught, like a SIGKILL."""
    real = transfers.payout_create
    calls = []

    def dies_on_second(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(transfers, "payout_create", dies_on_second)
    run = transfers.payout_run_create()
    with capture(execute=False), pytest.raises(KeyboardInterrupt):
        transfers.payout_run_execute(run_id=run.pk)
    monkeypatch.setattr(transfers, "payout_create", real)
    run.refresh_from_db()
    return run


def assert_everyone_paid_once() -> None:
    for name, amount in (("alice", 12_345), ("bob", 6_789)):
        (payout,) = Payout.objects.filter(recipient=f"user:{name}")
        assert payout.status == Payout.Status.SENT and payout.amount == amount
        assert len(transfers_for(payout)) == 1
        assert account_balance(owner=f"user:{name}", purpose="paid_out", currency="usd") == amount
        assert account_balance(owner=f"user:{name}", purpose="in_transit", currency="usd") == 0


def test_a_killed_run_is_resumed_by_the_next_start_without_waiting(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    run = killed_run(monkeypatch, django_capture_on_commit_callbacks)
    assert run.status == PayoutRun.Status.RUNNING
    assert transfers.payout_run_state(run=run) == "stopped"
    (pending,) = Payout.objects.all()
    assert pending.status == Payout.Status.PENDING and not transfers_for(pending)
    # The next start (a minute later, not an hour) takes the stopped run over.
    again = transfers.payout_run_create()
    assert again.pk == run.pk
    with django_capture_on_commit_callbacks(execute=True):
        done = transfers.payout_run_execute(run_id=again.pk)
    assert done.status == PayoutRun.Status.DONE
    assert done.summary["created"] == 2 and done.summary["executions"] == 2
    assert_everyone_paid_once()
    # Resuming a finished run is refused and changes nothing.
    with pytest.raises(ValidationError, match="done"):
        transfers.payout_run_resume(run=done)
    assert_everyone_paid_once()


def test_staff_resume_command_continues_where_it_stopped(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    killed_run(monkeypatch, django_capture_on_commit_callbacks)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("payout_run_resume", stdout=out)
    assert "done" in out.getvalue()
    assert_everyone_paid_once()


def test_a_killed_run_marked_failed_keeps_its_payouts_safe(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    run = killed_run(monkeypatch, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        failed = transfers.payout_run_fail(run=run, reason="worker lost in the outage")
    assert failed.status == PayoutRun.Status.FAILED and failed.is_open is None
    # alice's payout, created by the failed run, was sent on (once); bob's balance waits for
    # the next run, which starts at once.
    alice = Payout.objects.get(recipient="user:alice")
    assert alice.status == Payout.Status.SENT and len(transfers_for(alice)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        new = transfers.payout_run_create()
        assert new.pk != run.pk
        transfers.payout_run_execute(run_id=new.pk)
    assert_everyone_paid_once()


def test_a_run_being_executed_is_neither_taken_over_nor_failed(people):
    run = transfers.payout_run_create()
    with pytest.raises(transfers.PayoutRunInProgress):  # queued: created, not yet started
        transfers.payout_run_create()
    held, release = threading.Event(), threading.Event()

    def worker() -> None:  # another process executing the run: it holds the run's lock
        try:
            assert transfers._run_lock_try(run.pk)
            held.set()
            release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert held.wait(30)
        assert transfers.payout_run_state(run=run) == "executing"
        with pytest.raises(transfers.PayoutRunInProgress):
            transfers.payout_run_create()
        with pytest.raises(ValidationError, match="executing"):
            transfers.payout_run_resume(run=run)
        with pytest.raises(ValidationError, match="executing"):
            transfers.payout_run_fail(run=run, reason="no")
        # A second executor returns at once without doing anything.
        assert transfers.payout_run_execute(run_id=run.pk).status == PayoutRun.Status.RUNNING
        assert not Payout.objects.exists()
    finally:
        release.set()
        thread.join(30)
    # The worker is gone (its connection closed): the run can be continued.
    PayoutRun.objects.filter(pk=run.pk).update(summary={"executions": 1})
    run.refresh_from_db()
    assert transfers.payout_run_state(run=run) == "stopped"
