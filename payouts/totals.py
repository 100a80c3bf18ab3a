"""Site-wide totals for the home page, and what each project received, for explore.

Money figures come from the ledger (``Posting``), never from page-level sums of runs:

* **money in**: what companies contributed, net of reversals: minus the balance of every
  company's ``contributed`` account;
* **distributed**: money in that runs have passed on: money in minus what still waits in the
  inflow pool (escrow a run released goes back through the pool, so it is not counted twice);
* **paid out**: the balance of every ``paid_out`` account (confirmed Stripe transfers).

Counts: projects and verified projects; **companies** that have paid money in; **people**:
person recipients (``user:``, ``github:``, ``email:``) ever credited by a run, an identity
claimed by a user counted once, as its user. The number of people is only shown from
``PEOPLE_SHOWN_FROM`` up (below, "fewer than …"), so a total can never point at one person.

The totals are cached (Django cache, key ``TOTALS_CACHE_KEY``) for ``TOTALS_TTL_SECONDS``
(60 s): the home page reads them with no query most of the time, and a finished run clears
the key (``project_received_add``), so its money shows at once.

What each project received is kept in ``ProjectReceived``, added once per done run from the
run's public flows by ``project_received_add`` (called at the end of
``distribution_run_execute``), so the explore page sorts and filters 100,000 projects by one
indexed table instead of summing flows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from faiross.kernel.money import money_format
from projects.models import Project

from .models import (
    Account,
    ClaimedIdentity,
    DistributionRun,
    LedgerTransaction,
    Posting,
    ProjectReceived,
    ProjectReceivedRun,
    RunFlow,
    RunPublication,
)

TOTALS_CACHE_KEY = "faiross:site-totals:v1"
TOTALS_TTL_SECONDS = 60
PEOPLE_SHOWN_FROM = 10
PERSON_PREFIXES = ("user:", "github:", "email:")
BATCH = 5_000


@dataclass(frozen=True)
class SiteTotals:
    """Totals per currency in minor units (``{currency: amount}``, non-zero only)."""

    money_in: dict[str, int] = field(default_factory=dict)
    distributed: dict[str, int] = field(default_factory=dict)
    paid_out: dict[str, int] = field(default_factory=dict)
    projects: int = 0
    verified_projects: int = 0
    companies: int = 0
    people: int = 0

    @property
    def people_shown(self) -> int | None:
        """The number of people, or None when it is below ``PEOPLE_SHOWN_FROM``."""
        return self.people if self.people >= PEOPLE_SHOWN_FROM else None

    @property
    def currencies(self) -> list[str]:
        return sorted(set(self.money_in) | set(self.distributed) | set(self.paid_out))

    def formatted(self) -> list[dict[str, str]]:
        """Per currency, the three money figures as users read them."""
        return [
            {
                "currency": c.upper(),
                "money_in": money_format(amount=self.money_in.get(c, 0), currency=c),
                "distributed": money_format(amount=self.distributed.get(c, 0), currency=c),
                "paid_out": money_format(amount=self.paid_out.get(c, 0), currency=c),
            }
            for c in self.currencies
        ]


def _person_q(prefix: str = "") -> Q:
    q = Q()
    for p in PERSON_PREFIXES:
        q |= Q(**{f"{prefix}owner__startswith": p})
    return q


def site_totals_compute() -> SiteTotals:
    """The totals, read now from the ledger and the project table (four queries)."""
    sums: dict[tuple[str, str], int] = {}
    rows = (
        Posting.objects.filter(
            account__purpose__in=[
                Account.Purpose.CONTRIBUTED,
                Account.Purpose.POOL,
                Account.Purpose.PAID_OUT,
            ]
        )
        .values("account__purpose", "account__currency")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        sums[(row["account__purpose"], row["account__currency"])] = int(row["total"] or 0)
    currencies = {c for _, c in sums}
    money_in = {c: -sums.get(("contributed", c), 0) for c in currencies}
    distributed = {c: money_in[c] - sums.get(("pool", c), 0) for c in currencies}
    paid_out = {c: sums.get(("paid_out", c), 0) for c in currencies}
    counts = Project.objects.aggregate(
        total=Count("pk"), verified=Count("pk", filter=Q(verified_at__isnull=False))
    )
    companies = (
        Account.objects.filter(purpose=Account.Purpose.CONTRIBUTED, owner__startswith="company:")
        .values("owner")
        .distinct()
        .count()
    )
    people = (
        Account.objects.filter(_person_q())
        .filter(
            Exists(
                Posting.objects.filter(
                    account=OuterRef("pk"),
                    amount__gt=0,
                    transaction__kind=LedgerTransaction.Kind.DISTRIBUTION,
                )
            )
        )
        # A claimed identity's money moved to its user, who is counted as themselves.
        .exclude(owner__in=ClaimedIdentity.objects.values("identity"))
        .values("owner")
        .distinct()
        .count()
    )
    return SiteTotals(
        money_in={c: v for c, v in money_in.items() if v},
        distributed={c: v for c, v in distributed.items() if v},
        paid_out={c: v for c, v in paid_out.items() if v},
        projects=int(counts["total"]),
        verified_projects=int(counts["verified"]),
        companies=companies,
        people=people,
    )


def site_totals() -> SiteTotals:
    """The totals, from the cache when they are at most ``TOTALS_TTL_SECONDS`` old."""
    totals = cache.get(TOTALS_CACHE_KEY)
    if not isinstance(totals, SiteTotals):
        totals = site_totals_compute()
        cache.set(TOTALS_CACHE_KEY, totals, TOTALS_TTL_SECONDS)
    return totals


# --- what each project received --------------------------------------------------------------


def _project_flows(run_id: int) -> QuerySet[RunFlow]:
    """The run's hops from a node (a company or a project) into a project: what reached the
    project. Hops out of a released ``<key> (escrow)`` are left out: that money was counted
    when it first reached the project, in the run that put it in escrow."""
    return (
        RunFlow.objects.filter(run_id=run_id, target__startswith="project:")
        .filter(Q(source__startswith="company:") | Q(source__startswith="project:"))
        .exclude(target__contains=" ")
        .exclude(source__contains=" ")
    )


def _received_write(increments: dict[tuple[str, str, str], int]) -> None:
    """Add ``{(slug, funder, currency): cents}`` to the stored totals, in batches."""
    by_slug: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for (slug, funder, currency), cents in increments.items():
        by_slug[slug].append((funder, currency, cents))
    slugs = sorted(by_slug)
    for start in range(0, len(slugs), BATCH):
        chunk = slugs[start : start + BATCH]
        ids = dict(Project.objects.filter(slug__in=chunk).values_list("slug", "pk"))
        current = {
            (r.project_id, r.funder, r.currency): r
            for r in ProjectReceived.objects.filter(project_id__in=ids.values())
        }
        new, changed = [], []
        for slug in chunk:
            if slug not in ids:
                continue  # the project was removed since; nothing to show it on
            for funder, currency, cents in by_slug[slug]:
                row = current.get((ids[slug], funder, currency))
                if row is None:
                    new.append(
                        ProjectReceived(
                            project_id=ids[slug], funder=funder, currency=currency, amount=cents
                        )
                    )
                else:
                    row.amount += cents
                    changed.append(row)
        ProjectReceived.objects.bulk_create(new, batch_size=BATCH)
        ProjectReceived.objects.bulk_update(changed, ["amount"], batch_size=BATCH)


def project_received_add(*, run_id: int) -> bool:
    """Count done run ``run_id``'s flows into each project's received totals, once: a second
    call (a retry, a re-run of a done run) changes nothing and answers False. A run that is
    not done or not yet published (no flows) is not counted, so it can be counted later.
    Invariant: each project's total in a currency is the sum of the flows into it in every
    counted run, and its per-company rows are the part its funders' tables sent directly.
    """
    with transaction.atomic():
        run = DistributionRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != DistributionRun.Status.DONE:
            return False
        if not RunPublication.objects.filter(run_id=run_id).exists():
            return False
        _, created = ProjectReceivedRun.objects.get_or_create(run_id=run_id)
        if not created:
            return False
        increments: dict[tuple[str, str, str], int] = defaultdict(int)
        flows = _project_flows(run_id).values_list("source", "target", "currency", "amount")
        for source, target, currency, amount in flows.iterator(chunk_size=BATCH):
            slug = target.removeprefix("project:")
            increments[(slug, "", currency)] += int(amount)
            if source.startswith("company:"):
                increments[(slug, source, currency)] += int(amount)
        _received_write(increments)
    cache.delete(TOTALS_CACHE_KEY)
    return True


def project_received_rebuild() -> int:
    """Count every done, published run again from nothing (for runs published after they
    were done, e.g. by ``manage.py run_publish``); answers how many runs were counted."""
    with transaction.atomic():
        ProjectReceived.objects.all().delete()
        ProjectReceivedRun.objects.all().delete()
    done = DistributionRun.objects.filter(status=DistributionRun.Status.DONE).order_by("pk")
    return sum(project_received_add(run_id=pk) for pk in done.values_list("pk", flat=True))


def explore_money_filter(
    projects: QuerySet[Project],
    *,
    received: str,
    low: int | None,
    high: int | None,
    funded_by: str,
    currency: str,
    sort_received: bool,
) -> QuerySet[Project]:
    """Fills ``projects.explore.explore_money_filter``: narrows by the stored totals, and
    orders by what reached each project in ``currency`` (most first; only projects that
    received some), reading the ``projectreceived_rank`` index in order."""
    totals = ProjectReceived.objects.filter(project=OuterRef("pk"), funder="")
    if received == "yes":
        projects = projects.filter(Exists(totals))
    elif received == "no":
        projects = projects.exclude(Exists(totals))
    elif low is not None:
        in_range = totals.filter(currency=currency, amount__gte=max(low, 1))
        if high is not None:
            in_range = in_range.filter(amount__lt=high)
        projects = projects.filter(Exists(in_range))
    if funded_by:
        projects = projects.filter(
            Exists(ProjectReceived.objects.filter(project=OuterRef("pk"), funder=funded_by))
        )
    if sort_received:
        projects = projects.filter(
            received_totals__funder="", received_totals__currency=currency
        ).order_by("-received_totals__amount", "slug")
    return projects


def explore_received_of(project_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Fills ``projects.explore.explore_received_of``: one query for a page of projects."""
    out: dict[int, list[tuple[str, int]]] = defaultdict(list)
    rows = ProjectReceived.objects.filter(project_id__in=project_ids, funder="").order_by(
        "project_id", "currency"
    )
    for project_id, currency, amount in rows.values_list("project_id", "currency", "amount"):
        out[project_id].append((currency, int(amount)))
    return dict(out)
