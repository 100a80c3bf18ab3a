"""On a phone (390 x 844): every main page fits the screen's width, the menu button opens the
navigation, and keyboard users get a skip link and a visible focus ring."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import sign_in
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    DisputeFactory,
    DistributionRunFactory,
    InflowFactory,
    ProjectFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 390, 844
# Long unbroken keys are what pushed pages sideways.
LONG_EMAIL = "email:maintainer-with-a-remarkably-long-address@very-long-subdomain.example.org"
LONG_GITHUB = "github:an-extraordinarily-long-login-1234"


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized browser context on the live server."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": WIDTH, "height": HEIGHT},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def portal_data(db):
    """alice: steward of numpy (a table with long keys), owner of acme (an agreement), paid by
    a distribution run, filer of a dispute. Returns the paths of the main pages."""
    alice = UserFactory(username="alice")
    ProjectFactory(slug="scipy", name="SciPy")
    ProjectFactory(
        slug="numpy",
        name="NumPy",
        steward=alice,
        table=[
            ("project:scipy", 2_000_000),
            ("user:alice", 3_000_000),
            (LONG_EMAIL, 1_000_000),
            (LONG_GITHUB, 1_000_000),
        ],
    )
    company = CompanyFactory(
        slug="acme", name="Acme", owner=alice, table=[("project:numpy", 10_000_000)]
    )
    agreement = AgreementFactory(company=company)
    InflowFactory(company=company, amount=1_234_567, reference="WIRE-LONG-REFERENCE-0000001")
    run = DistributionRunFactory()
    dispute = DisputeFactory(filer=alice, target="project:numpy", title="A table entry is wrong")
    return [
        "/",
        "/projects/",
        "/projects/numpy/",
        "/projects/numpy/table/edit/",
        "/projects/numpy/table/history/",
        "/companies/acme/",
        f"/companies/acme/agreements/{agreement.pk}/",
        "/payouts/earnings/",
        "/payouts/runs/",
        f"/payouts/runs/{run.pk}/",
        "/disputes/",
        f"/disputes/{dispute.pk}/",
        "/settings/",
    ]


def _check_page(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{path} is {width} px wide: it scrolls sideways"
    menu = page.locator("#site-menu")
    button = page.get_by_role("button", name="Menu")
    assert not menu.is_visible(), f"{path}: the menu is open before the button is pressed"
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    assert menu.get_by_role("link", name="Projects", exact=True).is_visible(), path
    assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDTH, path
    button.click()
    assert not menu.is_visible()


def test_main_pages_fit_a_phone_and_have_a_menu(phone, live_server, portal_data):
    page = phone.new_page()
    sign_in(page, "alice")
    for path in portal_data:
        _check_page(page, path)


def test_sign_in_and_sign_up_fit_a_phone(phone, live_server, db):
    page = phone.new_page()
    for path in ("/accounts/login/", "/accounts/signup/"):
        _check_page(page, path)


def _focused_outline(page) -> dict[str, str]:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {tag: el.tagName, cls: el.className, text: el.textContent.trim(),
                    style: style.outlineStyle, width: style.outlineWidth};
        }"""
    )


def test_skip_link_and_visible_focus(phone, live_server, portal_data):
    page = phone.new_page()
    sign_in(page, "alice")
    page.goto("/projects/numpy/")
    skip = page.locator("a.skip-link")
    assert skip.count() == 1 and skip.get_attribute("href") == "#main"
    assert skip.text_content() == "Skip to content"
    page.keyboard.press("Tab")
    focused = _focused_outline(page)
    assert focused["cls"] == "skip-link" and focused["style"] != "none", focused
    assert skip.is_visible() and skip.bounding_box()["x"] >= 0  # shown while focused
    # Links and buttons after it: the logo, then the menu button.
    page.keyboard.press("Tab")
    focused = _focused_outline(page)
    assert focused["tag"] == "A" and focused["style"] != "none", focused
    page.keyboard.press("Tab")
    focused = _focused_outline(page)
    assert focused["tag"] == "BUTTON" and focused["text"] == "Menu", focused
    assert focused["style"] != "none" and focused["width"] != "0px", focused
    # The skip link moves the focus to the page's content.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
