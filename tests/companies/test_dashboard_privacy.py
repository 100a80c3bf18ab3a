"""The company dashboard and its CSV: what a person received from the company's money is
private (money rule 9). Members see people counted and summed, except people who opted in
to a public profile and themselves; staff see everyone."""

import csv
import io

import pytest

from faiross.kernel.money import money_format
from tests.factories import (
    CompanyMemberFactory,
    DistributionRunFactory,
    InflowFactory,
    StaffFactory,
    TableVersionFactory,
    UserFactory,
    UserProfileFactory,
)

pytestmark = pytest.mark.django_db


def usd(cents: int) -> str:
    return money_format(amount=cents, currency="usd")


@pytest.fixture
def paid(company, owner, dependency):
    """ACME's $1,000.00, distributed by its table: numpy 40%, pat 23% (private, and a viewer
    of ACME), opal 13% (public profile), octocat 11%, an email address 7%."""
    pat = UserFactory(username="pat")
    UserProfileFactory(user=pat, public=False)
    CompanyMemberFactory(company=company, user=pat, role="viewer")
    UserProfileFactory(user=UserFactory(username="opal"), public=True)
    TableVersionFactory(
        owner_key=company.owner_key,
        actor=owner,
        entries=[
            ("project:numpy", 4_000_000),
            ("user:pat", 2_300_000),
            ("user:opal", 1_300_000),
            ("github:octocat", 1_100_000),
            ("email:erin.private@example.org", 700_000),
        ],
    )
    InflowFactory(company=company, amount=100_000)
    run = DistributionRunFactory()
    assert run.status == "done", run.error
    return pat


def reached_rows(client) -> str:
    page = client.get("/companies/acme/").content.decode()
    start = page.index('id="reached"')
    return page[start : page.index('id="preview"')]


def csv_reached(client) -> dict[str, str]:
    response = client.get("/companies/acme/export.csv")
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(response.content.decode()))
    return {r["reference"]: r["amount"] for r in rows if r["section"] == "reached"}


def test_members_see_people_summed_except_who_opted_in(client, owner, paid):
    client.force_login(owner)
    card = reached_rows(client)
    assert "NumPy" in card or ">numpy<" in card
    assert usd(40_000) in card
    # opal opted in: named, with her amount.
    assert ">opal<" in card and usd(13_000) in card
    # pat, octocat and erin: one row, their exact sum, nobody named.
    assert "people (3)" in card and usd(23_000 + 11_000 + 7_000) in card
    for private in (">pat<", "octocat", "erin", usd(23_000), usd(11_000), usd(7_000)):
        assert private not in card
    assert csv_reached(client) == {
        "project:numpy": "400.00",
        "company:acme": "60.00",  # the reserve
        "user:opal": "130.00",
        "people (3)": "410.00",
    }


def test_a_person_sees_their_own_line_and_staff_see_everyone(client, paid):
    client.force_login(paid)  # pat, a viewer of ACME
    card = reached_rows(client)
    assert ">pat<" in card and usd(23_000) in card
    assert "people (2)" in card and usd(18_000) in card and "octocat" not in card
    client.force_login(StaffFactory())
    card = reached_rows(client)
    assert "people (" not in card
    for named in (">pat<", ">opal<", "octocat (GitHub)", usd(23_000), usd(11_000)):
        assert named in card
    assert "erin.private@example.org" in card  # staff read addresses in full
    assert csv_reached(client) == {
        "project:numpy": "400.00",
        "company:acme": "60.00",
        "user:pat": "230.00",
        "user:opal": "130.00",
        "github:octocat": "110.00",
        "email:erin.private@example.org": "70.00",
    }


def test_the_people_row_adds_up_to_what_the_people_received(paid, company, owner):
    from companies.selectors import company_money_reached, company_money_reached_shown

    full = company_money_reached(company=company)
    shown = company_money_reached_shown(company=company, viewer=owner)
    assert sum(r.amount for r in shown) == sum(r.amount for r in full)
    people = [r for r in shown if r.people]
    assert [(r.recipient, r.people) for r in people] == [("people (3)", 3)]
    assert shown[-1] == people[0]  # after the named rows
