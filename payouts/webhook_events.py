"""Webhook events of the payouts layer (issue 12; the sending is in projects.webhooks).

``run.done`` goes to each project and company that had money in the run, with that owner's
own figures only: what it kept (reserve or escrow) and, for a company, what it paid in. What
people received is theirs alone (privacy rule 9) and is never in a payload.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Sum
from django.urls import reverse

from projects.webhooks.emitters import site_url
from projects.webhooks.events import RUN_DONE
from projects.webhooks.services import event_emit

from .models import DistributionRun, Inflow, RunAllocation


def run_done_emit(*, run: DistributionRun) -> None:
    """``run.done`` to the owners with an endpoint for it that took part in ``run``.
    Precondition: ``run`` was just marked done, in the caller's transaction."""

    def data(owner_key: str) -> dict[str, object] | None:
        kind, _, slug = owner_key.partition(":")
        kept: dict[str, dict[str, int]] = defaultdict(dict)
        rows = (
            RunAllocation.objects.filter(run=run, recipient=owner_key)
            .values("currency", "purpose")
            .annotate(total=Sum("amount"))
        )
        for row in rows:
            kept[row["currency"]][row["purpose"]] = int(row["total"])
        paid_in: dict[str, int] = {}
        if kind == "company":
            for inflow in (
                Inflow.objects.filter(run=run, company__slug=slug)
                .values("currency")
                .annotate(total=Sum("amount"))
            ):
                paid_in[inflow["currency"]] = int(inflow["total"])
        if not kept and not paid_in:
            return None  # this owner had no money in the run
        return {
            "run": {
                "id": run.pk,
                "cutoff": run.cutoff,
                "finished_at": run.finished_at,
                "totals": run.totals or {},
                "url": site_url(reverse("payouts:run", args=[run.pk])),
            },
            "kept": dict(kept),
            **({"paid_in": paid_in} if kind == "company" else {}),
        }

    event_emit(owner_keys=None, event_type=RUN_DONE, data=data)
