"""The share-table editor reads shares the way the page's language writes them: in German
``12,5`` is 12.5% in the live totals (which are written ``47,5 %``), ``12.5`` is not a share
there, and the server, which decides, saves what the totals showed."""

from __future__ import annotations

import pytest

from projects.models import TableVersion
from tests.e2e.helpers import sign_in
from tests.factories import ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_german_shares_in_the_live_totals_and_on_save(page, live_server):
    user = UserFactory(username="alice")
    ProjectFactory(slug="numpy", name="NumPy", steward=user)
    ProjectFactory(slug="python", name="CPython")
    page.context.add_cookies([{"name": "django_language", "value": "de", "url": live_server.url}])
    sign_in(page, "alice")
    page.goto("/projects/numpy/table/edit/")
    assert page.locator("#rows").get_attribute("data-decimal") == ","

    first = page.locator("#rows tbody tr").first
    first.locator("[name=recipient]").fill("project:python")
    first.locator("[name=percent]").fill("40")
    page.get_by_role("button", name="+ GitHub login").click()
    row = page.locator("#rows tbody tr").nth(1)
    row.locator("[name=recipient]").fill("github:octocat")
    row.locator("[name=percent]").fill("12.5")
    assert "enter a percentage, e.g. 12,5\xa0%" in row.inner_text()
    row.locator("[name=percent]").fill("12,5")
    assert page.locator("#total-reserve").inner_text().strip() == "Reserve: 47,5\xa0%"
    assert page.locator("#total-people").inner_text().strip() == "People: 12,5\xa0%"
    assert "millibip" not in page.locator("#table-form").inner_text().lower()
    page.get_by_role("button", name="Save as proposal").click()

    page.wait_for_url("**/table/history/")
    version = TableVersion.objects.get()
    assert [(e.recipient, e.millibips) for e in version.entries.order_by("position")] == [
        ("project:python", 4_000_000),
        ("github:octocat", 1_250_000),
    ]
