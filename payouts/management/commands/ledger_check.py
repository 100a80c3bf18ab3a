"""Verifies every ledger invariant; exit status 0 only when all hold."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Sum

from payouts.distribution.runs import snapshot_released
from payouts.ledger_checks import ledger_checks
from payouts.models import (
    Account,
    DistributionRun,
    Inflow,
    LedgerTransaction,
    Posting,
    RunAllocation,
)

NON_NEGATIVE = ("available", "escrow", "reserve", "held", "in_transit", "pool", "bounty")


class Command(BaseCommand):
    help = "Check the ledger: balanced transactions, currencies, inflows, runs, balances."

    def handle(self, *args: object, **options: object) -> None:
        problems: list[str] = []

        def check(name: str, found: list[str]) -> None:
            status = "ok" if not found else f"{len(found)} problem(s)"
            self.stdout.write(f"- {name}: {status}")
            for line in found[:20]:
                self.stdout.write(f"    {line}")
            problems.extend(found)

        n_txn = LedgerTransaction.objects.count()
        n_post = Posting.objects.count()
        self.stdout.write(
            f"Ledger: {n_txn} transactions, {n_post} postings, {Account.objects.count()} accounts"
        )

        unbalanced = (
            Posting.objects.values("transaction_id", "currency")
            .annotate(total=Sum("amount"))
            .exclude(total=0)
        )
        check(
            "every transaction sums to zero per currency",
            [
                f"transaction {r['transaction_id']} {r['currency']}: {r['total']}"
                for r in unbalanced[:100]
            ],
        )
        empty = LedgerTransaction.objects.annotate(n=Count("postings")).filter(n=0)
        check(
            "every transaction has postings",
            [f"transaction {t.pk} ({t.kind})" for t in empty[:100]],
        )
        wrong_currency = Posting.objects.exclude(currency=models_currency()).values_list(
            "pk", flat=True
        )
        check(
            "posting currency equals its account's",
            [f"posting {pk}" for pk in wrong_currency[:100]],
        )
        zero = Posting.objects.filter(amount=0).values_list("pk", flat=True)
        check("no zero postings", [f"posting {pk}" for pk in zero[:100]])
        whole = Posting.objects.values("currency").annotate(total=Sum("amount")).exclude(total=0)
        check(
            "the whole ledger sums to zero per currency",
            [f"{r['currency']}: {r['total']}" for r in whole],
        )
        negative = (
            Posting.objects.filter(account__purpose__in=NON_NEGATIVE)
            .values("account__owner", "account__purpose", "account__currency")
            .annotate(total=Sum("amount"))
            .filter(total__lt=0)
        )
        check(
            "no negative pool, available, escrow, reserve, held or in-transit balance",
            [
                "{}/{}/{}: {}".format(
                    r["account__owner"], r["account__purpose"], r["account__currency"], r["total"]
                )
                for r in negative[:100]
            ],
        )
        inflow_problems = []
        for inflow in Inflow.objects.select_related("ledger_transaction").iterator():
            pool = inflow.ledger_transaction.postings.filter(account__purpose="pool").aggregate(
                t=Sum("amount")
            )["t"]
            if pool != inflow.amount:
                inflow_problems.append(
                    f"inflow {inflow.pk}: pool credited {pool}, amount {inflow.amount}"
                )
        check("each inflow credited its amount to the pool once", inflow_problems)
        run_problems = []
        for run in DistributionRun.objects.filter(status="done"):
            for currency, total in (run.totals or {}).items():
                taken = (
                    Inflow.objects.filter(run=run, currency=currency).aggregate(t=Sum("amount"))[
                        "t"
                    ]
                    or 0
                ) + sum(  # escrow of newly verified projects released into the run (rule 8)
                    amount
                    for _, _, cur, amount in snapshot_released(run.snapshot or {})
                    if cur == currency
                )
                allocated = (
                    RunAllocation.objects.filter(run=run, currency=currency).aggregate(
                        t=Sum("amount")
                    )["t"]
                    or 0
                )
                posted = (
                    Posting.objects.filter(
                        transaction__idempotency_key=f"run:{run.pk}:{currency}", amount__gt=0
                    )
                    .exclude(account__purpose="pool")
                    .aggregate(t=Sum("amount"))["t"]
                    or 0
                )
                if not taken == allocated == posted == total:
                    run_problems.append(
                        f"run {run.pk} {currency}: inflows {taken}, allocated {allocated}, "
                        f"posted {posted}, total {total}"
                    )
        check("each finished run posted exactly its inflows", run_problems)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT tgname FROM pg_trigger WHERE tgname IN "
                    "('payouts_posting_append_only', 'payouts_ledgertransaction_append_only', "
                    "'payouts_posting_balanced')"
                )
                names = {row[0] for row in cursor.fetchall()}
            missing = {
                "payouts_posting_append_only",
                "payouts_ledgertransaction_append_only",
                "payouts_posting_balanced",
            } - names
            check(
                "database triggers guard the ledger",
                [f"missing trigger {m}" for m in sorted(missing)],
            )
        for _, extra in ledger_checks.items():  # checks of higher apps (market units)
            for name, found in extra():
                check(name, found)
        if problems:
            raise CommandError(f"ledger check failed: {len(problems)} problem(s)")
        self.stdout.write(self.style.SUCCESS("Ledger check passed: every invariant holds."))


def models_currency():  # type: ignore[no-untyped-def]
    from django.db.models import F

    return F("account__currency")
