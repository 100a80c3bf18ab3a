import pytest

from projects.models import TableVersion
from tests.e2e.helpers import sign_in
from tests.factories import ProjectFactory, TableVersionFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZOE = "zoe.hidden@example.org"


def test_a_steward_saves_a_table_with_a_masked_address_unchanged(page):
    alice = UserFactory(username="alice")
    ProjectFactory(slug="numpy", name="NumPy", steward=alice)
    TableVersionFactory(
        owner_key="project:numpy",
        actor=alice,
        entries=[(f"email:{ZOE}", 2_000_000), ("github:octocat", 1_000_000)],
    )
    sign_in(page, "alice")
    page.goto("/projects/numpy/table/edit/")
    assert ZOE not in page.content()
    masked = page.locator("#rows tbody tr").first.locator("[name=recipient]")
    assert masked.input_value() == "email:z***@example.org"
    assert masked.get_attribute("readonly") is not None  # kept as it is, or removed
    page.locator("#rows tbody tr").nth(1).locator("[name=percent]").fill("15")
    assert page.locator("#total-reserve").inner_text().strip() == "Reserve: 65%"
    page.get_by_role("button", name="Save as proposal").click()

    page.wait_for_url("**/table/history/")
    assert "Version 2 is active" in page.locator(".messages").inner_text()
    version = TableVersion.objects.get(number=2)
    assert [(e.recipient, e.millibips) for e in version.entries.order_by("position")] == [
        (f"email:{ZOE}", 2_000_000),
        ("github:octocat", 1_500_000),
    ]
    assert ZOE not in page.content()
