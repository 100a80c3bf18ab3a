"""Public, project-level money of one project or company, read from the runs' published flows
(:class:`~payouts.models.RunFlow`): what came in, was passed on, kept and paid to people per
run, who funded it (companies, directly and through other projects), and the totals a badge
shows. Nothing here names a person: flows sum every person a node paid into ``people``.

Reads are bounded by the number of runs looked at (:data:`RUNS_SHOWN`) and the depth of the
upstream walk (:data:`UPSTREAM_DEPTH`), never by the number of tables or entries, and the
result is cached per project and latest run (a new run gives a new cache key, so nothing goes
stale when a run finishes; :data:`CACHE_SECONDS` bounds how long a re-published run's old
figures can stay).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from babel.numbers import format_compact_currency, format_currency
from django.core.cache import cache
from django.db.models import Count, Q, Sum

from faiross.kernel.allocation import allocate
from faiross.kernel.money import minor_units
from faiross.kernel.recipients import recipient_split
from payouts.distribution.publish import ENTRY_SOURCE, PEOPLE
from payouts.models import DistributionRun, RunFlow

RUNS_SHOWN = 12
"""How many of the latest done runs the project page looks at (a year of monthly runs)."""
UPSTREAM_DEPTH = 4
"""How many project hops upstream "who funds it" follows; money from further up is shown as
coming through the last project reached (one query per hop, so the page stays bounded)."""
UPSTREAM_NODES = 400
"""At most this many upstream projects are traced per page (a popular project's dependents)."""
CACHE_SECONDS = 600
ESCROW_RELEASED = "escrow"
"""Origin of money a project got from its own escrow (money of earlier runs, released)."""
UNTRACED = "untraced"
"""Origin of money from further upstream than :data:`UPSTREAM_DEPTH` hops."""
PAYMENTS = ENTRY_SOURCE
"""Origin of money a node received straight from payments (a company's own inflows)."""
_WEIGHT_SCALE = 10**9


@dataclass(frozen=True)
class RunMoney:
    """One run's money at one project, in one currency (minor units)."""

    run_id: int
    period: str
    currency: str
    money_in: int
    passed_on: int
    kept: int
    to_people: int


@dataclass(frozen=True)
class FunderLine:
    """Money from one origin (``company:<slug>``, or :data:`ESCROW_RELEASED`,
    :data:`UNTRACED`, :data:`PAYMENTS`) in one period and currency: ``direct`` came straight
    from it, ``via`` through other projects (largest first); ``total`` is their sum."""

    origin: str
    currency: str
    direct: int
    via: tuple[tuple[str, int], ...]
    total: int

    @property
    def is_company(self) -> bool:
        return self.origin.startswith("company:")

    @property
    def slug(self) -> str:
        return recipient_split(self.origin)[1] if ":" in self.origin else ""


@dataclass(frozen=True)
class FunderPeriod:
    period: str
    lines: tuple[FunderLine, ...]
    totals: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ProjectMoney:
    runs: tuple[RunMoney, ...] = ()
    periods: tuple[FunderPeriod, ...] = ()
    totals_in: Mapping[str, int] = field(default_factory=dict)


def _recent_runs(limit: int = RUNS_SHOWN) -> list[tuple[int, str]]:
    """[(run id, "YYYY-MM" of its cutoff)], newest first: the done runs shown."""
    rows = (
        DistributionRun.objects.filter(status=DistributionRun.Status.DONE)
        .order_by("-id")
        .values_list("id", "cutoff")[:limit]
    )
    return [(run_id, cutoff.strftime("%Y-%m")) for run_id, cutoff in rows]


def project_money(*, owner_key: str) -> ProjectMoney:
    """The money of ``owner_key`` (``project:<slug>``) over the latest :data:`RUNS_SHOWN` done
    runs, cached until the next run (one query when cached).

    Invariants: per run and currency, ``money_in == passed_on + kept + to_people`` (the flows
    balance at every node); the funder lines of a period add up to its money in."""
    runs = _recent_runs()
    if not runs:
        return ProjectMoney()
    key = f"project-money:v1:{owner_key}:{runs[0][0]}"
    cached = cache.get(key)
    if isinstance(cached, ProjectMoney):
        return cached
    money = _project_money_compute(owner_key=owner_key, runs=runs)
    cache.set(key, money, CACHE_SECONDS)
    return money


def _project_money_compute(*, owner_key: str, runs: list[tuple[int, str]]) -> ProjectMoney:
    period_of = dict(runs)
    run_ids = list(period_of)
    own = list(
        RunFlow.objects.filter(run_id__in=run_ids)
        .filter(Q(target=owner_key) | Q(source=owner_key))
        .values_list("run_id", "currency", "source", "target", "amount")
    )
    if not own:
        return ProjectMoney()
    series = _money_series(owner_key=owner_key, flows=own, period_of=period_of)
    inbound = [row for row in own if row[3] == owner_key]
    periods = _funders(owner_key=owner_key, inbound=inbound, run_ids=run_ids, period_of=period_of)
    totals: dict[str, int] = defaultdict(int)
    for point in series:
        totals[point.currency] += point.money_in
    return ProjectMoney(runs=tuple(series), periods=tuple(periods), totals_in=dict(totals))


def _money_series(
    *,
    owner_key: str,
    flows: Iterable[tuple[int, str, str, str, int]],
    period_of: Mapping[int, str],
) -> list[RunMoney]:
    kept_prefix = f"{owner_key} ("
    acc: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for run_id, currency, source, target, amount in flows:
        row = acc[(run_id, currency)]
        if target == owner_key:
            row[0] += amount
        if source != owner_key:
            continue
        if target == PEOPLE:
            row[3] += amount
        elif target.startswith(kept_prefix):  # its own reserve, or its escrow
            row[2] += amount
        else:  # another node, or another's escrow (an unclaimed package or identity)
            row[1] += amount
    return [
        RunMoney(run_id, period_of[run_id], currency, *values)
        for (run_id, currency), values in sorted(acc.items())
    ]


def _upstream(
    *, owner_key: str, inbound: list[tuple[int, str, str, str, int]], run_ids: list[int]
) -> tuple[list[tuple[int, str, str, str, int]], set[str]]:
    """The hops into the projects upstream of ``owner_key`` (breadth first, bounded by
    :data:`UPSTREAM_DEPTH` and :data:`UPSTREAM_NODES`), and which nodes were expanded (their
    inbound hops are all in the list)."""
    hops = list(inbound)
    expanded = {owner_key}
    frontier = {s for _, _, s, _, _ in inbound if s.startswith("project:")} - expanded
    for _ in range(UPSTREAM_DEPTH):
        room = UPSTREAM_NODES - len(expanded)
        if not frontier or room <= 0:
            break
        batch = sorted(frontier)[:room]
        expanded.update(batch)
        rows = list(
            RunFlow.objects.filter(run_id__in=run_ids, target__in=batch).values_list(
                "run_id", "currency", "source", "target", "amount"
            )
        )
        hops.extend(rows)
        frontier = {s for _, _, s, _, _ in rows if s.startswith("project:")} - expanded
    return hops, expanded


def _origin_of_label(label: str, expanded: set[str]) -> str | None:
    """The origin a hop's source stands for, or None when it is an expanded project (whose
    own origins are solved for)."""
    if label in expanded:
        return None
    if label.startswith("company:"):
        return label
    if label.startswith("project:"):
        return UNTRACED
    if label.endswith(" (escrow)"):
        return ESCROW_RELEASED
    return PAYMENTS


def _origin_shares(
    *, hops: list[tuple[str, str, int]], expanded: set[str]
) -> tuple[dict[str, int], list[str], np.ndarray]:
    """For one run and currency: each expanded node's money in, split by origin (rows of the
    returned matrix are fractions summing to 1 for a node with money in).

    A node's origins are the origins of what came into it, weighted by the hops; cycles make
    this a linear system ``F = A F + B``, solved exactly (each cycle is fed from outside, so
    ``I - A`` is invertible)."""
    nodes = sorted(expanded)
    index = {n: i for i, n in enumerate(nodes)}
    money_in: dict[str, int] = defaultdict(int)
    for _, target, amount in hops:
        money_in[target] += amount
    origins = sorted(
        {o for s, _, _ in hops if (o := _origin_of_label(s, expanded)) is not None} or {UNTRACED}
    )
    o_index = {o: i for i, o in enumerate(origins)}
    a = np.zeros((len(nodes), len(nodes)))
    b = np.zeros((len(nodes), len(origins)))
    for source, target, amount in hops:
        if target not in index or not money_in[target]:
            continue
        weight = amount / money_in[target]
        origin = _origin_of_label(source, expanded)
        if origin is None:
            a[index[target], index[source]] += weight
        else:
            b[index[target], o_index[origin]] += weight
    try:
        shares = np.linalg.solve(np.eye(len(nodes)) - a, b)
    except np.linalg.LinAlgError:  # a cycle with no money from outside: cannot be told
        shares = np.zeros_like(b)
    return dict(money_in), origins, shares if shares.size else b


def _funders(
    *,
    owner_key: str,
    inbound: list[tuple[int, str, str, str, int]],
    run_ids: list[int],
    period_of: Mapping[int, str],
) -> list[FunderPeriod]:
    hops, expanded = _upstream(owner_key=owner_key, inbound=inbound, run_ids=run_ids)
    by_run: dict[tuple[int, str], list[tuple[str, str, int]]] = defaultdict(list)
    for run_id, currency, source, target, amount in hops:
        by_run[(run_id, currency)].append((source, target, amount))
    # (period, currency, origin) -> {"direct": n, via: n}
    acc: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    nodes = sorted(expanded)
    node_index = {n: i for i, n in enumerate(nodes)}
    for (run_id, currency), run_hops in sorted(by_run.items()):
        if not any(t == owner_key for _, t, _ in run_hops):
            continue
        _, origins, shares = _origin_shares(hops=run_hops, expanded=expanded)
        period = period_of[run_id]
        for source, target, amount in run_hops:
            if target != owner_key:
                continue
            origin = _origin_of_label(source, expanded)
            if origin is not None:
                acc[(period, currency, origin)]["" if origin != UNTRACED else source] += amount
                continue
            row = shares[node_index[source]]
            weights = [max(int(np.rint(w * _WEIGHT_SCALE)), 0) for w in row]
            if not any(weights):
                acc[(period, currency, UNTRACED)][source] += amount
                continue
            for origin_name, part in zip(
                origins, allocate(total=int(amount), weights=weights), strict=True
            ):
                if part:
                    acc[(period, currency, origin_name)][source] += part
    periods: dict[str, list[FunderLine]] = defaultdict(list)
    for (period, currency, origin), parts in acc.items():
        via = tuple(sorted(((k, v) for k, v in parts.items() if k), key=lambda kv: (-kv[1], kv[0])))
        direct = parts.get("", 0)
        periods[period].append(
            FunderLine(origin, currency, direct, via, direct + sum(v for _, v in via))
        )
    out = []
    for period in sorted(periods, reverse=True):
        lines = sorted(periods[period], key=lambda x: (x.currency, -x.total, x.origin))
        totals: dict[str, int] = defaultdict(int)
        for line in lines:
            totals[line.currency] += line.total
        out.append(FunderPeriod(period, tuple(lines), tuple(sorted(totals.items()))))
    return out


# --- badges ------------------------------------------------------------------------------


def money_compact(*, amount: int, currency: str, locale: str = "en") -> str:
    """A short money figure for a badge: ``$1.2K``, ``$741``, ``$12M``, ``$7.50``."""
    code = currency.upper()
    value = Decimal(amount) / 10 ** minor_units(code)
    if value >= 1000:
        return format_compact_currency(value, code, locale=locale, fraction_digits=1)
    if value >= 10:  # whole units: cents would only make a badge longer
        return format_currency(
            value.quantize(Decimal(1)), code, locale=locale, format="¤#,##0", currency_digits=False
        )
    return format_currency(value, code, locale=locale)


def _done_run_ids() -> list[int]:
    # Filtering by run ids lets the (run, target) and (run, currency, source, target)
    # indexes serve the sums below.
    return list(
        DistributionRun.objects.filter(status=DistributionRun.Status.DONE).values_list(
            "id", flat=True
        )
    )


def owner_received_total(*, owner_key: str) -> dict[str, int]:
    """{currency: minor units} of all money that reached ``owner_key`` (a project) in done
    runs, whether it kept it or passed it on; empty when nothing yet."""
    rows = (
        RunFlow.objects.filter(run_id__in=_done_run_ids(), target=owner_key)
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    return {r["currency"]: int(r["total"]) for r in rows if r["total"]}


def company_funding_summary(*, owner_key: str) -> tuple[int, dict[str, int]]:
    """How many distinct projects ``owner_key`` (a company) sent money to directly in done
    runs, and {currency: minor units} it put into runs."""
    run_ids = _done_run_ids()
    projects = (
        RunFlow.objects.filter(run_id__in=run_ids, source=owner_key)
        .filter(target__startswith="project:")
        .aggregate(n=Count("target", distinct=True))["n"]
    )
    given = (
        RunFlow.objects.filter(run_id__in=run_ids, target=owner_key, source=PAYMENTS)
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    return int(projects or 0), {r["currency"]: int(r["total"]) for r in given if r["total"]}
