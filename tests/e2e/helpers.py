"""Steps the browser tests share."""

from tests.factories import PASSWORD


def sign_in(page, username, password=PASSWORD):
    """Sign in on the login page and wait to leave it."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
