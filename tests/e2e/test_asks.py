"""Company asks end to end, in real Chromium: ACME files a feature request tied to an equity
milestone, NumPy's steward accepts and delivers it with a pull request (on a phone), ACME
confirms, and the milestone's part of the stake vests."""

import pytest
from django.utils import timezone

from asks.models import FeatureRequest
from companies.services.vesting import equity_vested_millibips
from tests.e2e.helpers import sign_in
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PR = "https://github.com/numpy/numpy/pull/4242"


def test_request_tied_to_a_milestone_from_filing_to_vesting(page, browser, live_server):
    olivia, stella = UserFactory(username="olivia"), UserFactory(username="stella")
    numpy = ProjectFactory(slug="numpy", name="NumPy", steward=stella)
    acme = CompanyFactory(slug="acme", name="ACME Corp", owner=olivia)
    TableVersionFactory(
        owner_key=acme.owner_key, actor=olivia, entries=[(numpy.owner_key, 5_000_000)]
    )
    agreement = AgreementFactory(
        company=acme,
        kind="equity",
        actor=olivia,
        start_date=timezone.localdate(),
        time_vesting_millibips=7_500_000,
        milestones=[{"title": "Plugin API shipped", "millibips": 2_500_000}],
    )
    today = timezone.localdate()
    assert equity_vested_millibips(agreement=agreement, on=today) == 0

    # ACME's owner files the request from the company's requests page.
    sign_in(page, "olivia")
    page.goto("/companies/acme/")
    page.get_by_role("link", name="Feature requests").click()
    page.get_by_role("link", name="New feature request").click()
    page.get_by_label("NumPy").check()
    page.fill("#id_title", "Plugin API for dtypes")
    page.fill("#id_description", "A stable, documented plugin API.")
    page.select_option(
        "#id_milestone", label="Plugin API shipped (25% of the stake, " + agreement.reference + ")"
    )
    page.get_by_role("button", name="File the request").click()
    page.wait_for_url("**/asks/requests/*/")
    assert "Waiting for the stewards" in page.locator("#request-status").inner_text()
    req = FeatureRequest.objects.get()

    # NumPy's steward answers on a phone: accept, then deliver with the pull request.
    phone = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    phone.set_default_timeout(15_000)
    steward = phone.new_page()
    sign_in(steward, "stella")
    steward.goto("/projects/numpy/")
    assert "waiting" in steward.locator("#company-asks").inner_text()
    steward.goto(f"/asks/requests/{req.pk}/")
    steward.get_by_role("button", name="Accept").click()
    steward.wait_for_load_state()
    steward.fill("#evidence-links", PR)
    steward.get_by_role("button", name="Mark delivered").click()
    steward.wait_for_load_state()
    assert "Delivered" in steward.locator("#request-status").inner_text()
    assert steward.evaluate("document.scrollingElement.scrollWidth") <= 390
    steward.goto("/projects/numpy/")
    assert "requested by ACME Corp, delivered" in steward.locator("#company-asks").inner_text()
    phone.close()

    # ACME confirms: the milestone is met and its 25% vests today.
    page.reload()
    assert PR in page.locator("#evidence").inner_text()
    page.get_by_role("button", name="Confirm the delivery").click()
    page.wait_for_load_state()
    assert "Confirmed" in page.locator("#request-status").inner_text()
    assert "met on" in page.locator("#milestone").inner_text()
    assert equity_vested_millibips(agreement=agreement, on=today) == 2_500_000
