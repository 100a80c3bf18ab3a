"""The benchmark's data: a synthetic ecosystem (projects, tables, people, companies) loaded by
COPY with ``bench_distribution``'s seeder, then a year of monthly runs through the real run
code (``inflow_record`` for the money in, ``distribution_run_execute`` for each run: snapshot,
compute, post, publication, explore totals)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import numpy as np
from django.db import connection
from django.utils import timezone

from companies.models import Company
from payouts.distribution import runs
from payouts.distribution.bench_graph import build_synthetic_graph, build_synthetic_inflows
from payouts.inflows import inflow_record
from payouts.management.commands.bench_distribution import Command as DistributionBench
from payouts.models import DistributionRun
from projects.models import Project

MONTH = dt.timedelta(days=30)


def seeded_state() -> tuple[int, int]:
    """(projects, finished runs) in the current database."""
    return Project.objects.count(), DistributionRun.objects.filter(status="done").count()


def bench_seed(
    *,
    projects: int,
    entries: int,
    people: int,
    companies: int,
    runs_n: int,
    inflows_per_run: int,
    seed: int,
    say: Callable[[str], None],
) -> None:
    """Fill the (empty, migrated) current database.

    Everything is dated back so the ``runs_n`` monthly cutoffs fall after the tables were
    activated and the projects verified: table versions, projects and companies are set
    ``runs_n + 1`` months in the past; run ``k`` has its cutoff ``runs_n - k`` months ago and
    takes the inflows received in the month before it.
    """
    started = time.perf_counter()
    graph = build_synthetic_graph(
        projects=projects, entries=entries, people=people, companies=companies, seed=seed
    )
    seeder = DistributionBench()
    seeder._seed(graph, [], companies, people)  # inflows come per month below
    start = timezone.now() - (runs_n + 1) * MONTH
    with connection.cursor() as cursor:
        for sql in (
            "UPDATE projects_tableversion SET activated_at = %s, created_at = %s",
            "UPDATE projects_project SET verified_at = %s, created_at = %s",
            "UPDATE companies_company SET created_at = %s",
            "UPDATE projects_sharetable SET created_at = %s",
        ):
            cursor.execute(sql, [start] * sql.count("%s"))
        # A readable name and description, so search and the pages look like real ones.
        cursor.execute(
            "UPDATE projects_project SET name = 'Project ' || id || ' ' || "
            "(ARRAY['parser','http','crypto','testing','orm','cli','async','json','image',"
            "'yaml'])[1 + id %% 10], description = 'A synthetic project for the web benchmark.'",
            [],
        )
        cursor.execute("ANALYZE")
    say(f"seeded {projects} projects, {entries} entries in {time.perf_counter() - started:.0f} s")
    company_objs = {c.pk: c for c in Company.objects.all()}
    ids = sorted(company_objs)
    for k in range(runs_n):
        cutoff = timezone.now() - (runs_n - 1 - k) * MONTH - dt.timedelta(hours=1)
        t0 = time.perf_counter()
        inflows = build_synthetic_inflows(
            companies=companies, inflows=inflows_per_run, seed=seed + 10 + k
        )
        rng = np.random.default_rng(seed + 100 + k)
        offsets = rng.integers(1, 29 * 24 * 3600, len(inflows))
        for n, (inflow, offset) in enumerate(zip(inflows, offsets.tolist(), strict=True)):
            inflow_record(
                company=company_objs[ids[inflow.node]],
                amount=inflow.cents,
                currency=inflow.currency,
                reference=f"BENCH-WEB-{k}-{n}",
                received_at=cutoff - dt.timedelta(seconds=offset),
            )
        run = runs.distribution_run_create(cutoff=cutoff)
        run = runs.distribution_run_execute(run_id=run.pk)
        say(
            f"run {k + 1}/{runs_n} (id {run.pk}): {run.status}, {len(inflows)} inflows, "
            f"{time.perf_counter() - t0:.0f} s"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
