"""Continue a payout run whose worker died (or close it as failed, its payouts safe).

manage.py payout_run_resume            # the open run, if it is stopped
manage.py payout_run_resume --run 12
manage.py payout_run_resume --fail "worker lost during the outage"
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payouts.connect import transfers
from payouts.models import PayoutRun


class Command(BaseCommand):
    help = "Resume a stopped payout run (idempotent), or mark it failed with --fail REASON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, help="The payout run's id (default: the open one)")
        parser.add_argument("--fail", metavar="REASON", help="Close the run as failed instead")

    def handle(self, *args: Any, **options: Any) -> None:
        run_id = options.get("run")
        query = (
            PayoutRun.objects.filter(pk=run_id)
            if run_id
            else PayoutRun.objects.filter(is_open=True)
        )
        run = query.first()
        if run is None:
            raise CommandError(f"No payout run {run_id}." if run_id else "No payout run is open.")
        try:
            if options.get("fail"):
                run = transfers.payout_run_fail(run=run, reason=options["fail"])
            else:
                run = transfers.payout_run_resume(run=run)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"payout run {run.pk}: {run.status} {run.summary}")
