import re

import pytest
from django.core import mail

from projects.models import Membership, Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_maintainer_signs_up_confirms_email_and_onboards_a_project(page, live_server):
    page.goto("/")
    page.get_by_role("banner").get_by_role("link", name="Sign up").click()
    page.fill("input[name=email]", "maya@example.org")
    page.fill("input[name=username]", "maya")
    page.fill("input[name=password1]", "a-long-safe-passphrase-42")
    page.fill("input[name=password2]", "a-long-safe-passphrase-42")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))

    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    page.goto(link.group(1))
    page.locator("main form button[type=submit]").click()

    page.goto("/projects/new/")
    page.fill("input[name=name]", "Textual")
    page.fill("input[name=slug]", "textual")
    page.get_by_role("button", name="Next").click()
    page.fill("input[name=repo_url]", "https://github.com/Textualize/textual")
    page.fill("textarea[name=description]", "The lean application framework for Python.")
    page.get_by_role("button", name="Next").click()
    page.fill("textarea[name=purls]", "pkg:pypi/textual")
    page.get_by_role("button", name="Create project").click()

    page.wait_for_url(re.compile(r"/projects/textual/$"))
    assert page.locator("h1").inner_text().startswith("Textual")
    assert "maya" in page.locator("aside").inner_text()
    assert "pkg:pypi/textual" in page.content()
    project = Project.objects.get(slug="textual")
    assert Membership.objects.get(project=project).user.username == "maya"

    page.get_by_role("link", name="My projects").click()
    assert "Textual" in page.locator("main").inner_text()
