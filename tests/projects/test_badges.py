"""README badges: ``/badge/project/<slug>.svg`` and ``/badge/company/<slug>.svg`` (anybadge),
cached, "not yet funded" instead of a 404 for a project without money, 404 for unknown names."""

from __future__ import annotations

import re
import xml.dom.minidom

import pytest
from django.core.cache import cache

from payouts.distribution.runs import distribution_run_create, distribution_run_execute
from tests.factories import CompanyFactory, InflowFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def _badge(client, path: str):
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("image/svg+xml")
    svg = response.content.decode()
    xml.dom.minidom.parseString(svg)  # well-formed SVG
    title = re.search(r"<title>(.*?)</title>", svg)
    assert title is not None, svg
    return response, title.group(1)


@pytest.fixture
def funded(db):
    """acme gives numpy 60% and scipy 40% of $1,234.56."""
    ProjectFactory(slug="numpy")
    ProjectFactory(slug="scipy")
    company = CompanyFactory(
        slug="acme", table=[("project:numpy", 6_000_000), ("project:scipy", 4_000_000)]
    )
    InflowFactory(company=company, amount=123_456, currency="usd")
    run = distribution_run_create()
    return distribution_run_execute(run_id=run.pk)


def test_project_badge_shows_what_it_received(funded, client):
    response, title = _badge(client, "/badge/project/numpy.svg")
    assert title == "FairOSS: $741 received"  # 60% of $1,234.56, in short form
    assert response["Cache-Control"] == "public, max-age=300"


def test_company_badge_counts_the_projects_it_funds(funded, client):
    _, title = _badge(client, "/badge/company/acme.svg")
    assert title == "FairOSS: funds 2 projects"


def test_project_without_money_gets_not_yet_funded(client, db):
    ProjectFactory(slug="newlib")
    CompanyFactory(slug="newco")
    assert _badge(client, "/badge/project/newlib.svg")[1] == "FairOSS: not yet funded"
    assert _badge(client, "/badge/company/newco.svg")[1] == "FairOSS: no projects funded yet"


def test_unknown_names_are_404(client, db):
    assert client.get("/badge/project/nope.svg").status_code == 404
    assert client.get("/badge/company/nope.svg").status_code == 404


def test_badges_are_cached_until_they_expire(client, db, django_assert_num_queries):
    ProjectFactory(slug="numpy")
    company = CompanyFactory(slug="acme", table=[("project:numpy", 10_000_000)])
    assert _badge(client, "/badge/project/numpy.svg")[1] == "FairOSS: not yet funded"
    InflowFactory(company=company, amount=1_500_000, currency="usd")
    distribution_run_execute(run_id=distribution_run_create().pk)
    with django_assert_num_queries(0):  # served from the cache: a few minutes behind
        assert _badge(client, "/badge/project/numpy.svg")[1] == "FairOSS: not yet funded"
    cache.clear()  # what the TTL does
    assert _badge(client, "/badge/project/numpy.svg")[1] == "FairOSS: $15K received"


def test_short_money_on_badges():
    from payouts.project_money import money_compact

    assert money_compact(amount=123_456, currency="usd") == "$1.2K"
    assert money_compact(amount=750, currency="usd") == "$7.50"
    assert money_compact(amount=1_200_000_000, currency="eur") == "€12M"
