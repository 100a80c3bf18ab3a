import pytest

from projects.models import TableVersion
from tests.e2e.helpers import sign_in
from tests.factories import ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_steward_edits_table_and_sees_reserve_update_live(page):
    user = UserFactory(username="alice")
    ProjectFactory(slug="numpy", name="NumPy", steward=user)
    ProjectFactory(slug="python", name="CPython")
    sign_in(page, "alice")
    page.goto("/projects/numpy/")
    assert "default table" in page.locator("#share-table").inner_text()
    page.get_by_role("link", name="Edit table").click()

    first = page.locator("#rows tbody tr").first
    first.locator("[name=recipient]").fill("project:pyth")
    first.locator("[name=recipient]").fill("project:python")
    first.locator("[name=percent]").fill("40")
    assert page.locator("#total-reserve").inner_text().strip() == "Reserve: 60%"
    page.get_by_role("button", name="+ GitHub login").click()
    row = page.locator("#rows tbody tr").nth(1)
    row.locator("[name=recipient]").fill("github:octocat")
    row.locator("[name=percent]").fill("12.5")
    assert "Reserve: 47.5%" in page.locator("#totals").inner_text()
    # The editor speaks percent only (issue 11): no millibips under the rows.
    assert "millibip" not in page.locator("#table-form").inner_text().lower()
    row.locator("[name=percent]").fill("70")
    assert "more than 100%" in page.locator("#totals").inner_text()
    row.locator("[name=percent]").fill("12.5")
    page.get_by_role("button", name="Save as proposal").click()

    page.wait_for_url("**/table/history/")
    assert "Version 1 is active" in page.locator(".messages").inner_text()
    version = TableVersion.objects.get()
    assert [(e.recipient, e.millibips) for e in version.entries.order_by("position")] == [
        ("project:python", 4_000_000),
        ("github:octocat", 1_250_000),
    ]
    page.goto("/projects/numpy/")
    table = page.locator("#share-table").inner_text()
    assert "CPython" in table and "47.5%" in table and "version 1" in table
