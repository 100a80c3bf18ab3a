"""A company's impact report: per year, what it paid, where the money went, $ per developer,
and the same figures as an Open Source Pledge JSON report.

Where the money went is computed, not estimated: for each done run that took the company's
inflows of a year, the run is computed again from its snapshot with those inflows alone
(the engine is linear, so this is exactly the company's part of the run, rounded to the cent
by the same largest-remainder rule). The year of money is the year it was received; money
of a year that no run has distributed yet is shown as such. Each (run, company, year) part is
cached: done runs never change.

What the models know: the company's country (``Company.country``). People and projects have
no country in FairOSS, so those are reported as unknown rather than guessed. The developer
count comes from the company's pledge agreements (``developers``), averaged over the months
of the year; a company without a pledge gives it on the page (``?developers=``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from django.db.models.functions import ExtractYear
from django.utils import timezone

from faiross.kernel.recipients import is_person_key
from payouts.distribution.changes import run_snapshot
from payouts.distribution.estimate import allocation_rows
from payouts.distribution.runs import run_compute
from payouts.models import Account, DistributionRun, Inflow

from . import terms
from .models import Agreement, Company

CACHE_SECONDS = 30 * 24 * 3600
CACHE_PREFIX = "faiross:impact:v1"
TOP_PROJECTS = 25
PLEDGE_SCHEMA = (
    "https://github.com/opensourcepledge/opensourcepledge.com/blob/main/src/schemas/members.ts"
)


@dataclass
class ProjectShare:
    key: str
    received: int  # what flowed into the project from this company's money
    kept: int  # what it kept (its reserve, or its escrow while unverified)


@dataclass
class YearImpact:
    """One year and currency of a company's money. Invariant:
    ``distributed == to_people + kept_by_projects + in_project_escrow + own_reserve + other``
    and ``paid == distributed + not_distributed``."""

    year: int
    currency: str
    paid: int = 0
    distributed: int = 0
    not_distributed: int = 0
    to_people: int = 0  # credited to people on FairOSS and waiting in escrow for others
    people: int = 0  # distinct people credited (accounts and identities)
    people_waiting: int = 0  # of them, identities not yet on FairOSS (escrow)
    to_people_waiting: int = 0
    kept_by_projects: int = 0  # reserves of verified projects
    in_project_escrow: int = 0  # kept for projects not verified yet
    own_reserve: int = 0  # what the company's own table did not pass on
    other: int = 0  # packages not yet on FairOSS, other companies' reserves
    projects: list[ProjectShare] = field(default_factory=list)
    projects_count: int = 0
    runs: list[int] = field(default_factory=list)

    @property
    def to_open_source(self) -> int:
        """What reached projects, packages and people: the distributed money the company's
        own table did not keep."""
        return self.distributed - self.own_reserve

    @property
    def per_person(self) -> int | None:
        return self.to_people // self.people if self.people else None


@dataclass
class ImpactReport:
    company: Company
    years: list[int]
    year: int | None
    lines: list[YearImpact]  # the chosen year, one per currency
    developers: Decimal | None
    developers_source: str  # "pledge", "given" or "unknown"

    def per_developer(self, line: YearImpact) -> int | None:
        """Minor units per developer (the Pledge's measure: money to open source / devs)."""
        if not self.developers:
            return None
        return int(Decimal(line.to_open_source) / self.developers)

    @property
    def countries(self) -> dict[str, str]:
        return {
            "company": self.company.country or "unknown",
            "people": "unknown",
            "projects": "unknown",
        }


# --- per run ---------------------------------------------------------------------------------


def _run_part(*, run: DistributionRun, company: Company, inflow_ids: set[int]) -> dict[str, Any]:
    """The company's part of one done run for the inflows ``inflow_ids``: allocations summed
    by kind, people, and each project's inflow and what it kept."""
    ids = ",".join(map(str, sorted(inflow_ids)))
    key = f"{CACHE_PREFIX}:{run.pk}:{company.pk}:{hashlib.sha256(ids.encode()).hexdigest()[:24]}"
    cached = cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    snapshot = dict(run_snapshot(run))
    snapshot["inflows"] = [
        row
        for row in snapshot.get("inflows", [])
        if row[1] == company.owner_key and isinstance(row[0], int) and row[0] in inflow_ids
    ]
    part: dict[str, Any] = {"currencies": {}}
    if snapshot["inflows"]:
        computed = run_compute(snapshot)
        node_ids = computed.graph.node_ids or ()
        for currency, result in computed.distribution.currencies.items():
            sums: dict[str, int] = defaultdict(int)
            people: list[tuple[str, str]] = []
            kept: dict[str, int] = defaultdict(int)
            for owner, purpose, cur, cents in allocation_rows(computed.allocations):
                if cur != currency or not cents:
                    continue
                if is_person_key(owner):
                    sums["to_people"] += cents
                    people.append((owner, purpose))
                    if purpose == Account.Purpose.ESCROW:
                        sums["to_people_waiting"] += cents
                elif owner == company.owner_key:
                    sums["own_reserve"] += cents
                elif owner.startswith("project:"):
                    kept[owner] += cents
                    bucket = "in_project_escrow" if purpose == "escrow" else "kept_by_projects"
                    sums[bucket] += cents
                else:
                    sums["other"] += cents
            received = {
                node_ids[i]: int(result.pass_through[i])
                for i in result.pass_through.nonzero()[0].tolist()
                if node_ids[i].startswith("project:")
            }
            part["currencies"][currency] = {
                "total": result.total_cents,
                "sums": dict(sums),
                "people": people,
                "projects": {k: [received.get(k, 0), kept.get(k, 0)] for k in received | kept},
            }
    cache.set(key, part, CACHE_SECONDS)
    return part


# --- the report ------------------------------------------------------------------------------


def _year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    tz = dt.UTC
    return dt.datetime(year, 1, 1, tzinfo=tz), dt.datetime(year + 1, 1, 1, tzinfo=tz)


def impact_years(*, company: Company) -> list[int]:
    """Years in which the company paid money in, newest first."""
    years = (
        Inflow.objects.filter(company=company)
        .annotate(y=ExtractYear("received_at", tzinfo=dt.UTC))
        .values_list("y", flat=True)
        .distinct()
    )
    return sorted({int(y) for y in years}, reverse=True)


def impact_year(*, company: Company, year: int) -> list[YearImpact]:
    """One :class:`YearImpact` per currency the company paid in during ``year`` (UTC)."""
    start, end = _year_bounds(year)
    inflows = list(
        Inflow.objects.filter(company=company, received_at__gte=start, received_at__lt=end)
        .select_related("run")
        .order_by("pk")
    )
    lines: dict[str, YearImpact] = {}
    by_run: dict[int, set[int]] = defaultdict(set)
    runs: dict[int, DistributionRun] = {}
    for inflow in inflows:
        line = lines.setdefault(inflow.currency, YearImpact(year=year, currency=inflow.currency))
        line.paid += inflow.amount
        if inflow.run is not None and inflow.run.status == DistributionRun.Status.DONE:
            by_run[inflow.run.pk].add(inflow.pk)
            runs[inflow.run.pk] = inflow.run
        else:
            line.not_distributed += inflow.amount
    people: dict[str, set[str]] = defaultdict(set)
    waiting: dict[str, set[str]] = defaultdict(set)
    projects: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for run_id in sorted(by_run):
        part = _run_part(run=runs[run_id], company=company, inflow_ids=by_run[run_id])
        for currency, data in part["currencies"].items():
            line = lines.setdefault(currency, YearImpact(year=year, currency=currency))
            line.distributed += data["total"]
            line.runs.append(run_id)
            for name, cents in data["sums"].items():
                setattr(line, name, getattr(line, name) + cents)
            for owner, purpose in data["people"]:
                people[currency].add(owner)
                if purpose == Account.Purpose.ESCROW:
                    waiting[currency].add(owner)
            for key, (received, kept) in data["projects"].items():
                projects[currency][key][0] += received
                projects[currency][key][1] += kept
    for currency, line in lines.items():
        line.people = len(people[currency])
        line.people_waiting = len(waiting[currency])
        shares = [ProjectShare(k, r, kept) for k, (r, kept) in projects[currency].items()]
        shares.sort(key=lambda p: (-p.received, p.key))
        line.projects_count = len(shares)
        line.projects = shares[:TOP_PROJECTS]
    return [lines[c] for c in sorted(lines)]


def pledge_developers(
    *, company: Company, year: int, today: dt.date | None = None
) -> Decimal | None:
    """The average number of developers the company pledged for, over the months of ``year``
    (up to this month in the current year) in which it had an active or ended pledge
    agreement running; None without a pledge in that year."""
    today = today or timezone.localdate()
    pledges = list(
        company.agreements.filter(
            Q(status=Agreement.Status.ACTIVE) | Q(status=Agreement.Status.ENDED),
            kind=Agreement.Kind.PLEDGE,
        )
    )
    months = [dt.date(year, m, 1) for m in range(1, 13) if dt.date(year, m, 1) <= today]
    if not pledges or not months:
        return None
    total = 0
    covered = 0  # months with a pledge: outside them FairOSS does not know the headcount
    for first in months:
        last = terms.add_months(first, 1) - dt.timedelta(days=1)
        in_month = 0
        active = False
        for p in pledges:
            ended = p.ended_at.date() if p.ended_at else None
            end = min(d for d in (p.end_date, ended) if d) if (p.end_date or ended) else None
            if p.start_date <= last and (end is None or end >= first):
                in_month += p.developers or 0
                active = True
        if active:
            total += in_month
            covered += 1
    if not covered:
        return None
    return (Decimal(total) / covered).quantize(Decimal("0.1"))


def impact_report(
    *, company: Company, year: int | None = None, developers: Decimal | None = None
) -> ImpactReport:
    """The report of ``year`` (default: the latest year with money). ``developers`` given by
    the company overrides the count from its pledges (it is not stored)."""
    years = impact_years(company=company)
    chosen = year if year is not None else (years[0] if years else None)
    lines = impact_year(company=company, year=chosen) if chosen is not None else []
    source = "given"
    if developers is None and chosen is not None:
        developers = pledge_developers(company=company, year=chosen)
        source = "pledge" if developers is not None else "unknown"
    elif developers is None:
        source = "unknown"
    return ImpactReport(
        company=company,
        years=years,
        year=chosen,
        lines=lines,
        developers=developers,
        developers_source=source,
    )


# --- Open Source Pledge JSON -----------------------------------------------------------------


def _dollars(cents: int) -> float:
    return float(Decimal(cents) / 100)


def pledge_report(*, company: Company, url: str, developers: Decimal | None = None) -> dict:
    """The company as an Open Source Pledge member report (docs/impact-report.md maps every
    field). Amounts are US dollars as the Pledge asks; money in other currencies is not
    converted (FairOSS has no exchange rates) and is listed under ``faiross`` instead."""
    reports = []
    details = []
    for year in impact_years(company=company):
        report = impact_report(company=company, year=year, developers=developers)
        usd = next((line for line in report.lines if line.currency == "usd"), None)
        paid = usd.to_open_source if usd else 0
        last_day = min(dt.date(year, 12, 31), timezone.localdate())
        devs = float(report.developers) if report.developers is not None else None
        reports.append(
            {
                # The newest schema (src/schemas/members.ts) ...
                "url": url,
                "year": str(year),
                "reportDate": last_day.isoformat(),
                "averageNumberOfDevs": devs,
                "usdAmountPaid": _dollars(paid),
                # ... and the fields of the earlier self-hosted report.
                "dateYearEnding": dt.date(year, 12, 31).isoformat(),
                "payments": _dollars(paid),
            }
        )
        details.append(
            {
                "year": year,
                "developers_source": report.developers_source,
                "currencies": [
                    {
                        "currency": line.currency,
                        "paid": line.paid,
                        "distributed": line.distributed,
                        "not_yet_distributed": line.not_distributed,
                        "to_open_source": line.to_open_source,
                        "own_reserve": line.own_reserve,
                        "to_people": line.to_people,
                        "people": line.people,
                        "projects": line.projects_count,
                        "top_projects": [
                            {"project": p.key, "received": p.received} for p in line.projects
                        ],
                    }
                    for line in report.lines
                ],
            }
        )
    description = f"{company.name} pays open source maintainers through FairOSS share tables."
    return {
        "name": company.name,
        "description": description,
        "shortDescription": description,
        "url": company.website or url,
        "urlLearnMore": url,
        "joinDate": timezone.localtime(company.created_at).date().isoformat(),
        "annualReports": reports,
        "faiross": {
            "schema": PLEDGE_SCHEMA,
            "amounts": "minor units (cents) per currency; usdAmountPaid is US dollars",
            "country": company.country or "unknown",
            "years": details,
        },
    }
