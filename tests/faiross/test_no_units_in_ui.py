"""People never read cents, minor units or millibips (issue 11): every admin list and detail
page, every ombudsman action form and the main pages, rendered for staff with one row of
each model, speak money and percent. Only what a person reads counts (text, not the
HTML's class names or scripts, nor API pages, whose fields are in those units)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.test_factories import FACTORIES

pytestmark = pytest.mark.django_db

# "Rounded down to the cent" (the agreement's wording) is a rule, not an amount in cents.
UNITS = re.compile(r"millibip|\bcents\b|minor units?", re.IGNORECASE)


class _Text(HTMLParser):
    """The text a person reads: element text, outside <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def read_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    # Only ASCII spaces are collapsed: a no-break space belongs to "12,5\xa0%" and "2,00\xa0€".
    return re.sub(r"[ \t\r\n\f\v]+", " ", " ".join(parser.parts)).strip()


def units_said(html: str) -> list[str]:
    """Each place the page's text names a unit, with some words around it."""
    text = read_text(html)
    return [text[max(0, m.start() - 60) : m.end() + 40] for m in UNITS.finditer(text)]


@pytest.fixture
def one_of_each(db):
    """A row of every model of the four apps (the factories' defaults)."""
    return [factory() for factory in FACTORIES]


@pytest.fixture
def root(db):
    from tests.factories import UserFactory

    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _admin_pages(rows: list) -> list[str]:
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        obj = (
            next((r for r in rows if isinstance(r, model)), None) or model._default_manager.first()
        )
        if obj is not None:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    return pages


def test_admin_lists_and_detail_pages_never_name_the_units(client, root, one_of_each):
    client.force_login(root)
    found = {}
    for url in _admin_pages(one_of_each):
        r = client.get(url)
        assert r.status_code == 200, url
        if said := units_said(r.content.decode()):
            found[url] = said
    assert found == {}


def test_ombudsman_action_forms_never_name_the_units(client, root):
    from disputes.admin import ACTIONS
    from tests.factories import DisputeFactory, HoldFactory

    dispute = DisputeFactory(amount_at_stake=20_000, currency="usd")
    hold = HoldFactory(dispute=dispute, amount=10_000)
    client.force_login(root)
    found = {}
    for action, (_, _, _, needs_hold) in ACTIONS.items():
        if needs_hold:
            url = reverse("admin:disputes_dispute_hold_act", args=[dispute.pk, hold.pk, action])
        else:
            url = reverse("admin:disputes_dispute_act", args=[dispute.pk, action])
        page = client.get(url).content.decode()
        if said := units_said(page):
            found[action] = said
    assert found == {}


# Each page, and what it shows instead: the share as a percentage, the money as money.
MAIN_PAGES = [
    ("/", ""),
    ("/projects/", ""),
    ("/projects/numpy/", "12.5%"),
    ("/projects/numpy/table/edit/", "0.00001%"),
    ("/projects/numpy/table/history/", "87.5%"),
    ("/payouts/get-paid/", "$"),
    ("/payouts/earnings/", "$2,000.50"),
    ("/disputes/new/?about=project:numpy", "Typed as in English"),
]


@pytest.mark.parametrize(("url", "shown"), MAIN_PAGES)
def test_main_pages_never_name_the_units(client, root, url, shown):
    from tests.factories import ProjectFactory, TableVersionFactory, credit

    project = ProjectFactory(slug="numpy", name="NumPy", steward=root)
    TableVersionFactory(project=project, actor=root, entries=[("user:root", 1_250_000)])
    credit("user:root", 200_050)
    client.force_login(root)
    r = client.get(url, follow=True)
    assert r.status_code == 200
    assert shown in read_text(r.content.decode())
    assert units_said(r.content.decode()) == []
