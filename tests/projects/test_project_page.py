"""The project page: its table as a chart, who funds it (directly and through other projects),
money over time, dependencies and dependents, the open-dispute notice, badge snippets, and a
number of queries that does not grow with rows and runs."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payouts.distribution.runs import distribution_run_create, distribution_run_execute
from payouts.models import RunFlow
from payouts.project_money import project_money
from projects.models import Project
from tests.factories import (
    CompanyFactory,
    DisputeFactory,
    HoldFactory,
    InflowFactory,
    KnownDependencyFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _run():
    run = distribution_run_create()
    return distribution_run_execute(run_id=run.pk)


@pytest.fixture
def funded(db):
    """acme gives numpy 60% and scipy 40%; numpy passes 50% on to scipy and 20% to alice and
    keeps 30%. One run of $100 from acme."""
    alice = UserFactory(username="alice")
    ProjectFactory(slug="scipy", name="SciPy", steward=alice)
    ProjectFactory(
        slug="numpy",
        name="NumPy",
        steward=alice,
        table=[("project:scipy", 5_000_000), ("user:alice", 2_000_000)],
    )
    company = CompanyFactory(
        slug="acme",
        owner=UserFactory(username="owner"),
        table=[("project:numpy", 6_000_000), ("project:scipy", 4_000_000)],
    )
    InflowFactory(company=company, amount=10_000, currency="usd")
    return _run()


def _page(client, slug: str) -> str:
    response = client.get(f"/projects/{slug}/")
    assert response.status_code == 200
    return response.content.decode()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _flow(run, source: str, target: str) -> int:
    return RunFlow.objects.get(run=run, currency="usd", source=source, target=target).amount


def _usd(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def test_who_funds_a_project_directly_and_through_another_project(funded, client):
    text = _text(_page(client, "scipy"))
    period = funded.cutoff.strftime("%Y-%m")
    direct = _flow(funded, "company:acme", "project:scipy")
    through = _flow(funded, "project:numpy", "project:scipy")
    assert abs(direct - 4_000) <= 2 and abs(through - 3_000) <= 2  # hops are rounded
    assert "Who funds SciPy" in text
    # About $40 straight from acme's table and $30 through numpy's: all of it acme's money.
    assert f"{period} · $70.00" in text
    assert "acme company $70.00" in text
    assert f"{_usd(direct)} directly · {_usd(through)} through NumPy" in text


def test_money_over_time_balances_and_has_a_text_alternative(funded, client):
    html = _page(client, "numpy")
    [point] = project_money(owner_key="project:numpy").runs
    assert point.money_in == _flow(funded, "company:acme", "project:numpy")
    assert point.passed_on == _flow(funded, "project:numpy", "project:scipy")
    assert point.to_people == _flow(funded, "project:numpy", "people")
    assert point.money_in == point.passed_on + point.kept + point.to_people
    chart = html[html.index('id="money-over-time"') :]
    assert '<svg viewBox="' in chart and 'role="img"' in chart
    # The same figures as a table (the chart's text alternative), formatted as money.
    row = _text(chart[chart.index("<tbody>") : chart.index("</tbody>")])
    figures = (point.money_in, point.passed_on, point.kept, point.to_people)
    assert " ".join(_usd(v) for v in figures) in row
    assert "Paid to people" in chart


def test_no_money_yet_says_so(client, db):
    ProjectFactory(slug="newlib", name="Newlib")
    text = _text(_page(client, "newlib"))
    assert "No company money has reached this project in a distribution run yet." in text
    assert "No distribution run has brought money to this project yet." in text


def test_table_chart_masks_people_and_lists_largest_first(client, db):
    ProjectFactory(slug="scipy", name="SciPy")
    ProjectFactory(
        slug="numpy",
        name="NumPy",
        table=[("email:zoe@example.org", 1_000_000), ("project:scipy", 4_000_000)],
    )
    html = _page(client, "numpy")
    chart = html[html.index('id="table-chart"') : html.index('id="share-table"')]
    assert "zoe@example.org" not in chart and "z***@example.org" in chart
    assert chart.index("SciPy") < chart.index("z***@example.org") < chart.index("Reserve")
    assert "width:40%" in chart and "width:50%" in chart  # 40% SciPy, 50% reserve


def test_dependencies_and_dependents(funded, client):
    pandas = ProjectFactory(slug="pandas", name="pandas")
    KnownDependencyFactory(project=pandas, dependency=Project.objects.get(slug="numpy"))
    numpy_page = _text(_page(client, "numpy"))
    deps = numpy_page[numpy_page.index("Dependencies and dependents") :]
    assert "Depends on 1 SciPy 50% in its table" in deps
    assert "acme company gives it 60" in deps
    assert "Listed as a dependency by 1 pandas" in deps
    scipy_page = _text(_page(client, "scipy"))
    assert "NumPy gives it 50" in scipy_page


def test_open_dispute_notice_and_hold(funded, client):
    assert 'id="open-dispute-notice"' not in _page(client, "numpy")
    dispute = DisputeFactory(target="project:numpy", title="Secret title of the dispute")
    html = _page(client, "numpy")
    notice = html[html.index('id="open-dispute-notice"') :]
    notice = notice[: notice.index("</ul>")]
    assert "A dispute is open" in notice and "Secret title" not in notice
    assert "on hold" not in notice
    HoldFactory(dispute=dispute, recipient="project:numpy", amount=0)
    assert "Its money is on hold" in _page(client, "numpy")


def test_badge_snippets_point_at_the_badge_and_the_page(funded, client):
    html = _page(client, "numpy")
    box = html[html.index('id="badge-snippets"') :]
    assert '<img src="/badge/project/numpy.svg"' in box
    assert (
        "[![FairOSS](http://testserver/badge/project/numpy.svg)](http://testserver/projects/numpy/)"
        in box
    )
    assert '&lt;img src="http://testserver/badge/project/numpy.svg"' in box
    assert client.get("/badge/project/numpy.svg").status_code == 200


def _grow(*, rows: int, runs: int, start: int) -> None:
    """numpy's table gets ``rows`` people; ``rows`` projects name numpy and list it in their
    manifests; ``runs`` more runs each bring money from a new company. (People on FairOSS:
    identities waiting in escrow cost the escrow notice queries of their own, see
    ``payouts.connect.escrow.escrow_notices_for_owner``.)"""
    numpy = Project.objects.get(slug="numpy")
    TableVersionFactory(
        owner_key="project:numpy",
        actor=numpy.memberships.get().user,
        entries=[("project:scipy", 1_000_000)]
        + [
            (f"user:{UserFactory(username=f'dev-{start}-{i}').username}", 10_000)
            for i in range(rows)
        ],
    )
    for i in range(rows):
        dependent = ProjectFactory(slug=f"dep-{start}-{i}", table=[("project:numpy", 1_000_000)])
        KnownDependencyFactory(project=dependent, dependency=numpy)
    for i in range(runs):
        company = CompanyFactory(slug=f"funder-{start}-{i}", table=[("project:numpy", 5_000_000)])
        InflowFactory(company=company, amount=1_000 + i, currency="usd")
        _run()


def test_queries_do_not_grow_with_rows_and_runs(funded, client, django_assert_max_num_queries):
    _grow(rows=5, runs=5, start=0)
    cache.clear()
    with CaptureQueriesContext(connection) as few:
        small = _page(client, "numpy")
    assert "funder-0-4" in small
    _grow(rows=45, runs=45, start=1)
    cache.clear()
    with django_assert_max_num_queries(len(few.captured_queries)):
        large = _page(client, "numpy")
    assert "funder-1-44" in large and "Dependencies and dependents" in large
    # Cached: the money boxes cost one query once computed.
    with CaptureQueriesContext(connection) as cached:
        _page(client, "numpy")
    assert len(cached.captured_queries) < len(few.captured_queries)


def test_funders_add_up_through_a_cycle(client, db):
    """numpy and scipy name each other: every cent reaching scipy is still traced back to
    the two companies that paid, and the lines add up to what came in."""
    steward = UserFactory(username="steward")
    ProjectFactory(slug="numpy", name="NumPy", steward=steward)
    ProjectFactory(slug="scipy", name="SciPy", table=[("project:numpy", 2_500_000)])
    TableVersionFactory(
        owner_key="project:numpy",
        actor=steward,
        entries=[("project:scipy", 5_000_000)],
    )
    for slug, share in (("acme", 10_000_000), ("globex", 10_000_000)):
        target = "project:numpy" if slug == "acme" else "project:scipy"
        company = CompanyFactory(slug=slug, table=[(target, share)])
        InflowFactory(company=company, amount=100_001, currency="usd")
    run = _run()
    money = project_money(owner_key="project:scipy")
    [period] = money.periods
    money_in = sum(
        RunFlow.objects.filter(run=run, target="project:scipy").values_list("amount", flat=True)
    )
    assert sum(line.total for line in period.lines) == money_in
    assert {line.origin for line in period.lines} == {"company:acme", "company:globex"}
    acme = next(line for line in period.lines if line.origin == "company:acme")
    assert acme.direct == 0 and [k for k, _ in acme.via] == ["project:numpy"]
    text = _text(_page(client, "scipy"))
    assert "through NumPy" in text
