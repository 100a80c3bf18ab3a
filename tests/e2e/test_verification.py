"""A steward verifies their project on a 390 px phone: the banner, the verification page with
its token, a failed check that says why, the commit, and the verified badge; no page scrolls
sideways. The repository host is the local fake (tests/fake_hosts.py)."""

import pytest

from projects.models import Project, ProjectPurl
from projects.verification import verification_token
from tests.e2e.helpers import sign_in
from tests.factories import ProjectFactory
from tests.fake_hosts import FakeHosts, pypi_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


def test_steward_verifies_by_committing_the_token_on_a_phone(page, user, settings):
    project = ProjectFactory(
        slug="textual",
        name="Textual",
        repo_url="https://github.com/Textualize/textual",
        unverified=True,
        steward=user,
    )
    ProjectPurl.objects.create(project=project, purl="pkg:pypi/textual")
    page.set_viewport_size({"width": 390, "height": 844})
    with FakeHosts() as hosts:
        for name, value in hosts.settings.items():
            setattr(settings, name, value)
        hosts.pypi["textual"] = pypi_document(
            "textual", repository="https://github.com/Textualize/textual"
        )
        sign_in(page, user.username)
        page.goto("/projects/textual/")
        banner = page.locator("#verification")
        assert "waits until its ownership is verified" in banner.inner_text()
        no_sideways_scroll(page)
        banner.get_by_role("link", name="Verify ownership").click()

        token = verification_token(project=project, user=user)
        assert page.locator("#verification-token").inner_text() == token
        assert page.locator("#toml-line").inner_text() == f'verification = "{token}"'
        no_sideways_scroll(page)
        page.get_by_role("button", name="Check the repository").click()
        assert (
            "The token was not found in Textualize/textual"
            in page.locator("#verify-errors").inner_text()
        )
        no_sideways_scroll(page)

        hosts.raw_files[("Textualize", "textual", "faiross.toml")] = (
            f'verification = "{token}"\nformat = 1\n'
        )
        page.get_by_role("button", name="Check the repository").click()
        page.wait_for_url("**/projects/textual/")
        assert "Verified owner" in page.locator("#verification").inner_text()
        assert "pkg:pypi/textual" in page.locator(".messages").first.inner_text()
        no_sideways_scroll(page)
    assert Project.objects.get(pk=project.pk).is_verified
