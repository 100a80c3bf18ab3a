import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission

from disputes import selectors, services
from disputes.models import Dispute
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    DisputeFactory,
    RunAllocationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _file(w, target):
    return DisputeFactory(filer=w.carol, target=target, title="t", description="d")


def test_recipient_is_held_only_while_a_hold_is_active(world):
    d = _file(world, f"table_entry:{world.entry.pk}")
    assert selectors.recipient_is_held(recipient="user:bob") is False
    h = services.hold_place(dispute=d, actor=world.dana, amount=10, currency="usd", reason="r")
    assert selectors.recipient_is_held(recipient="user:bob") is True
    assert selectors.recipient_is_held(recipient="user:carol") is False
    assert [x.pk for x in selectors.holds_for("user:bob")] == [h.pk]
    services.hold_release(hold=h, actor=world.dana, reason="r")
    assert selectors.recipient_is_held(recipient="user:bob") is False
    assert list(selectors.holds_for("user:bob")) == []


def test_visibility(world):
    d = _file(world, f"table_entry:{world.entry.pk}")
    assert selectors.dispute_visible_to(dispute=d, user=world.carol)
    assert selectors.dispute_visible_to(dispute=d, user=world.bob)
    assert selectors.dispute_visible_to(dispute=d, user=world.alice)
    assert selectors.dispute_visible_to(dispute=d, user=world.dana)
    assert not selectors.dispute_visible_to(dispute=d, user=UserFactory(username="mallory"))
    assert not selectors.dispute_visible_to(dispute=d, user=AnonymousUser())
    staff = UserFactory(username="staff", is_staff=True)
    assert not selectors.dispute_visible_to(dispute=d, user=staff)


def test_ombudsmen_by_group_or_superuser(world):
    group = Group.objects.create(name="office")
    group.permissions.add(Permission.objects.get(codename="act_as_ombudsman"))
    g = UserFactory(username="grace", is_staff=True)
    g.groups.add(group)
    UserFactory(username="root", is_staff=True, is_superuser=True)
    UserFactory(username="plainstaff", is_staff=True)
    names = set(selectors.ombudsmen().values_list("username", flat=True))
    assert names == {"dana", "erin", "grace", "root"}


def test_public_counts_show_no_content(world):
    assert selectors.open_dispute_count_on_table(owner_key="project:numpy") == 0
    d = _file(world, f"table_version:{world.version.pk}")
    _file(world, "project:numpy")
    assert selectors.open_dispute_count_on_table(owner_key="project:numpy") == 1
    assert selectors.open_dispute_count_on_project(project=world.project) == 2
    services.dispute_resolve(dispute=d, actor=world.dana, outcome="rejected", resolution="no")
    assert selectors.open_dispute_count_on_table(owner_key="project:numpy") == 0


def test_target_describe_distribution_line(world):
    line = RunAllocationFactory(recipient="user:bob", amount=1234)
    t = selectors.target_describe(target=f"distribution_line:{line.pk}")
    assert (t.recipient, t.amount, t.currency) == ("user:bob", 1234, "usd")
    d = _file(world, f"distribution_line:{line.pk}")
    assert (d.amount_at_stake, d.currency) == (1234, "usd")
    assert d.parties.filter(user=world.bob, role="recipient").exists()


def test_target_describe_table_version_lists_entries(world):
    t = selectors.target_describe(target=f"table_version:{world.version.pk}")
    assert [e.recipient for e in t.entries] == ["user:bob", "github:octocat"]
    assert t.table_owner == "project:numpy" and t.url.endswith("/table/v1/")


def test_party_emails_are_unique(world):
    d = _file(world, f"table_entry:{world.entry.pk}")
    assert selectors.party_emails(dispute=d) == [
        "carol@example.com",
        "alice@example.com",
        "bob@example.com",
    ]
    assert Dispute.objects.count() == 1


def test_dispute_about_a_payout_names_its_recipient_and_amount(world, monkeypatch):
    # The payout is looked up generically (no foreign key to the payouts models).
    from types import SimpleNamespace

    fake = SimpleNamespace(recipient="user:bob", amount=4_321, currency="usd")
    monkeypatch.setattr(selectors, "_generic_object", lambda app, model, ident: fake)
    d = _file(world, "payout:7")
    assert (d.recipient, d.amount_at_stake, d.currency) == ("user:bob", 4_321, "usd")
    assert d.parties.filter(user=world.bob, role="recipient").exists()


def test_dispute_about_an_agreement_names_company_owners(world):
    owner = UserFactory(username="olive")
    company = CompanyFactory(slug="acme", name="Acme Inc.", owner=owner)
    agreement = AgreementFactory(company=company, kind="pledge", status="draft")
    d = _file(world, f"agreement:{agreement.pk}")
    assert d.target == f"agreement:{agreement.pk}"
    assert d.parties.filter(user=owner, role="company_owner").exists()
