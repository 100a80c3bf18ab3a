"""Paying on the embedded default: the portal as ``scripts/demo`` runs it (runserver, SQLite
file, tasks in-process, the local Stripe server sending webhooks back), driven in Chromium.

Returning from Checkout and the webhook it triggers reach the portal at the same moment; on
SQLite's defaults that answered 500 "database is locked". This test starts real processes on
a temporary SQLite file, so it needs no Django test database.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "faiross-demo"  # devtools demo_data's password

# Three monthly pledge invoices for acme, and money for bob, made with the services the pages
# and admin use.
OPEN_INVOICES = """
import datetime as dt
from django.contrib.auth import get_user_model
from companies import services
from companies.models import Company
User = get_user_model()
carol, admin = User.objects.get(username="carol"), User.objects.get(username="admin")
today = dt.date.today()
months = today.year * 12 + today.month - 1 - 2  # two months before this one
start = dt.date(months // 12, months % 12 + 1, 1)
agreement = services.agreement_create(
    company=Company.objects.get(slug="acme"), actor=carol, kind="pledge",
    terms_data={"currency": "usd", "start_date": start.isoformat(), "amount": 10_000,
                "developers": 1, "period": "monthly"},
)
services.agreement_sign(agreement=agreement, actor=carol, ip_address="127.0.0.1", user_agent="t")
services.agreement_countersign(agreement=agreement, staff=admin)
services.pledge_invoices_issue(agreement_ids=[agreement.pk])
print("open invoices:", agreement.invoices.filter(status="open").count())
# Staff verify the demo's projects, so the next run moves the money waiting for that to people.
from payouts.distribution import runs
from projects.models import Project
from projects.verification.services import project_verify_by_staff
for project in Project.objects.filter(verified_at__isnull=True, status="claimed"):
    project_verify_by_staff(project=project, staff=admin, note="demo")
runs.distribution_run_execute(run_id=runs.distribution_run_create().pk)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Portal:
    """The embedded portal's processes, its SQLite file and where its logs go."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = tmp / "db.sqlite3"
        self.port, self.stripe_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "runserver.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
            and not k.startswith(("STRIPE_", "DJANGO_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="faiross.settings.local",
            DATABASE_URL=f"sqlite:///{self.db}",
            STRIPE_API_BASE=f"http://127.0.0.1:{self.stripe_port}",
            FAIROSS_SITE_URL=self.url,
            FAIROSS_MEDIA_ROOT=str(tmp / "media"),
            FAIROSS_PRIVATE_MEDIA_ROOT=str(tmp / "private"),
            PYTHONUNBUFFERED="1",
            # bob's payout is above the default; the tax-form rule has tests of its own.
            FAIROSS_TAX_FORM_THRESHOLD="100000000",
        )
        self.env = env

    def manage(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    portal = Portal(tmp_path_factory.mktemp("embedded"))
    portal.manage("migrate", "--noinput")
    portal.manage("demo_data")
    assert "open invoices: 3" in portal.manage("shell", stdin=OPEN_INVOICES)
    stripe = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_stripe",
            "--port",
            str(portal.stripe_port),
            "--webhook-url",
            f"{portal.url}/payouts/stripe/webhook/",
            "--webhook-secret",
            "whsec_faiross_local",
        ],
        cwd=ROOT,
        env=portal.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with portal.log.open("wb") as log:
        # Threaded, as scripts/demo runs it: the Checkout return and the webhook overlap.
        web = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                f"127.0.0.1:{portal.port}",
            ],
            cwd=ROOT,
            env=portal.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_http(f"http://127.0.0.1:{portal.stripe_port}/_test/requests", stripe)
            _wait_http(f"{portal.url}/accounts/login/", web)
            yield portal
        finally:
            _stop(web)
            _stop(stripe)


def _journal_mode(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def test_three_checkout_payments_on_sqlite_return_without_errors(browser, portal):
    context = browser.new_context(base_url=portal.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    statuses: list[tuple[int, str]] = []
    page.on("response", lambda r: statuses.append((r.status, r.url)))
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=login]", "carol")
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

        page.goto("/companies/acme/")
        pay_buttons = page.locator("#open-invoices").get_by_role(
            "button", name=re.compile(r"^Pay ")
        )
        assert pay_buttons.count() == 3
        for _ in range(3):
            button = pay_buttons.first
            number = button.get_attribute("aria-label").removeprefix("Pay ")
            button.click()
            page.wait_for_url(re.compile(r"/pay/cs_test_"))
            assert "TEST MODE" in page.content()
            page.get_by_role("button", name=re.compile(r"^Pay ")).click()
            page.wait_for_url(f"{portal.url}/companies/acme/")
            assert f"{number} is paid" in page.locator(".messages").inner_text()
            assert number in page.locator("#paid").inner_text()
        assert "Nothing to pay" in page.locator("#open-invoices").inner_text()
    finally:
        context.close()
    errors = [(status, url) for status, url in statuses if status >= 500]
    assert not errors, errors
    log = portal.log.read_text(errors="replace")
    assert "database is locked" not in log
    # Every webhook the local server sent was accepted (none answered 5xx).
    webhook_answers = re.findall(r'"POST /payouts/stripe/webhook/ HTTP/1.1" (\d{3})', log)
    assert webhook_answers and all(code.startswith("2") for code in webhook_answers), log[-3000:]
    # WAL is a property of the file: the portal switched it on.
    assert _journal_mode(portal.db) == "wal"


def _sign_in(context, username: str):
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def test_payout_run_on_sqlite_pays_while_webhooks_arrive(browser, portal):
    statuses: list[tuple[int, str]] = []
    contexts = [browser.new_context(base_url=portal.url) for _ in range(2)]
    try:
        for context in contexts:
            context.set_default_timeout(20_000)
            context.on("response", lambda r: statuses.append((r.status, r.url)))
        # bob (paid by the demo's distribution run) sets up payouts on the local Stripe page.
        bob = _sign_in(contexts[0], "bob")
        bob.goto("/payouts/get-paid/")
        bob.get_by_role("button", name="Set up payouts with Stripe").click()
        bob.wait_for_url(re.compile(r"/onboarding/"))
        bob.get_by_role("button", name="Complete", exact=True).click()
        bob.wait_for_url(re.compile(r"/payouts/get-paid/$"))
        assert bob.locator("#account-status").inner_text() == "Payouts enabled"

        # Staff start the payout run in admin; Stripe's transfer webhooks come back meanwhile.
        admin = _sign_in(contexts[1], "admin")
        admin.goto("/admin/payouts/payoutrun/")
        admin.get_by_role("button", name="Start a payout run now").click()
        admin.wait_for_url(re.compile(r"/admin/payouts/payoutrun/$"))
        assert "started" in admin.locator(".messagelist").inner_text()
        assert "error" not in (admin.locator(".messagelist li").first.get_attribute("class") or "")

        bob.goto("/payouts/earnings/")
        assert "Sent" in bob.locator("#payouts tbody tr").first.inner_text()
    finally:
        for context in contexts:
            context.close()
    with sqlite3.connect(portal.db) as conn:
        runs = conn.execute("SELECT status FROM payouts_payoutrun").fetchall()
        payouts = conn.execute("SELECT status FROM payouts_payout").fetchall()
    assert runs == [("done",)] and payouts == [("sent",)], (runs, payouts)
    errors = [(status, url) for status, url in statuses if status >= 500]
    assert not errors, errors
    assert "database is locked" not in portal.log.read_text(errors="replace")
