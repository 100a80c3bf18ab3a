"""Issue 12's walk, on a phone: home → explore → project → the trace of a credit to a person,
signed in as that person, and the hops on the page add up to the cent."""

from __future__ import annotations

import re

import pytest

from payouts.models import RunAllocation
from tests.e2e.helpers import sign_in
from tests.factories import (
    CompanyFactory,
    DistributionRunFactory,
    InflowFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390

# For every hop the page says is split, the hops under it (data-parent) must add up to it.
CHECK_SUMS = """() => {
  const problems = [];
  for (const tree of document.querySelectorAll("section.trace")) {
    const hops = [...tree.querySelectorAll("li.hop")];
    const sums = {};
    for (const hop of hops) {
      const parent = hop.dataset.parent;
      if (parent !== "") sums[parent] = (sums[parent] || 0) + Number(hop.dataset.amount);
    }
    for (const hop of hops) {
      if (hop.dataset.split === "1" && sums[hop.dataset.hop] !== Number(hop.dataset.amount)) {
        problems.push(tree.dataset.currency + " hop " + hop.dataset.hop);
      }
    }
    const root = hops[0];
    if (Number(root.dataset.amount) !== Number(tree.dataset.total)) problems.push("root");
  }
  return {problems, trees: document.querySelectorAll("section.trace").length,
          hops: document.querySelectorAll("li.hop").length};
}"""


def test_walk_to_my_trace_and_the_hops_add_up(browser, live_server):
    # acme → numpy; numpy → scipy 20%, alice 30%; scipy → numpy 10% (a cycle), a GitHub login.
    alice = UserFactory(username="alice")
    ProjectFactory(slug="scipy", name="SciPy", steward=alice)
    ProjectFactory(
        slug="numpy",
        name="NumPy",
        steward=alice,
        table=[("project:scipy", 2_000_000), ("user:alice", 3_000_000)],
    )
    TableVersionFactory(
        owner_key="project:scipy",
        actor=alice,
        entries=[("project:numpy", 1_000_000), ("github:someone-else", 4_000_000)],
    )
    company = CompanyFactory(
        slug="acme", name="Acme", owner=UserFactory(), table=[("project:numpy", 10_000_000)]
    )
    InflowFactory(company=company, amount=1_000_003, reference="W-TRACE-1")
    InflowFactory(company=company, amount=50_000, currency="eur", reference="W-TRACE-2")
    run = DistributionRunFactory()
    credits = dict(
        RunAllocation.objects.filter(run=run, recipient="user:alice").values_list(
            "currency", "amount"
        )
    )
    assert set(credits) == {"usd", "eur"}

    context = browser.new_context(
        base_url=live_server.url, viewport={"width": WIDTH, "height": 844}, is_mobile=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, "alice")
        page.goto("/")
        page.get_by_role("link", name="Explore projects").click()
        page.wait_for_url(re.compile(r"/projects/"))
        page.locator("main").get_by_role("link", name="NumPy").first.click()
        page.wait_for_url(re.compile(r"/projects/numpy/$"))
        # The project's "received" box links to the trace of its own credit ...
        page.locator("#received").get_by_role("link", name="trace hop by hop").first.click()
        page.wait_for_url(re.compile(rf"/runs/{run.pk}/trace/\?recipient=project"))
        assert page.evaluate(CHECK_SUMS)["problems"] == []
        # ... and from there to my own.
        page.get_by_role("link", name="My own credit").click()
        page.wait_for_url(re.compile(r"recipient=user%3Aalice"))
        result = page.evaluate(CHECK_SUMS)
        assert result["problems"] == [] and result["trees"] == 2 and result["hops"] > 6
        totals = {
            s.get_attribute("data-currency"): int(s.get_attribute("data-total") or 0)
            for s in page.locator("section.trace").all()
        }
        assert totals == credits  # the root is alice's real allocation in each currency
        text = page.locator("main").inner_text()
        assert "alice received" in text and "from numpy" in text
        assert "inflow #" in text and "again: went round a cycle" in text
        assert "someone-else" not in text  # another person is never named in my trace
        assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDTH
    finally:
        context.close()
