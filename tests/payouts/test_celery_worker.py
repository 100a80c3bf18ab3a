"""A real Celery worker on Redis runs a scheduled distribution and a payout run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from payouts import tasks
from payouts.connect import transfers
from payouts.models import DistributionRun, Payout
from payouts.selectors import account_balance
from tests.factories import CompanyFactory, InflowFactory, UserFactory
from tests.payouts.payout_helpers import onboarded, transfers_for

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker(local_stripe):
    """``celery -A faiross worker`` in a subprocess, on this test's database and Redis db."""
    from faiross.celery import app

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "faiross.settings.test",
        "DATABASE_URL": url,
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "FAIROSS_EAGER": "0",
        "STRIPE_API_BASE": local_stripe.url,
    }
    app.control.purge()
    # var/ is git-ignored, so a fresh clone does not have it yet.
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "test-celery-worker.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "faiross",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield process
    finally:
        app.conf.task_always_eager = saved
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_worker_runs_scheduled_distribution_then_payout_run(worker, stripe_settings):
    started = time.monotonic()
    (ROOT / "var").mkdir(exist_ok=True)
    onboarded("alice", stripe_settings)
    company = CompanyFactory(
        slug="acme",
        name="Acme",
        owner=UserFactory(username="owner"),
        table=[("user:alice", 10_000_000)],
    )
    InflowFactory(company=company, amount=7_000, reference="W1")

    tasks.scheduled_distribution.delay()
    wait_for(lambda: DistributionRun.objects.filter(status="done").exists(), 30, "the distribution")
    assert account_balance(owner="user:alice", purpose="available", currency="usd") == 7_000

    with transaction.atomic():
        transfers.payout_run_start()  # enqueued on commit
    wait_for(lambda: Payout.objects.filter(status="sent").exists(), 30, "the payout to be sent")
    payout = Payout.objects.get()
    assert len(transfers_for(payout)) == 1 and payout.amount == 7_000
    assert worker.poll() is None
    call_command("ledger_check", stdout=StringIO())
    assert time.monotonic() - started < 60
