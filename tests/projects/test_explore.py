"""Explore: search and filters narrow the project list, pages are bounded, received money is
what reached a project through runs, and only listed companies are ever named."""

from __future__ import annotations

import pytest

from payouts.models import ProjectReceived
from payouts.totals import project_received_add, project_received_rebuild
from projects.explore import MAX_PAGE, PAGE_SIZE
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    DistributionRunFactory,
    InflowFactory,
    ProjectFactory,
    ProjectPurlFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """numpy (pypi, verified) gets 150.00 from acme directly and passes 40% to scipy
    (pypi, verified); leftpad (npm, unverified) got nothing. acme has an active agreement
    (listed), hidden-co has only a draft one (not listed) and pays 5,000.00 into serde."""
    ProjectFactory(slug="scipy", name="SciPy")
    ProjectPurlFactory(
        project=ProjectFactory.create(slug="leftpad", name="left-pad", unverified=True),
        purl="pkg:npm/left-pad",
    )
    numpy = ProjectFactory(slug="numpy", name="NumPy", table=[("project:scipy", 4_000_000)])
    ProjectPurlFactory(project=numpy, purl="pkg:pypi/numpy")
    ProjectPurlFactory(project=numpy.__class__.objects.get(slug="scipy"), purl="pkg:pypi/scipy")
    serde = ProjectFactory(slug="serde", name="Serde")
    ProjectPurlFactory(project=serde, purl="pkg:cargo/serde")
    acme = CompanyFactory(slug="acme", name="Acme Listed", table=[("project:numpy", 10_000_000)])
    AgreementFactory(company=acme)
    hidden = CompanyFactory(
        slug="hidden-co", name="Hidden Unlisted", table=[("project:serde", 10_000_000)]
    )
    AgreementFactory(company=hidden, status="draft")
    InflowFactory(company=acme, amount=15_000)
    InflowFactory(company=hidden, amount=500_000)
    DistributionRunFactory()


def names(client, query: str = "") -> list[str]:
    response = client.get("/projects/" + query)
    assert response.status_code == 200
    return [row.project.slug for row in response.context["page"].rows]


def test_text_search_matches_name_slug_and_package_url(client, world):
    assert names(client, "?q=num") == ["numpy"]
    assert names(client, "?q=LEFT-") == ["leftpad"]
    assert names(client, "?q=pkg:cargo/ser") == ["serde"]
    assert names(client, "?q=nothing-like-this") == []


def test_filters_ecosystem_verified_received(client, world):
    assert names(client, "?ecosystem=pypi") == ["numpy", "scipy"]
    assert names(client, "?ecosystem=npm") == ["leftpad"]
    assert "leftpad" not in names(client, "?verified=1")
    assert names(client, "?received=yes") == ["numpy", "scipy", "serde"]
    assert names(client, "?received=no") == ["leftpad"]
    # numpy received 150.00, scipy 60.00 (40% of it), serde 5,000.00.
    assert names(client, "?received=100-1000") == ["numpy"]
    assert names(client, "?received=under-100") == ["scipy"]
    assert names(client, "?received=1000-10000") == ["serde"]
    assert names(client, "?received=over-10000") == []
    assert names(client, "?received=yes&ecosystem=pypi&verified=1") == ["numpy", "scipy"]


def test_sorted_by_received_or_name(client, world):
    assert names(client) == ["leftpad", "numpy", "scipy", "serde"]  # left-pad, NumPy, ...
    assert names(client, "?sort=received") == ["serde", "numpy", "scipy"]
    page = client.get("/projects/?q=numpy").content.decode()
    assert "$150.00" in page


def test_funded_by_a_listed_company(client, world):
    assert names(client, "?funded_by=acme") == ["numpy"]
    # Not listed: ignored as a filter, so nothing about it is answered.
    assert names(client, "?funded_by=hidden-co") == names(client)


def test_unlisted_companies_never_appear(client, world):
    for path in ("/projects/", "/projects/?funded_by=hidden-co", "/companies/", "/"):
        # The footer's language form echoes the visitor's own URL back; nothing else may.
        page = client.get(path).content.decode().replace(f'value="{path}"', "")
        assert "Hidden Unlisted" not in page and "hidden-co" not in page, path
    companies = client.get("/companies/").content.decode()
    assert "Acme Listed" in companies and "/projects/?funded_by=acme" in companies
    assert "Acme Listed" in client.get("/projects/").content.decode()


def test_the_search_field_has_a_visible_label(client, world):
    page = client.get("/projects/").content.decode()
    assert '<label for="explore-q">Search</label>' in page
    assert 'id="explore-q" name="q"' in page


def test_pages_are_bounded_and_never_counted(client, db, django_assert_max_num_queries):
    ProjectFactory.create_batch(PAGE_SIZE + 5)
    first = client.get("/projects/")
    assert len(first.context["page"].rows) == PAGE_SIZE and first.context["next_url"] == "page=2"
    second = client.get("/projects/?page=2")
    assert len(second.context["page"].rows) == 5 and second.context["next_url"] is None
    assert second.context["previous_url"] == ""
    assert client.get(f"/projects/?page={MAX_PAGE + 50}").context["query"].page == MAX_PAGE
    assert client.get("/projects/?page=abc&sort=nonsense&ecosystem=x").status_code == 200


def test_received_totals_are_counted_once_and_rebuild_the_same(world):
    run_id = ProjectReceived.objects.values_list("project__slug", flat=True)
    before = sorted(
        ProjectReceived.objects.values_list("project__slug", "funder", "currency", "amount")
    )
    from payouts.models import DistributionRun

    run = DistributionRun.objects.get()
    assert project_received_add(run_id=run.pk) is False  # a second call counts nothing
    assert (
        sorted(ProjectReceived.objects.values_list("project__slug", "funder", "currency", "amount"))
        == before
    )
    assert project_received_rebuild() == 1
    assert (
        sorted(ProjectReceived.objects.values_list("project__slug", "funder", "currency", "amount"))
        == before
    )
    assert ("numpy", "company:acme", "usd", 15_000) in before
    assert ("scipy", "", "usd", 6_000) in before
    assert list(run_id)


@pytest.mark.parametrize("n", [5, 60])
@pytest.mark.parametrize(
    "query", ["", "?q=project", "?sort=received", "?received=yes&ecosystem=pypi&funded_by=acme"]
)
def test_explore_queries_do_not_grow_with_projects(
    client, world, django_assert_max_num_queries, n, query
):
    for p in ProjectFactory.create_batch(n):
        ProjectPurlFactory(project=p, purl=f"pkg:pypi/{p.slug}")
    with django_assert_max_num_queries(6):
        assert client.get("/projects/" + query).status_code == 200


@pytest.mark.parametrize("n", [5, 60])
def test_companies_list_queries_do_not_grow(client, db, django_assert_max_num_queries, n):
    for _ in range(n):
        AgreementFactory(company=CompanyFactory())
    with django_assert_max_num_queries(6):
        assert client.get("/companies/").status_code == 200


def test_rebuild_command_counts_runs_done_before_the_totals_existed(world):
    from io import StringIO

    from django.core.management import call_command

    before = sorted(
        ProjectReceived.objects.values_list("project__slug", "funder", "currency", "amount")
    )
    ProjectReceived.objects.all().delete()
    out = StringIO()
    call_command("project_received_rebuild", stdout=out)
    assert "runs counted: 1" in out.getvalue()
    assert (
        sorted(ProjectReceived.objects.values_list("project__slug", "funder", "currency", "amount"))
        == before
    )
