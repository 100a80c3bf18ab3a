"""Reserve grants: stewards give from a project's reserve by the table's quorum."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from payouts import reserves
from payouts.distribution import runs
from payouts.models import LedgerTransaction, ReserveGrant
from payouts.selectors import account_balance
from projects.models import Membership
from tests.factories import HoldFactory, ProjectFactory, UserFactory, credit

pytest_plugins = ["tests.payouts.payout_fixtures"]


def bal(owner: str, purpose: str) -> int:
    return account_balance(owner=owner, purpose=purpose, currency="usd")


@pytest.fixture
def numpy(db, ledger_checked):
    """numpy (verified) with stewards ann, ben, cat (quorum: a majority, 2), maintainer dev,
    $100.00 in its reserve; another project scipy (verified) with a table to user:eve 50%."""
    ann = UserFactory(username="ann")
    project = ProjectFactory(slug="numpy", steward=ann)
    for name in ("ben", "cat"):
        Membership.objects.create(project=project, user=UserFactory(username=name), role="steward")
    Membership.objects.create(project=project, user=UserFactory(username="dev"), role="maintainer")
    UserFactory(username="eve")
    ProjectFactory(slug="scipy", steward=UserFactory(), table=[("user:eve", 5_000_000)])
    credit("project:numpy", 10_000, purpose="reserve")
    return project


def user(name):
    from django.contrib.auth.models import User

    return User.objects.get(username=name)


def propose(project, actor="ann", recipient="user:dev", amount=2_500):
    return reserves.reserve_grant_propose(
        project=project,
        actor=user(actor),
        recipient=recipient,
        amount=amount,
        currency="usd",
        reason="Release work",
    )


def test_a_grant_moves_nothing_until_the_quorum_approves(numpy):
    grant = propose(numpy)
    # One approval of the two needed: nothing moves.
    assert grant.status == ReserveGrant.Status.PROPOSED
    assert bal("project:numpy", "reserve") == 10_000 and bal("user:dev", "available") == 0
    with pytest.raises(ValidationError, match="already decided"):
        reserves.reserve_grant_approve(grant=grant, actor=user("ann"))
    with pytest.raises(PermissionDenied):
        reserves.reserve_grant_approve(grant=grant, actor=user("dev"))  # a maintainer
    grant = reserves.reserve_grant_approve(grant=grant, actor=user("ben"))
    assert grant.status == ReserveGrant.Status.EXECUTED
    assert bal("project:numpy", "reserve") == 7_500 and bal("user:dev", "available") == 2_500
    txn = grant.transaction
    assert txn.kind == LedgerTransaction.Kind.RESERVE_GRANT
    assert txn.reference == f"reserve_grant:{grant.pk}"
    assert "approved by ann, ben (quorum 2 of 3)" in txn.memo
    # Once executed it cannot be approved again (and nothing moves twice).
    with pytest.raises(ValidationError, match="is granted"):
        reserves.reserve_grant_approve(grant=grant, actor=user("cat"))
    assert bal("user:dev", "available") == 2_500
    call_command("ledger_check", stdout=StringIO())


def test_more_than_the_reserve_is_refused(numpy):
    with pytest.raises(ValidationError, match=r"holds \$100.00"):
        propose(numpy, amount=10_001)
    # Two proposals each within the reserve, together more: the second to execute is refused.
    first, second = propose(numpy, amount=6_000), propose(numpy, amount=6_000)
    reserves.reserve_grant_approve(grant=first, actor=user("ben"))
    with pytest.raises(ValidationError, match=r"holds \$40.00"):
        reserves.reserve_grant_approve(grant=second, actor=user("ben"))
    second.refresh_from_db()
    assert second.status == ReserveGrant.Status.PROPOSED and second.approvals.count() == 1
    assert bal("project:numpy", "reserve") == 4_000 and bal("user:dev", "available") == 6_000


def test_held_money_is_not_granted(numpy):
    HoldFactory(recipient="project:numpy", source="reserve", amount=9_000, fund=False)
    assert bal("project:numpy", "reserve") == 1_000
    with pytest.raises(ValidationError, match=r"holds \$10.00"):
        propose(numpy, amount=5_000)
    grant = propose(numpy, amount=500)
    with pytest.raises(ValidationError, match="active hold"):
        reserves.reserve_grant_approve(grant=grant, actor=user("ben"))
    assert bal("project:numpy", "reserve") == 1_000


def test_rejections_that_make_the_quorum_impossible_reject(numpy):
    grant = propose(numpy)
    grant = reserves.reserve_grant_reject(grant=grant, actor=user("ben"))
    assert grant.status == ReserveGrant.Status.PROPOSED  # ann + cat could still approve
    grant = reserves.reserve_grant_reject(grant=grant, actor=user("cat"))
    assert grant.status == ReserveGrant.Status.REJECTED
    assert bal("project:numpy", "reserve") == 10_000
    other = reserves.reserve_grant_withdraw(grant=propose(numpy), actor=user("ann"))
    assert other.status == ReserveGrant.Status.WITHDRAWN


def test_recipients_are_members_or_other_projects(numpy):
    UserFactory(username="stranger")
    with pytest.raises(ValidationError, match="not a member"):
        propose(numpy, recipient="user:stranger")
    with pytest.raises(ValidationError, match="itself"):
        propose(numpy, recipient="project:numpy")
    with pytest.raises(ValidationError, match="member"):
        propose(numpy, recipient="github:someone")
    unverified = ProjectFactory(slug="fresh", steward=user("ann"), unverified=True)
    credit("project:fresh", 1_000, purpose="reserve")
    with pytest.raises(ValidationError, match="not verified"):
        propose(unverified, amount=100)


def test_a_grant_to_a_project_flows_on_by_its_table_in_the_next_run(numpy):
    grant = propose(numpy, recipient="project:scipy", amount=3_001)
    reserves.reserve_grant_approve(grant=grant, actor=user("cat"))
    assert bal("project:scipy", "escrow") == 3_001
    run = runs.distribution_run_create()
    runs.distribution_run_execute(run_id=run.pk)
    assert bal("project:scipy", "escrow") == 0
    # 50% of 3,001 = 1,500.5 each to eve and scipy's reserve; the tie goes to the lower id.
    assert bal("user:eve", "available") + bal("project:scipy", "reserve") == 3_001
    assert bal("user:eve", "available") == 1_500  # project:scipy sorts first
    call_command("ledger_check", stdout=StringIO())


def test_stewards_propose_and_approve_on_the_page(numpy, client):
    client.force_login(user("ann"))
    page = client.get("/projects/numpy/").content.decode()
    assert "/payouts/reserve/numpy/" in page and "$100.00 in the reserve" in page
    url = "/payouts/reserve/numpy/"
    form = {"recipient": "user:dev", "amount": "25.50", "currency": "usd", "reason": "Docs"}
    review = client.post(url, form).content.decode()
    # The page shows what it understood before anything is stored.
    assert "You are proposing to grant <strong>$25.50</strong>" in review
    assert not ReserveGrant.objects.exists()
    ambiguous = client.post(url, {**form, "amount": "2550,50"}).content.decode()
    assert "errorlist" in ambiguous and not ReserveGrant.objects.exists()
    client.post(url, {**form, "confirm": "1"}, follow=True)
    (grant,) = ReserveGrant.objects.all()
    assert grant.amount == 2_550 and grant.status == "proposed"
    client.force_login(user("ben"))
    done = client.post(f"{url}{grant.pk}/approve/", follow=True).content.decode()
    assert "$25.50 granted" in done
    assert bal("user:dev", "available") == 2_550
    # A maintainer (and anyone else) does not see the page: grants to people are private.
    client.force_login(user("dev"))
    assert client.get(url).status_code == 404
    assert "/payouts/reserve/numpy/" not in client.get("/projects/numpy/").content.decode()
