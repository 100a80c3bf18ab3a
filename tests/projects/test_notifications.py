"""Notifications: who is told about what, what they are told, and their choices."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from projects.models import TableVersion, UserNotification
from projects.notifications import (
    KINDS,
    RUN_CREDITED,
    TABLE_APPROVAL_NEEDED,
    TABLE_NAMED_PROJECT,
    notification_preferences_set,
    notification_send,
    notification_settings,
)
from projects.services.tables import (
    EntryInput,
    table_propose,
    table_set_quorum,
    table_version_approve,
    table_version_withdraw,
)
from tests.factories import (
    CompanyFactory,
    CompanyMemberFactory,
    DistributionRunFactory,
    InflowFactory,
    MembershipFactory,
    NotificationPreferenceFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def mails_to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if m.to == [address]]


def ticked(page: str, kind: str) -> bool:
    """Whether the page's checkbox for ``kind`` is ticked."""
    box = re.search(rf'<input type="checkbox" name="{kind}"[^>]*>', page)
    assert box, kind
    return " checked" in box.group(0)


def subjects_to(address: str) -> list[str]:
    return [str(m.subject) for m in mails_to(address)]


@pytest.fixture
def team(db):
    """numpy with two stewards (alice, bob: both must approve) and a maintainer (carol);
    dave has an account and no role; scipy is stewarded by erin."""
    people = {n: UserFactory(username=n) for n in ("alice", "bob", "carol", "dave", "erin")}
    project = ProjectFactory(slug="numpy", name="NumPy", steward=people["alice"])
    MembershipFactory(project=project, user=people["bob"])
    MembershipFactory(project=project, user=people["carol"], role="maintainer")
    table_set_quorum(owner_key="project:numpy", actor=people["alice"], quorum=2)
    ProjectFactory(slug="scipy", name="SciPy", steward=people["erin"])
    return type("Team", (), {**people, "project": project})


def propose(team, actor, entries):
    return table_propose(
        owner_key="project:numpy",
        actor=actor,
        entries=[EntryInput(r, m) for r, m in entries],
    )


# --- share tables -----------------------------------------------------------------------


def test_a_proposal_is_mailed_to_the_approvers_who_have_not_approved_only(
    team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version = propose(team, team.carol, [("user:dave", 1_000_000)])
    assert version.status == TableVersion.Status.PROPOSED
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    (message,) = mails_to("bob@example.com")
    assert message.subject == "[FairOSS] Approve version 1 of numpy's share table?"
    assert "carol proposed version 1" in message.body
    assert "/projects/numpy/table/v1/" in message.body
    assert "/settings/notifications/" in message.body  # where to change it

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        propose(team, team.alice, [("user:dave", 2_000_000)])  # alice approves her own
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@example.com"]


def test_activation_tells_the_proposer_and_the_newly_named_with_their_own_share(
    team, django_capture_on_commit_callbacks
):
    version = propose(team, team.carol, [("user:dave", 2_500_000), ("project:scipy", 1_000_000)])
    table_version_approve(version=version, actor=team.alice)
    notification_preferences_set(user=team.erin, enabled={TABLE_NAMED_PROJECT: True})
    with django_capture_on_commit_callbacks(execute=True):
        version = table_version_approve(version=version, actor=team.bob)
    assert version.status == TableVersion.Status.ACTIVE
    assert subjects_to("carol@example.com") == [
        "[FairOSS] Your version 1 of numpy's share table is active"
    ]
    (named,) = mails_to("dave@example.com")
    assert named.subject == "[FairOSS] You are named in the share table of numpy"
    assert "gives you 25%" in named.body
    assert "10%" not in named.body  # nobody else's row
    (steward,) = mails_to("erin@example.com")
    assert "gives your project SciPy 10%" in steward.body
    assert "25%" not in steward.body
    assert mails_to("alice@example.com") == mails_to("bob@example.com") == []

    # A later version naming the same people again tells nobody they are named.
    mail.outbox.clear()
    v2 = propose(team, team.alice, [("user:dave", 3_000_000), ("project:scipy", 1_000_000)])
    with django_capture_on_commit_callbacks(execute=True):
        table_version_approve(version=v2, actor=team.bob)
    assert subjects_to("dave@example.com") == subjects_to("erin@example.com") == []
    assert subjects_to("alice@example.com") == [
        "[FairOSS] Your version 2 of numpy's share table is active"
    ]


def test_a_project_named_is_off_by_default_and_a_sole_steward_is_not_told_about_herself(
    team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        TableVersionFactory(
            owner_key="project:scipy", actor=team.erin, entries=[("project:numpy", 1_000_000)]
        )
    # erin's own proposal took effect at once; numpy's stewards did not choose that kind.
    assert mail.outbox == []


def test_a_withdrawal_by_a_steward_tells_the_proposer(team, django_capture_on_commit_callbacks):
    version = propose(team, team.carol, [("user:dave", 1_000_000)])
    with django_capture_on_commit_callbacks(execute=True):
        table_version_withdraw(version=version, actor=team.alice)
    (message,) = mail.outbox
    assert message.to == ["carol@example.com"]
    assert message.subject == "[FairOSS] Your version 1 of numpy's share table was withdrawn"

    mail.outbox.clear()
    own = propose(team, team.carol, [("user:dave", 1_000_000)])
    with django_capture_on_commit_callbacks(execute=True):
        table_version_withdraw(version=own, actor=team.carol)
    assert mail.outbox == []


def test_the_dashboard_lists_proposals_waiting_for_my_approval(team, client):
    version = propose(team, team.carol, [("user:dave", 1_000_000)])
    client.force_login(team.bob)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'id="approval-todos"' in page
    assert "version 1 of the share table" in page and "proposed by carol" in page
    assert reverse("projects:table_version", args=["numpy", 1]) in page

    client.force_login(team.carol)  # a maintainer does not approve
    assert 'id="approval-todos"' not in client.get(reverse("dashboard")).content.decode()

    table_version_approve(version=version, actor=team.bob)
    client.force_login(team.bob)
    assert 'id="approval-todos"' not in client.get(reverse("dashboard")).content.decode()


def test_company_table_proposals_go_to_its_owners(db, client, django_capture_on_commit_callbacks):
    owner, other_owner, finance = (UserFactory(username=n) for n in ("olga", "otto", "fina"))
    company = CompanyFactory(slug="acme", owner=owner)
    CompanyMemberFactory(company=company, user=other_owner, role="owner")
    CompanyMemberFactory(company=company, user=finance, role="finance")
    ProjectFactory(slug="numpy")
    with django_capture_on_commit_callbacks(execute=True):
        table_propose(
            owner_key="company:acme",
            actor=finance,
            entries=[EntryInput("project:numpy", 10_000_000)],
        )
    assert sorted(m.to[0] for m in mail.outbox) == ["olga@example.com", "otto@example.com"]
    assert "/companies/acme/table/history/" in mail.outbox[0].body
    client.force_login(other_owner)
    todos = client.get(reverse("dashboard")).content.decode()
    assert 'id="approval-todos"' in todos and "proposed by fina" in todos


# --- preferences --------------------------------------------------------------------------


def test_defaults_are_on_except_the_noisy_project_named(db):
    user = UserFactory()
    settings = notification_settings(user=user)
    assert set(settings) == {k.key for k in KINDS}
    assert [k for k, on in settings.items() if not on] == [TABLE_NAMED_PROJECT]


def test_turning_a_kind_off_on_the_settings_page_stops_it(
    team, client, django_capture_on_commit_callbacks
):
    client.force_login(team.bob)
    page = client.get(reverse("notifications")).content.decode()
    assert "A proposal waits for your approval" in page
    assert ticked(page, TABLE_APPROVAL_NEEDED) and not ticked(page, TABLE_NAMED_PROJECT)
    wanted = {k.key: "on" for k in KINDS if k.default and k.key != TABLE_APPROVAL_NEEDED}
    response = client.post(reverse("notifications"), wanted)
    assert response.status_code == 302
    assert notification_settings(user=team.bob)[TABLE_APPROVAL_NEEDED] is False
    assert not ticked(client.get(reverse("notifications")).content.decode(), TABLE_APPROVAL_NEEDED)

    with django_capture_on_commit_callbacks(execute=True):
        propose(team, team.carol, [("user:dave", 1_000_000)])
    assert [m.to[0] for m in mail.outbox] == ["alice@example.com"]


def test_the_settings_link_and_sign_in(client, db):
    assert client.get(reverse("notifications")).status_code == 302  # to sign-in
    client.force_login(UserFactory())
    assert reverse("notifications") in client.get(reverse("settings")).content.decode()


def test_an_unknown_kind_is_refused_and_nothing_is_stored(db):
    user = UserFactory()
    with pytest.raises(Exception, match="Unknown notification kind: nope"):
        notification_preferences_set(user=user, enabled={TABLE_APPROVAL_NEEDED: False, "nope": 1})
    assert notification_settings(user=user)[TABLE_APPROVAL_NEEDED] is True


# --- sending ------------------------------------------------------------------------------


def test_nothing_is_sent_or_kept_when_the_transaction_rolls_back(
    team, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        propose(team, team.carol, [("user:dave", 1_000_000)])
        raise RuntimeError("the request failed after the proposal")
    assert mail.outbox == []
    assert not UserNotification.objects.exists()
    assert not TableVersion.objects.filter(table__owner_key="project:numpy").exists()


def test_the_same_event_told_twice_is_one_message(db, django_capture_on_commit_callbacks):
    user = UserFactory(username="zoe")
    with django_capture_on_commit_callbacks(execute=True):
        first = notification_send(
            user=user, kind=RUN_CREDITED, subject="s", body="b", key="run:1:zoe"
        )
        again = notification_send(
            user=user, kind=RUN_CREDITED, subject="s", body="b", key="run:1:zoe"
        )
    assert first is not None and again is None
    assert len(mail.outbox) == 1
    first.refresh_from_db()
    assert first.sent_at is not None and first.attempts == 1


def test_inactive_people_and_people_without_an_address_get_nothing(
    db, django_capture_on_commit_callbacks
):
    gone = UserFactory(is_active=False)
    nameless = UserFactory(email="")
    with django_capture_on_commit_callbacks(execute=True):
        for user in (gone, nameless):
            assert notification_send(user=user, kind=RUN_CREDITED, subject="s", body="b") is None
    assert mail.outbox == []


def test_a_mail_server_error_never_fails_the_event_and_is_retried(
    db, django_capture_on_commit_callbacks, settings
):
    from projects.tasks import notifications_sweep

    user = UserFactory()
    settings.EMAIL_BACKEND = "tests.projects.test_notifications.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_send(user=user, kind=RUN_CREDITED, subject="s", body="b")
    assert notification is not None
    notification.refresh_from_db()
    assert notification.sent_at is None and "mail server down" in notification.error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    UserNotification.objects.filter(pk=notification.pk).update(
        created_at=notification.created_at - dt.timedelta(minutes=10)
    )
    assert notifications_sweep() == "1 of 1 pending notifications sent"
    assert len(mail.outbox) == 1
    assert notifications_sweep() == "0 of 0 pending notifications sent"


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


@pytest.mark.django_db(transaction=True)
def test_sent_after_a_real_commit_and_not_after_a_real_rollback():
    user = UserFactory(username="yara")
    with transaction.atomic():
        notification_send(user=user, kind=RUN_CREDITED, subject="committed", body="b")
        assert mail.outbox == []  # not before the commit
    assert [m.subject for m in mail.outbox] == ["[FairOSS] committed"]
    with pytest.raises(RuntimeError), transaction.atomic():
        notification_send(user=user, kind=RUN_CREDITED, subject="rolled back", body="b")
        raise RuntimeError
    assert [m.subject for m in mail.outbox] == ["[FairOSS] committed"]


# --- a run's people -----------------------------------------------------------------------


def test_a_run_tells_each_person_credited_their_own_amount_only(
    db, django_capture_on_commit_callbacks
):
    yan = UserFactory(username="yan")
    for name in ("zoe", "xia"):
        UserFactory(username=name)
    company = CompanyFactory(slug="acme", owner=UserFactory(username="olga"))
    TableVersionFactory(
        owner_key="company:acme",
        actor=company.members.get().user,
        entries=[
            ("user:zoe", 6_000_000),
            ("user:yan", 3_000_000),
            ("github:octocat", 1_000_000),
        ],
    )
    InflowFactory(company=company, amount=10_000)
    NotificationPreferenceFactory(user=yan, kind=RUN_CREDITED, enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        run = DistributionRunFactory()
    (message,) = mails_to("zoe@example.com")
    assert message.subject == f"[FairOSS] Distribution run {run.pk} credited you"
    assert "$60.00" in message.body
    assert "$30.00" not in message.body and "yan" not in message.body
    assert "octocat" not in message.body and "$10.00" not in message.body
    assert mails_to("yan@example.com") == []  # turned off
    assert mails_to("xia@example.com") == mails_to("olga@example.com") == []
