"""On a 390 px phone, the footer's language choice switches to Deutsch; the page still fits
the screen, the menu still opens, and money is then shown the German way."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import sign_in
from tests.factories import ConnectedAccountFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": WIDTH, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


def test_choosing_deutsch_on_a_phone(phone, live_server, db):
    ConnectedAccountFactory(user=UserFactory(username="alice"), payout_threshold=200_050)
    page = phone.new_page()
    sign_in(page, "alice")
    page.goto("/payouts/get-paid/")
    assert page.locator("#id_threshold").input_value() == "2,000.50"

    page.select_option("#language", "de")
    page.get_by_role("button", name="Set language").click()
    page.wait_for_function("document.documentElement.lang === 'de'")
    assert page.url.endswith("/payouts/get-paid/")  # back where the choice was made
    assert page.locator("#id_threshold").input_value() == "2.000,50"
    assert page.locator("#language").input_value() == "de"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the page is {width}px wide"

    page.get_by_role("button", name="Menu").click()
    assert page.locator("#site-menu").is_visible()

    page.fill("#id_threshold", "1.500,5")
    page.get_by_role("button", name="Save threshold").click()
    assert "1.500,50\xa0$" in page.locator("#understood").inner_text()
