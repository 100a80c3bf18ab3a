"""Benchmark: N payouts through the real services against a private local Stripe server.

Starts the local Stripe test server on a free port, creates N people with onboarded connected
accounts and an available balance, creates their payouts and sends each one's transfer with
``payout_send`` (the code the Celery task runs), then prints transfers per second and the
number of duplicate transfers (transfer groups with more than one transfer; must be 0).
Everything it writes to the database is rolled back at the end (the ledger is append-only,
so the benchmark never commits). Optional faults exercise the retry paths under load.

``--workers N`` sends them from N real Celery worker processes instead (issue 14): the server
answers 429 above ``--server-rate-limit`` requests per second, the workers share one client-side
bucket in Redis (``payouts.stripe_client``), and the last line reads ``workers=N transfers=T
seconds=S per_s=R limit=L fraction=F duplicates=0 retried_429=K``. Workers in other processes
see only committed rows, so this mode commits, to a scratch database of its own
(``<database>_bench_payouts``, migrated on first use and kept for the next run).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import override_settings
from kombu import Queue

from faiross.kernel.recipients import user_key
from payouts.connect import transfers
from payouts.connect._common import _stripe
from payouts.ledger import PLATFORM, Leg, ledger_post
from payouts.models import ConnectedAccount, LedgerTransaction, Payout


class _Rollback(Exception):
    pass


class Control:
    """The local server's ``/_test`` API (what the benchmark needs of it)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def call(self, path: str, data: dict[str, Any] | None = None, method: str = "POST") -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(  # noqa: S310 - the local server's http URL
            self.base_url + path, data=body, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def onboard(self, account_id: str, outcome: str) -> None:
        self.call(f"/_test/accounts/{account_id}/onboarding", {"outcome": outcome})

    def fault(self, path_prefix: str, mode: str, **options: Any) -> None:
        self.call("/_test/faults", {"path_prefix": path_prefix, "mode": mode, **options})


class Command(BaseCommand):
    help = "Send N payouts to a private local Stripe server; print transfers/s and duplicates."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--payouts", type=int, default=1000)
        parser.add_argument(
            "--rate-limit",
            type=float,
            default=0.0,
            help="client-side requests/second (0: off, measures the server; production: 20)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=0,
            help="send from N Celery worker processes sharing the Redis rate limiter "
            "(needs PostgreSQL and REDIS_URL; commits to a scratch database)",
        )
        parser.add_argument(
            "--server-rate-limit",
            type=float,
            default=25.0,
            help="with --workers: the local server answers 429 above this many requests/second "
            "(default 25, Stripe's test-mode limit); the client limit defaults to 95%% of it",
        )
        parser.add_argument(
            "--burst",
            type=float,
            default=1.0,
            help="with --workers: the client bucket's burst (STRIPE_RATE_BURST; default 1)",
        )
        parser.add_argument(
            "--fault-every",
            type=int,
            default=0,
            help="arm a drop_after_commit fault before every Nth payout (retry path under load)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from local_stripe import LocalStripeServer, ServerConfig

        logging.getLogger("stripe").setLevel(logging.WARNING)
        n = int(options["payouts"])
        if not 1 <= n <= 100_000:
            raise CommandError("--payouts must be from 1 to 100,000")
        amount = 1_000
        if options["workers"]:
            self._handle_workers(n, amount, options)
            return
        server = LocalStripeServer(
            ServerConfig(port=0, initial_balance={"usd": amount * n + 1})
        ).start()
        try:
            with override_settings(
                STRIPE_API_BASE=server.url,
                STRIPE_SECRET_KEY="sk_test_faiross_bench",
                STRIPE_RATE_LIMIT=float(options["rate_limit"]),
                FAIROSS_PAYOUT_THRESHOLD_MIN=1,
                FAIROSS_PAYOUT_THRESHOLD_DEFAULT=1,
                FAIROSS_TAX_FORM_THRESHOLD=10**12,
            ):
                try:
                    with transaction.atomic():
                        self._bench(n, amount, Control(server.url), options)
                        raise _Rollback
                except _Rollback:
                    pass
        finally:
            server.stop()

    def _bench(self, n: int, amount: int, control: Any, options: dict[str, Any]) -> None:
        client = _stripe()
        stamp = time.strftime("%Y%m%d%H%M%S")
        started = time.perf_counter()
        accounts = self._accounts(n, amount, control, stamp)
        payouts = []
        for account in accounts:
            payout, reason = transfers.payout_create(account=account, currency="usd")
            if payout is None:
                raise CommandError(f"payout not created: {reason}")
            payouts.append(payout)
        self.stdout.write(f"Set-up took {time.perf_counter() - started:.1f} s.")

        every = int(options["fault_every"])
        results: Counter[str] = Counter()
        started = time.perf_counter()
        for i, payout in enumerate(payouts, start=1):
            if every and i % every == 0:
                control.fault("/v1/transfers", "drop_after_commit", method="POST")
            result = transfers.payout_send(payout_id=payout.pk)
            while result == transfers.SendResult.RETRY:
                result = transfers.payout_send(payout_id=payout.pk)
            results[result] += 1
        elapsed = time.perf_counter() - started

        duplicates, at_server = _transfer_groups(client)
        sent = Payout.objects.filter(pk__in=[p.pk for p in payouts], status="sent").count()
        self.stdout.write(
            f"{n} payouts: {dict(results)}; {sent} sent, {at_server} transfers at "
            f"the server in {elapsed:.2f} s = {n / elapsed:.1f} transfers/second "
            f"(rate limit: {options['rate_limit'] or 'off'})"
        )
        self.stdout.write(f"duplicates: {duplicates}")
        if duplicates or sent != n or at_server != n:
            raise CommandError("duplicate or missing transfers")
        self.stdout.write(self.style.SUCCESS("No duplicates. (Nothing was committed.)"))

    def _accounts(self, n: int, amount: int, control: Any, stamp: str) -> list[ConnectedAccount]:
        """n people with onboarded connected accounts and ``amount`` USD available each."""
        client = _stripe()
        self.stdout.write(f"Creating {n} onboarded connected accounts on {control.base_url} ...")

        def make_account(i: int) -> str:
            account = client.v1.accounts.create(
                params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
            )
            control.onboard(account.id, "complete")
            return str(account.id)

        with ThreadPoolExecutor(max_workers=8) as pool:
            account_ids = list(pool.map(make_account, range(n)))
        User = get_user_model()
        users = User.objects.bulk_create(
            [User(username=f"bench-{stamp}-{i}") for i in range(n)], batch_size=2000
        )
        users = list(User.objects.filter(username__startswith=f"bench-{stamp}-").order_by("pk"))
        accounts = ConnectedAccount.objects.bulk_create(
            [
                ConnectedAccount(
                    user=u,
                    stripe_account_id=a,
                    status=ConnectedAccount.Status.ENABLED,
                    details_submitted=True,
                    payouts_enabled=True,
                    transfers_active=True,
                )
                for u, a in zip(users, account_ids, strict=True)
            ],
            batch_size=2000,
        )
        legs = [Leg(user_key(u.username), "available", "usd", amount) for u in users]
        ledger_post(
            idempotency_key=f"bench:{stamp}",
            kind=LedgerTransaction.Kind.DISTRIBUTION,
            reference=f"bench:{stamp}",
            legs=[Leg(PLATFORM, "pool", "usd", -amount * n), *legs],
        )
        return accounts

    # --- N Celery workers ---------------------------------------------------------------------

    def _handle_workers(self, n: int, amount: int, options: dict[str, Any]) -> None:
        from local_stripe import LocalStripeServer, ServerConfig

        workers = int(options["workers"])
        limit = float(options["server_rate_limit"])
        rate = float(options["rate_limit"]) or 0.95 * limit
        if not 1 <= workers <= 32:
            raise CommandError("--workers must be from 1 to 32")
        if connection.vendor != "postgresql":
            raise CommandError("--workers needs PostgreSQL (worker processes share the database)")
        if not settings.REDIS_URL:
            raise CommandError("--workers needs REDIS_URL (the broker and the shared rate limit)")
        if limit <= 0:
            raise CommandError("--server-rate-limit must be positive (the fraction is of it)")
        server = LocalStripeServer(
            ServerConfig(port=0, initial_balance={"usd": amount * n + 1})
        ).start()
        original = connection.settings_dict["NAME"]
        test_name = connection.settings_dict["TEST"].get("NAME")
        connection.settings_dict["TEST"]["NAME"] = f"{original}_bench_payouts"
        try:
            scratch = connection.creation.create_test_db(
                verbosity=0, autoclobber=True, serialize=False, keepdb=True
            )
            self.stdout.write(f"Scratch database {scratch} (kept for the next run).")
            with override_settings(
                STRIPE_API_BASE=server.url,
                STRIPE_SECRET_KEY="sk_test_faiross_bench",
                STRIPE_RATE_LIMIT=0.0,  # the set-up is not what is measured
                FAIROSS_PAYOUT_THRESHOLD_MIN=1,
                FAIROSS_PAYOUT_THRESHOLD_DEFAULT=1,
                FAIROSS_TAX_FORM_THRESHOLD=10**12,
            ):
                self._bench_workers(n, amount, Control(server.url), workers, limit, rate, options)
        finally:
            connection.creation.destroy_test_db(original, verbosity=0, keepdb=True)
            connection.settings_dict["TEST"]["NAME"] = test_name
            server.stop()

    def _bench_workers(
        self,
        n: int,
        amount: int,
        control: Control,
        workers: int,
        limit: float,
        rate: float,
        options: dict[str, Any],
    ) -> None:
        from devtools.simulation.parallel import _url_with_db
        from faiross.celery import app

        stamp = time.strftime("%Y%m%d%H%M%S") + f"-{os.getpid()}"
        queue = f"bench-payouts-{stamp}"
        accounts = self._accounts(n, amount, control, stamp)
        # This process only enqueues, to a queue of the benchmark's own (a developer's worker
        # on the same Redis does not take these tasks, nor these workers anyone else's).
        app.conf.task_always_eager = False
        app.conf.task_default_queue = queue
        app.conf.task_routes = {"payouts.tasks.payout_send_task": {"queue": queue}}
        env = {
            **os.environ,
            # Persistent connections, as production configures (CONN_MAX_AGE).
            "DATABASE_URL": _url_with_db(str(connection.settings_dict["NAME"]))
            + "?conn_max_age=60",
            "REDIS_URL": str(settings.REDIS_URL),
            "FAIROSS_EAGER": "0",
            "STRIPE_API_BASE": control.base_url,
            "STRIPE_SECRET_KEY": "sk_test_faiross_bench",
            "STRIPE_RATE_LIMIT": str(rate),
            "STRIPE_RATE_BURST": str(float(options["burst"])),
            "STRIPE_RATE_BUCKET": f"bench-{stamp}",  # not the bucket of a real Stripe account
            "FAIROSS_TAX_FORM_THRESHOLD": str(10**12),
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        names = [f"bench{i}-{stamp}@%h" for i in range(1, workers + 1)]
        log_dir = Path(settings.BASE_DIR) / "var"
        log_dir.mkdir(exist_ok=True)
        log = open(log_dir / "bench-payouts-workers.log", "w")  # noqa: SIM115
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "faiross",
                    "worker",
                    "--pool=solo",
                    "-Q",
                    queue,
                    "-n",
                    name,
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=INFO",  # each task's run time, in the log
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for name in names
        ]
        try:
            self._wait_for_workers(app, processes, names)
            self._send_from_workers(n, accounts, control, workers, limit, rate, processes)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
            log.close()
            with app.connection_for_write() as conn:  # tasks left on this benchmark's queue
                Queue(queue, channel=conn.default_channel).purge()

    def _wait_for_workers(self, app: Any, processes: list[Any], names: list[str]) -> None:
        import socket

        expected = {name.replace("%h", socket.gethostname()) for name in names}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                raise CommandError("a worker exited at start-up: see var/bench-payouts-workers.log")
            replies = app.control.ping(destination=sorted(expected), timeout=1.0)
            if {name for reply in replies for name in reply} >= expected:
                return
        raise CommandError("the workers did not start in 180 s: see var/bench-payouts-workers.log")

    def _send_from_workers(
        self,
        n: int,
        accounts: list[ConnectedAccount],
        control: Control,
        workers: int,
        limit: float,
        rate: float,
        processes: list[Any],
    ) -> None:
        control.call("/_test/settings", {"rate_limit": limit})
        control.call("/_test/requests", method="DELETE")
        self.stdout.write(
            f"{workers} workers ready; sending {n} payouts (server limit {limit:g}/s, "
            f"client limit {rate:g}/s shared through Redis) ..."
        )
        created = time.perf_counter()
        marks: list[float] = []
        with transaction.atomic():  # each payout's task is enqueued when this commits
            # Registered first, so it runs first on commit: the clock starts with the first
            # task enqueued, after the payouts were created.
            transaction.on_commit(lambda: marks.append(time.perf_counter()))
            payouts = []
            for account in accounts:
                payout, reason = transfers.payout_create(account=account, currency="usd")
                if payout is None:
                    raise CommandError(f"payout not created: {reason}")
                payouts.append(payout.pk)
        started = marks[0]
        self.stdout.write(f"{n} payouts created in {started - created:.1f} s and enqueued.")
        pending = Payout.objects.filter(pk__in=payouts, status=Payout.Status.PENDING)
        deadline = time.monotonic() + 120 + 3 * n / rate
        while pending.exists():
            if time.monotonic() > deadline:
                raise CommandError(f"{pending.count()} payouts still pending at the deadline")
            if any(p.poll() is not None for p in processes):
                raise CommandError("a worker died: see var/bench-payouts-workers.log")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        control.call("/_test/settings", {"rate_limit": 0})

        posts = control.call("/_test/requests?method=POST&path_prefix=/v1/transfers", method="GET")
        statuses = Counter(int(e["status"]) for e in posts["data"])
        succeeded: dict[str, float] = {}
        for entry in posts["data"]:
            if entry["status"] == 200:
                succeeded.setdefault(str(entry["idempotency_key"]), float(entry["time"]))
        limited = [e for e in posts["data"] if e["status"] == 429]
        retried = sum(
            1 for e in limited if succeeded.get(str(e["idempotency_key"]), 0.0) > float(e["time"])
        )
        duplicates, at_server = _transfer_groups(_stripe())
        sent = Payout.objects.filter(pk__in=payouts, status=Payout.Status.SENT).count()
        per_s = n / elapsed
        self.stdout.write(
            f"{sent} of {n} payouts sent; transfer requests at the server by status: "
            f"{dict(sorted(statuses.items()))}; {len(limited)} answered 429, {retried} of "
            f"them retried until sent."
        )
        self.stdout.write(
            f"workers={workers} transfers={at_server} seconds={elapsed:.2f} per_s={per_s:.2f} "
            f"limit={limit:g} fraction={per_s / limit:.3f} duplicates={duplicates} "
            f"retried_429={retried}"
        )
        if duplicates or sent != n or at_server != n or retried != len(limited):
            raise CommandError("duplicate, missing or unretried transfers")


def _transfer_groups(client: Any) -> tuple[int, int]:
    """(duplicate transfers, all transfers) at the server: a transfer group with more than
    one transfer is a payout paid twice."""
    groups: Counter[str] = Counter()
    for transfer in client.v1.transfers.list(params={"limit": 100}).auto_paging_iter():
        groups[str(transfer.transfer_group)] += 1
    return sum(c - 1 for c in groups.values() if c > 1), sum(groups.values())
