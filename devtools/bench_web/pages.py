"""What ``bench_web`` asks for: the paths of each page (drawn from the seeded data), the SQL
queries one request makes, and locust's figures for a page."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from companies.models import Company
from payouts.models import DistributionRun
from projects.models import Project

SAMPLE = 500  # distinct projects per page: many more than fit one worker's hot set
SEARCH_TERMS = ["parser", "http", "crypto", "testing", "orm", "cli", "async", "json", "yaml"]


@dataclass
class Page:
    name: str
    paths: list[str] = field(default_factory=list)
    skipped: str = ""


def _resolves(path: str) -> bool:
    try:
        resolve(path.split("?", 1)[0])
    except Resolver404:
        return False
    return True


def _reversed(names: list[str], **kwargs: object) -> str | None:
    for name in names:
        try:
            return reverse(name, kwargs=kwargs or None)
        except NoReverseMatch:
            continue
    return None


def page_plan(*, say: Callable[[str], None]) -> list[Page]:
    """The pages in a fixed order, each with paths from the seeded data; a page whose view
    does not exist (yet) has no paths and says why."""
    rng = random.Random(1)
    max_id = Project.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ids = rng.sample(range(1, max_id + 1), min(SAMPLE, max_id))
    slugs = list(Project.objects.filter(pk__in=ids).values_list("slug", flat=True))
    run_ids = list(
        DistributionRun.objects.filter(status="done").order_by("-pk").values_list("pk", flat=True)
    )
    latest = run_ids[0] if run_ids else None
    plan = [
        Page("static", [staticfiles_storage.url("css/faiross.css")]),
        Page("home", ["/"]),
        Page("explore", ["/projects/", "/projects/?page=2", "/projects/?sort=received"]),
        Page(
            "search",
            [f"/projects/?q={term}" for term in SEARCH_TERMS]
            + [f"/projects/?q=project+{n}" for n in rng.sample(range(1, max_id + 1), 40)],
        ),
        Page("project", [f"/projects/{s}/" for s in slugs]),
    ]
    trace = Page("trace")
    if latest and _resolves("/api/v1/trace/"):
        trace.paths = [f"/api/v1/trace/?recipient=project:{s}&run={latest}" for s in slugs]
    else:
        trace.skipped = "not-built"
    plan.append(trace)
    trace_page = _reversed(["payouts:trace", "trace", "transparency:trace"])
    if trace_page and latest:
        plan.append(
            Page("trace_page", [f"{trace_page}?recipient=project:{s}&run={latest}" for s in slugs])
        )
    plan.append(Page("run_report", [f"/payouts/runs/{pk}/" for pk in run_ids[:12]]))
    company_slugs = list(Company.objects.order_by("pk").values_list("slug", flat=True)[:200])
    impact = [
        _reversed(["companies:impact", "companies:company_impact"], slug=s) for s in company_slugs
    ]
    plan.append(
        Page("company_impact", [p for p in impact if p])
        if any(impact)
        else Page("company_impact", skipped="not-built")
    )
    plan.append(Page("api_projects", ["/api/v1/projects/", "/api/v1/projects/?page=2"]))
    plan.append(Page("api_table", [f"/api/v1/projects/{s}/table/" for s in slugs]))
    say(f"{len(slugs)} sample projects, runs {run_ids[-1:]}..{latest}")
    return plan


def query_count(page: Page) -> int:
    """SQL queries of one request of the page's first path with an empty cache (the most a
    request makes: a cached one makes fewer)."""
    cache.clear()
    client = Client()
    with override_settings(ALLOWED_HOSTS=["*"]), CaptureQueriesContext(connection) as queries:
        response = client.get(page.paths[0])
    if response.status_code != 200:
        raise RuntimeError(f"{page.name}: {page.paths[0]} answered {response.status_code}")
    return len(queries)


def locust_summary(stats_csv: Path, name: str) -> dict[str, float]:
    """p50/p95/p99 (ms), requests/s, requests and failures of ``name`` in locust's CSV."""
    with stats_csv.open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == name:
                return {
                    "p50": float(row["50%"]),
                    "p95": float(row["95%"]),
                    "p99": float(row["99%"]),
                    "rps": float(row["Requests/s"]),
                    "requests": float(row["Request Count"]),
                    "failures": float(row["Failure Count"]),
                }
    raise RuntimeError(f"no figures for {name} in {stats_csv}")
