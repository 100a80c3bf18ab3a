"""Forecast: what the next distribution run is expected to bring a person, a project or a
company. An estimate, never a promise, and said so wherever it is shown.

Money the next run is expected to take (:func:`expected_inflows`):

* ``received``: inflows already received and not yet distributed (certain);
* ``escrow``: escrow of projects verified since, which the next run releases (certain unless
  a hold starts);
* ``invoiced``: open invoices (pledge periods, dividends declared, liquidity events, carry
  distributions), assumed paid before the run;
* ``pledge``: pledge periods of active pledges that begin before the run's expected cutoff
  and have no invoice yet (``developers x amount``, :func:`companies.terms.pledge_periods`).

Dividend, equity and carry agreements have no schedule: their money becomes due only when a
declaration, liquidity event or carry distribution is recorded (then it is an open invoice).

The money goes through the real engine on the tables active now
(:func:`payouts.distribution.estimate.estimate_compute`): versions, default tables, claims
and verification as a run would snapshot them. One computation answers every recipient; it
is cached under a fingerprint of its inputs, so a new table version, claim, verification,
inflow or invoice makes the next read compute afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max
from django.utils import timezone

from faiross.kernel.recipients import company_key, is_person_key
from payouts.distribution.estimate import all_figures, escrow_to_release, estimate_compute
from payouts.models import ClaimedIdentity, DistributionRun, Inflow
from projects.models import KnownDependency, Project, TableVersion

from . import terms
from .models import Agreement, Invoice

DEFAULT_GAP = dt.timedelta(days=30)
"""Expected time between runs when fewer than two runs are done."""
CACHE_SECONDS = 3600
CACHE_PREFIX = "faiross:forecast:v1"
SOURCES = ("received", "escrow", "invoiced", "pledge")
BUCKETS = 64


@dataclass(frozen=True)
class ExpectedInflow:
    owner: str  # company:<slug>, or project:<slug> for released escrow
    currency: str
    amount: int
    source: str  # one of SOURCES
    description: str


@dataclass(frozen=True)
class Forecast:
    recipient: str
    expected_cutoff: dt.datetime
    computed_at: dt.datetime
    amounts: dict[str, int]  # the recipient's expected figure per currency
    by_source: dict[str, dict[str, int]]  # source -> currency -> money expected in, all owners
    measure: str  # "credited" or "received"

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "estimate": True,
            "measure": self.measure,
            "expected_cutoff": self.expected_cutoff,
            "computed_at": self.computed_at,
            "amounts": [{"currency": c, "amount": v} for c, v in sorted(self.amounts.items())],
            "money_in": [
                {"source": s, "currency": c, "amount": v}
                for s in SOURCES
                for c, v in sorted(self.by_source.get(s, {}).items())
            ],
        }


def next_run_expected(*, now: dt.datetime | None = None) -> dt.datetime:
    """When the next run is expected: the last done run's cutoff plus the median gap between
    the recent done runs (30 days with fewer than two); now when that moment has passed."""
    now = now or timezone.now()
    cutoffs = list(
        DistributionRun.objects.filter(status=DistributionRun.Status.DONE)
        .order_by("-cutoff")
        .values_list("cutoff", flat=True)[:7]
    )
    if not cutoffs:
        return now
    gaps = sorted(a - b for a, b in itertools.pairwise(cutoffs) if a > b)
    gap = gaps[len(gaps) // 2] if gaps else DEFAULT_GAP  # the median (upper, when even)
    return max(cutoffs[0] + gap, now)


def expected_inflows(*, until: dt.date, today: dt.date | None = None) -> list[ExpectedInflow]:
    """Everything the next run is expected to take, by source (see the module docstring)."""
    today = today or timezone.localdate()
    out: list[ExpectedInflow] = []
    received: dict[tuple[str, str], int] = defaultdict(int)
    for slug, currency, amount in Inflow.objects.filter(run__isnull=True).values_list(
        "company__slug", "currency", "amount"
    ):
        received[(company_key(slug), currency)] += amount
    for (owner, currency), amount in sorted(received.items()):
        out.append(ExpectedInflow(owner, currency, amount, "received", "received, not yet run"))
    for owner, currency, amount in escrow_to_release():
        out.append(ExpectedInflow(owner, currency, amount, "escrow", "escrow to be released"))
    for invoice in Invoice.objects.filter(status=Invoice.Status.OPEN).select_related("company"):
        out.append(
            ExpectedInflow(
                invoice.company.owner_key,
                invoice.currency,
                invoice.amount,
                "invoiced",
                f"{invoice.number} due {invoice.due_on.isoformat()}",
            )
        )
    pledges = Agreement.objects.filter(
        kind=Agreement.Kind.PLEDGE, status=Agreement.Status.ACTIVE
    ).select_related("company")
    invoiced = set(
        Invoice.objects.filter(source_key__startswith="pledge:").values_list(
            "source_key", flat=True
        )
    )
    for agreement in pledges:
        for first, _last in terms.pledge_periods(
            start=agreement.start_date, period=agreement.period, until=until, end=agreement.end_date
        ):
            if f"pledge:{agreement.pk}:{first.isoformat()}" in invoiced:
                continue
            amount = agreement.pledge_total or 0
            if amount > 0:
                out.append(
                    ExpectedInflow(
                        agreement.company.owner_key,
                        agreement.currency,
                        amount,
                        "pledge",
                        f"{agreement.reference} period from {first.isoformat()}",
                    )
                )
    return out


def _fingerprint(inflows: list[ExpectedInflow]) -> str:
    """What the forecast depends on besides the money: tables, claims, verification,
    dependencies. A few aggregates, so checking costs milliseconds."""
    versions = TableVersion.objects.aggregate(
        n=Count("pk"), top=Max("pk"), act=Max("activated_at"), sup=Max("superseded_at")
    )
    state = {
        "inflows": [(i.owner, i.currency, i.amount, i.source) for i in inflows],
        "versions": [str(v) for v in versions.values()],
        "claims": str(ClaimedIdentity.objects.aggregate(n=Count("pk"), top=Max("pk"))),
        "verified": str(Project.objects.aggregate(n=Count("verified_at"), top=Max("verified_at"))),
        "statuses": sorted(
            (r["status"], r["n"]) for r in Project.objects.values("status").annotate(n=Count("pk"))
        ),
        "dependencies": str(KnownDependency.objects.aggregate(n=Count("pk"), top=Max("pk"))),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:32]


def _sources(inflows: list[ExpectedInflow]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i in inflows:
        out[i.source][i.currency] += i.amount
    return {s: dict(v) for s, v in out.items()}


def forecast_for(*, recipient: str, now: dt.datetime | None = None) -> Forecast:
    """The forecast of ``recipient``'s next run: a person's expected credit, a project's or a
    company's expected inflow (its pass-through).

    Precondition: the caller checked that the viewer may see the recipient's money (money
    rule 9). Invariant: the engine's figures of every recipient of one computation add up to
    the money expected in (money rule 3 holds for an estimate too).
    """
    now = now or timezone.now()
    cutoff = next_run_expected(now=now)
    inflows = expected_inflows(until=timezone.localdate(cutoff), today=timezone.localdate(now))
    key = f"{CACHE_PREFIX}:{_fingerprint(inflows)}"
    bucket_key = f"{key}:b{_bucket(recipient)}"
    stored = cache.get_many([f"{key}:meta", bucket_key])
    if len(stored) < 2:  # never computed, expired or partly evicted: compute again
        stored = _compute_and_store(key=key, inflows=inflows, now=now)
    bucket = stored[bucket_key]
    return Forecast(
        recipient=recipient,
        expected_cutoff=cutoff,
        computed_at=dt.datetime.fromisoformat(stored[f"{key}:meta"]["computed_at"]),
        amounts=dict(bucket.get(recipient, {})),
        by_source=_sources(inflows),
        measure="credited" if is_person_key(recipient) else "received",
    )


def _bucket(recipient: str) -> int:
    return int.from_bytes(hashlib.sha256(recipient.encode()).digest()[:2], "big") % BUCKETS


def _compute_and_store(
    *, key: str, inflows: list[ExpectedInflow], now: dt.datetime
) -> dict[str, Any]:
    """Compute every recipient's figure once and store them in ``BUCKETS`` cache entries by a
    hash of the recipient: a bucket that is present is complete (a recipient absent from it
    expects nothing), and one evicted bucket only makes the next read compute again."""
    figures = all_figures(
        estimate_compute(inflows=[(i.owner, i.currency, i.amount) for i in inflows])
    )
    buckets: dict[str, dict[str, dict[str, int]]] = {f"{key}:b{b}": {} for b in range(BUCKETS)}
    for recipient, amounts in figures.items():
        buckets[f"{key}:b{_bucket(recipient)}"][recipient] = amounts
    entries: dict[str, Any] = {
        **buckets,
        f"{key}:meta": {"computed_at": now.isoformat(), "recipients": len(figures)},
    }
    cache.set_many(entries, CACHE_SECONDS)
    return entries


def forecast_inflows_shown(*, staff: bool) -> list[ExpectedInflow] | None:
    """The money expected in, line by line, for staff only: a company's open invoices and
    pledges are its own business; others see the totals by source."""
    if not staff:
        return None
    cutoff = next_run_expected()
    return expected_inflows(until=timezone.localdate(cutoff))
