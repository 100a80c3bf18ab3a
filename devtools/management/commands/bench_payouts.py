"""Benchmark: N payouts through the real services against a private local Stripe server.

Starts the local Stripe test server on a free port, creates N people with onboarded connected
accounts and an available balance, creates their payouts and sends each one's transfer with
``payout_send`` (the code the Celery task runs), then prints transfers per second and the
number of duplicate transfers (transfer groups with more than one transfer; must be 0).
Everything it writes to the database is rolled back at the end (the ledger is append-only,
so the benchmark never commits). Optional faults exercise the retry paths under load.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

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

    def call(self, path: str, data: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the local server's http URL
            self.base_url + path, data=json.dumps(data).encode(), method="POST"
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
        self.stdout.write(f"Creating {n} onboarded connected accounts on {control.base_url} ...")
        started = time.perf_counter()

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

        groups: Counter[str] = Counter()
        for transfer in client.v1.transfers.list(params={"limit": 100}).auto_paging_iter():
            groups[str(transfer.transfer_group)] += 1
        duplicates = sum(c - 1 for c in groups.values() if c > 1)
        sent = Payout.objects.filter(pk__in=[p.pk for p in payouts], status="sent").count()
        self.stdout.write(
            f"{n} payouts: {dict(results)}; {sent} sent, {sum(groups.values())} transfers at "
            f"the server in {elapsed:.2f} s = {n / elapsed:.1f} transfers/second "
            f"(rate limit: {options['rate_limit'] or 'off'})"
        )
        self.stdout.write(f"duplicates: {duplicates}")
        if duplicates or sent != n or sum(groups.values()) != n:
            raise CommandError("duplicate or missing transfers")
        self.stdout.write(self.style.SUCCESS("No duplicates. (Nothing was committed.)"))
