import pytest
from django.urls import reverse

from disputes.models import Dispute, Hold
from payouts.selectors import account_balance
from projects.models import TableVersion
from tests.factories import DisputeFactory, MembershipFactory, OmbudsmanFactory, UserFactory

pytestmark = pytest.mark.django_db


def act(pk, action, hold=None):
    if hold is not None:
        return reverse("admin:disputes_dispute_hold_act", args=[pk, hold, action])
    return reverse("admin:disputes_dispute_act", args=[pk, action])


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status__exact=open",
        "?kind__exact=missing_credit",
        "?age=1",
        "?age=old",
        "?stake=lt1k",
        "?stake=none",
        "?assigned=me",
        "?assigned=none",
        "?assigned=overdue",
        "?o=6",
        "?q=credit",
    ],
)
def test_queue_with_filters(client, world, dispute, query):
    client.force_login(world.dana)
    r = client.get(reverse("admin:disputes_dispute_changelist") + query)
    assert r.status_code == 200


def test_queue_filters_select(client, world, dispute):
    client.force_login(world.dana)
    url = reverse("admin:disputes_dispute_changelist")
    assert "Credit me" in client.get(url + "?stake=lt1k").content.decode()
    assert "Credit me" not in client.get(url + "?stake=ge10k").content.decode()
    assert "Credit me" in client.get(url + "?age=1").content.decode()
    assert "Credit me" not in client.get(url + "?age=old").content.decode()


def test_staff_without_permission_cannot_see_or_act(client, world, dispute):
    client.force_login(UserFactory(username="stan", is_staff=True))
    assert client.get(reverse("admin:disputes_dispute_changelist")).status_code == 403
    assert client.get(act(dispute.pk, "hold")).status_code == 403


def test_parties_do_not_see_their_dispute_in_admin(client, world, dispute):
    insider = OmbudsmanFactory(username="insider")
    MembershipFactory(project=world.project, user=insider, role="steward")
    d2 = DisputeFactory(
        filer=world.carol,
        target="project:numpy",
        kind="governance",
        title="Insider case",
        description="D",
    )
    client.force_login(insider)
    page = client.get(reverse("admin:disputes_dispute_changelist")).content.decode()
    # Parties are fixed when filed: insider became a steward after the first dispute.
    assert "Credit me" in page and "Insider case" not in page
    assert client.get(act(d2.pk, "resolve")).status_code == 404


def test_change_page_is_read_only_with_actions_and_trail(client, world, dispute):
    client.force_login(world.dana)
    r = client.get(reverse("admin:disputes_dispute_change", args=[dispute.pk]))
    page = r.content.decode()
    assert r.status_code == 200
    assert "Ombudsman actions" in page and "Hold money" in page and "dispute.file" in page
    assert 'name="_save"' not in page


@pytest.mark.parametrize(
    "action",
    ["assign", "deadline", "stake", "note", "message", "hold", "correct", "stewards", "resolve"],
)
def test_every_action_page_asks(client, world, dispute, action):
    client.force_login(world.dana)
    r = client.get(act(dispute.pk, action))
    assert r.status_code == 200
    assert 'id="action-form"' in r.content.decode()


def test_unknown_action_is_404(client, world, dispute):
    client.force_login(world.dana)
    assert client.get(act(dispute.pk, "explode")).status_code == 404
    assert client.get(act(dispute.pk, "release", hold=999)).status_code == 404


def test_hold_redirect_correct_resolve_through_admin(client, world, dispute):
    client.force_login(world.dana)
    r = client.post(
        act(dispute.pk, "hold"),
        {"recipient": "user:bob", "amount": "200.01", "currency": "usd", "reason": "r"},
    )
    assert r.status_code == 400 and "money at stake" in r.content.decode()
    r = client.post(
        act(dispute.pk, "hold"),
        {"recipient": "user:bob", "amount": "200.00", "currency": "usd", "reason": ""},
    )
    assert r.status_code == 400
    assert Hold.objects.count() == 0
    r = client.post(
        act(dispute.pk, "hold"),
        {"recipient": "user:bob", "amount": "200", "currency": "usd", "reason": "At stake"},
    )
    assert r.status_code == 302
    hold = Hold.objects.get()
    r = client.post(
        act(dispute.pk, "correct"),
        {"owner_key": "project:numpy", "entries": "user:carol lots", "reason": "r"},
    )
    assert r.status_code == 400 and "line 1" in r.content.decode()
    r = client.post(
        act(dispute.pk, "correct"),
        {
            "owner_key": "project:numpy",
            "entries": "user:carol 30\ngithub:octocat 10",
            "reason": "carol's work",
        },
    )
    assert r.status_code == 302
    assert TableVersion.objects.get(status="active").source == f"ombudsman:dispute-{dispute.pk}"
    r = client.post(act(dispute.pk, "resolve"), {"outcome": "upheld", "resolution": "x"})
    assert r.status_code == 400 and "active hold" in r.content.decode()
    r = client.post(
        act(dispute.pk, "redirect", hold=hold.pk), {"to_recipient": "user:carol", "reason": "hers"}
    )
    assert r.status_code == 302
    assert account_balance(owner="user:carol", purpose="available", currency="usd") == 20_000
    r = client.post(act(dispute.pk, "resolve"), {"outcome": "upheld", "resolution": "Carol's."})
    assert r.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.RESOLVED
    page = client.get(reverse("admin:disputes_dispute_change", args=[dispute.pk])).content.decode()
    for action in ("hold.place", "table.correct", "hold.redirect", "dispute.resolve"):
        assert action in page


def test_stewards_action(client, world):
    d = DisputeFactory(
        filer=world.carol, target="project:numpy", kind="ownership", title="T", description="D"
    )
    client.force_login(world.dana)
    assert "alice" in client.get(act(d.pk, "stewards")).content.decode()
    r = client.post(
        act(d.pk, "stewards"), {"stewards": "carol", "former": "remove", "reason": "proved"}
    )
    assert r.status_code == 302
    assert list(world.project.memberships.values_list("user__username", "role")) == [
        ("carol", "steward")
    ]


def test_audit_and_hold_admin_are_read_only(client, world, dispute):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    for name in ("disputes_auditevent", "disputes_hold", "disputes_holdmovement"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:{name}_add")).status_code == 403
    from disputes.models import AuditEvent

    ev = AuditEvent.objects.first()
    r = client.post(reverse("admin:disputes_auditevent_delete", args=[ev.pk]), {"post": "yes"})
    assert r.status_code == 403
    assert AuditEvent.objects.filter(pk=ev.pk).exists()


@pytest.mark.parametrize("owner", ["foo:bar", "project:nope", "company:nope", ""])
def test_correct_refuses_unknown_table_owner(client, world, dispute, owner):
    client.force_login(world.dana)
    r = client.post(
        act(dispute.pk, "correct"),
        {"owner_key": owner, "entries": "user:carol 0.01", "reason": "r"},
    )
    assert r.status_code == 400
    assert TableVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("hold", {"recipient": "user:bob", "amount": "abc", "currency": "usd", "reason": "r"}),
        ("hold", {"recipient": "user:bob", "amount": "10", "currency": "zzz", "reason": "r"}),
        (
            "hold",
            {"recipient": "user:bob", "amount": "10,000,000,001", "currency": "usd", "reason": "r"},
        ),
        ("deadline", {"deadline": "not-a-date", "reason": "r"}),
        ("assign", {"assignee": "999999", "reason": "r"}),
        ("stake", {"amount": "-5", "currency": "usd", "reason": "r"}),
        ("resolve", {"outcome": "maybe", "resolution": "x"}),
        ("decide", {"decision": "confirmed", "text": "x"}),
        ("stewards", {"stewards": "ghost", "former": "maintainer", "reason": "r"}),
    ],
)
def test_bad_admin_input_is_a_form_error_never_a_500(client, world, dispute, action, data):
    client.force_login(world.dana)
    r = client.post(act(dispute.pk, action), data)
    assert r.status_code == 400
    assert "errornote" in r.content.decode()
