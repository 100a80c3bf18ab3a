import pytest
from tests.e2e.test_mobile import phone, portal_data  # noqa: F401
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
def test_shot(phone, live_server, portal_data):
    page = phone.new_page()
    for name, path in [("home", "/"), ("explore", "/projects/?sort=received"), ("companies", "/companies/")]:
        page.goto(path)
        page.screenshot(path=f"/tmp/explore_{name}.png", full_page=True)
