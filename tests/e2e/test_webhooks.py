"""A steward manages webhooks on a 390 px phone: from the edit page to a new endpoint (the
secret shown once), a test event that a local receiver gets, its delivery, and a replay;
no page scrolls sideways."""

import os

import pytest

from projects.webhooks.tasks import webhook_inline_senders_wait
from tests.e2e.helpers import sign_in
from tests.factories import ProjectFactory
from tests.projects.test_webhooks import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("FAIROSS_SCREENSHOTS", "")


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"webhooks-{name}.png"), full_page=True)


def test_steward_adds_an_endpoint_tests_it_and_replays_on_a_phone(page, user):
    ProjectFactory(slug="textual", name="Textual", steward=user)
    receiver = Receiver().start()
    try:
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, user.username)
        page.goto("/projects/textual/edit/")
        page.locator("#webhooks-link").get_by_role("link", name="Webhooks").click()
        assert page.get_by_role("heading", name="Webhooks").is_visible()
        no_sideways_scroll(page)
        shot(page, "list-empty")

        page.fill("input[name=url]", receiver.url)
        page.fill("input[name=description]", "Our CI")
        page.get_by_label("run.done").uncheck()
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.locator("#webhook-secret-value").inner_text()
        assert secret.startswith("whsec_")
        no_sideways_scroll(page)
        shot(page, "endpoint-secret")

        page.get_by_role("button", name="Send test event").click()
        assert webhook_inline_senders_wait(timeout=20)
        assert [r.json["type"] for r in receiver.requests] == ["webhook.test"]
        page.reload()
        assert secret not in page.content()  # shown once
        row = page.locator("#webhook-deliveries tbody tr").first
        assert "succeeded" in row.inner_text() and "200" in row.inner_text()
        no_sideways_scroll(page)
        shot(page, "endpoint-deliveries")

        row.get_by_role("link", name="webhook.test").click()
        page.get_by_role("button", name="Replay").click()
        assert webhook_inline_senders_wait(timeout=20)
        page.reload()
        assert page.locator("#webhook-attempts tbody tr").count() == 2
        ids = {r.json["id"] for r in receiver.requests}
        assert len(receiver.requests) == 2 and ids == {page.locator("#event-id").inner_text()}
        no_sideways_scroll(page)
        shot(page, "delivery")
    finally:
        receiver.stop()
