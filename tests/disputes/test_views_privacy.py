"""``/disputes/new/?about=…`` describes only what the signed-in user may see (money rule 9):
a payout to its payee, an agreement (drafts too) to its company's members, a person's
distribution line to that person; anything else gets the same neutral form as an unknown
target, and filing about it is refused the same way."""

import pytest
from django.urls import reverse

from disputes.models import Dispute
from tests.factories import (
    AgreementFactory,
    CompanyMemberFactory,
    PayoutFactory,
    RunAllocationFactory,
    TableVersionFactory,
    TaxFormFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NEUTRAL = "There is nothing you can dispute as"


def _new(client, about: str) -> tuple[int, str]:
    r = client.get(reverse("disputes:new") + f"?about={about}")
    return r.status_code, r.content.decode()


@pytest.fixture
def payout(db):
    payee = UserFactory(username="payee", email="payee-secret@mail.example")
    TaxFormFactory(user=payee)
    return PayoutFactory(user=payee, amount=123_456)


def test_a_payout_is_described_to_its_payee_only(client, payout, other_user):
    client.force_login(other_user)
    status, page = _new(client, f"payout:{payout.pk}")
    assert status == 400 and NEUTRAL in page
    assert "1,234.56" not in page and "payee" not in page
    # The same answer as for a payout that does not exist: nothing is learnt.
    _, missing = _new(client, "payout:999999")
    assert NEUTRAL in missing
    client.force_login(payout.user)
    status, page = _new(client, f"payout:{payout.pk}")
    assert status == 200 and "$1,234.56" in page


def test_filing_about_a_hidden_target_is_refused(client, payout, other_user):
    client.force_login(other_user)
    r = client.post(
        reverse("disputes:new"),
        {"target": f"payout:{payout.pk}", "kind": "other", "title": "t", "description": "d"},
    )
    assert r.status_code == 400 and NEUTRAL in r.content.decode()
    assert Dispute.objects.count() == 0


def test_a_draft_agreement_is_described_to_its_company_only(client, other_user):
    draft = AgreementFactory(status="draft")
    client.force_login(other_user)
    status, page = _new(client, f"agreement:{draft.pk}")
    assert status == 400 and NEUTRAL in page and draft.company.name not in page
    member = UserFactory(username="finance-person")
    CompanyMemberFactory(company=draft.company, user=member, role="finance")
    client.force_login(member)
    status, page = _new(client, f"agreement:{draft.pk}")
    assert status == 200 and draft.company.name in page


def test_a_persons_distribution_line_is_theirs_a_projects_is_public(client, other_user, project):
    person = UserFactory(username="liner")
    line = RunAllocationFactory(recipient="user:liner", amount=98_765)
    client.force_login(other_user)
    status, page = _new(client, f"distribution_line:{line.pk}")
    assert status == 400 and "987.65" not in page
    client.force_login(person)
    assert "$987.65" in _new(client, f"distribution_line:{line.pk}")[1]
    project_line = RunAllocationFactory(recipient="project:numpy", amount=4_321)
    client.force_login(other_user)
    status, page = _new(client, f"distribution_line:{project_line.pk}")
    assert status == 200 and "$43.21" in page


def test_table_targets_mask_email_recipients(client, project, user, other_user):
    version = TableVersionFactory(
        owner_key="project:numpy", actor=user, entries=[("email:zoe.hidden@example.org", 100_000)]
    )
    entry = version.entries.get()
    client.force_login(other_user)
    for about in (f"table_version:{version.pk}", f"table_entry:{entry.pk}"):
        status, page = _new(client, about)
        assert status == 200
        assert "zoe.hidden" not in page and "z***@example.org" in page
    assert "1%" in _new(client, f"table_entry:{entry.pk}")[1]  # percent, never millibips
