"""Claiming escrow (GitHub sign-in, verified email) and returning what stays unclaimed."""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.utils import timezone

from payouts import tasks
from payouts.connect import claims, escrow
from payouts.connect.escrow import escrow_notices_for_owner
from payouts.distribution import runs
from payouts.inflows import inflow_record
from payouts.models import ClaimedIdentity, LedgerTransaction
from payouts.selectors import account_balance, claimable_escrow
from tests.factories import CompanyFactory, ProjectFactory, SocialAccountFactory, UserFactory
from tests.payouts.payout_helpers import credit
from tests.pdf_helpers import pdf_text

pytest_plugins = ["tests.payouts.payout_fixtures"]


def bal(owner, purpose, currency="usd"):
    return account_balance(owner=owner, purpose=purpose, currency=currency)


def github_user(username, login, uid="1"):
    return SocialAccountFactory(user=UserFactory(username=username), login=login, uid=uid).user


@pytest.fixture
def tables(db, ledger_checked):
    """acme → numpy 100%; numpy → github:Octocat 40%, email:ada@example.org 10%."""
    steward = UserFactory(username="steward")
    ProjectFactory(
        slug="numpy",
        steward=steward,
        table=[("github:Octocat", 4_000_000), ("email:ada@example.org", 1_000_000)],
    )
    return CompanyFactory(
        slug="acme", name="Acme", owner=steward, table=[("project:numpy", 10_000_000)]
    )


def distribute(company, amount, reference):
    inflow_record(company=company, amount=amount, currency="usd", reference=reference)
    run = runs.distribution_run_create()
    tasks.distribution_run_task.apply(args=[run.pk]).get()
    return run


def test_github_login_sees_and_claims_escrow_across_spellings(tables):
    distribute(tables, 10_000, "W1")
    assert bal("github:Octocat", "escrow") == 4_000
    user = github_user("octo", "octocat")
    (waiting,) = claimable_escrow(user=user)
    assert waiting["identity"] == "github:Octocat" and waiting["amount"] == 4_000
    assert waiting["tables"] == ["project:numpy"]
    txns = claims.identity_claim(user=user, identity="github:octocat")
    assert [t.kind for t in txns] == [LedgerTransaction.Kind.CLAIM]
    assert bal("github:Octocat", "escrow") == 0 and bal("user:octo", "available") == 4_000
    assert set(ClaimedIdentity.objects.values_list("identity", flat=True)) == {
        "github:Octocat",
        "github:octocat",
    }
    # Idempotent; and the next run credits the user directly.
    assert claims.identity_claim(user=user, identity="github:octocat") == []
    distribute(tables, 10_000, "W2")
    assert bal("github:Octocat", "escrow") == 0 and bal("user:octo", "available") == 8_000


def test_escrow_credited_by_a_run_snapshotted_before_the_claim_is_swept(tables):
    inflow_record(company=tables, amount=10_000, currency="usd", reference="W1")
    run = runs.distribution_run_create()
    runs._stage_snapshot(run.pk)  # the snapshot predates the claim
    user = github_user("octo", "octocat")
    claims.identity_claim(user=user, identity="github:octocat")
    runs.distribution_run_execute(run_id=run.pk)
    assert bal("github:Octocat", "escrow") == 4_000
    assert len(claims.claims_sweep()) == 1
    assert bal("github:Octocat", "escrow") == 0 and bal("user:octo", "available") == 4_000
    assert claims.claims_sweep() == []


def test_only_proven_identities_can_be_claimed_and_only_once(tables):
    distribute(tables, 10_000, "W1")
    mallory = UserFactory(username="mallory")
    with pytest.raises(ValidationError, match="Sign in with that GitHub account"):
        claims.identity_claim(user=mallory, identity="github:octocat")
    EmailAddress.objects.create(user=mallory, email="ada@example.org", verified=False)
    with pytest.raises(ValidationError):
        claims.identity_claim(user=mallory, identity="email:ada@example.org")
    ada = UserFactory(username="ada")
    EmailAddress.objects.create(user=ada, email="ada@example.org", verified=True)
    claims.identity_claim(user=ada, identity="email:ada@example.org")
    assert bal("user:ada", "available") == 1_000
    other = github_user("octo2", "octocat", uid="2")
    claims.identity_claim(user=other, identity="github:octocat")
    thief = github_user("octo3", "OCTOCAT", uid="3")
    with pytest.raises(ValidationError, match="already claimed"):
        claims.identity_claim(user=thief, identity="github:OCTOCAT")


def test_claim_page_flow(tables, client):
    distribute(tables, 10_000, "W1")
    user = github_user("octo", "octocat")
    client.force_login(user)
    page = client.get("/payouts/earnings/").content.decode()
    assert "Money waiting to be claimed" in page and "github:Octocat" in page
    response = client.post("/payouts/claim/", {"identity": "github:Octocat"}, follow=True)
    assert "Claimed github:Octocat" in response.content.decode()
    assert bal("user:octo", "available") == 4_000
    response = client.post("/payouts/claim/", {"identity": "github:someoneelse"}, follow=True)
    assert "Sign in with that GitHub account" in response.content.decode()


def test_sign_in_tells_about_waiting_money(tables, client):
    distribute(tables, 10_000, "W1")
    github_user("octo", "octocat")
    response = client.post(
        "/accounts/login/", {"login": "octo", "password": "pw-for-tests-1"}, follow=True
    )
    assert "Money is waiting for github:Octocat" in response.content.decode()


def test_a_run_emails_email_identities_once(tables, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = distribute(tables, 10_000, "W1")
    (message,) = [m for m in mail.outbox if m.to == ["ada@example.org"]]
    assert "Money is waiting for you" in message.subject and "$10.00" in message.body
    with django_capture_on_commit_callbacks(execute=True):
        escrow.escrow_waiting_notify(run_id=run.pk)
    assert len([m for m in mail.outbox if m.to == ["ada@example.org"]]) == 1


def test_unclaimed_escrow_returns_to_the_reserve_of_the_table_that_named_it(tables, settings):
    settings.FAIROSS_ESCROW_RETURN_DAYS = 30
    distribute(tables, 10_001, "W1")
    octo, ada = bal("github:Octocat", "escrow"), bal("email:ada@example.org", "escrow")
    reserve = bal("project:numpy", "reserve")
    # Not yet due: nothing moves, and the public notice shows the date.
    assert escrow.escrow_return_expired() == []
    notices = {
        n["identity"]: n for n in escrow_notices_for_owner(owner_key="project:numpy")["identities"]
    }
    assert notices["github:Octocat"]["amount"] == octo
    assert (
        notices["github:Octocat"]["returns_on"].date()
        == (timezone.now() + dt.timedelta(days=30)).date()
    )
    html = Template('{% load payouts_tags %}{% escrow_notice "project:numpy" %}').render(
        Context({})
    )
    assert "Octocat (GitHub)" in html and "returns to the reserve" in html
    # Ada claims; the rest returns after 30 days, once.
    ada_user = UserFactory(username="ada")
    EmailAddress.objects.create(user=ada_user, email="ada@example.org", verified=True)
    claims.identity_claim(user=ada_user, identity="email:ada@example.org")
    later = timezone.now() + dt.timedelta(days=31)
    (txn,) = escrow.escrow_return_expired(now=later)
    assert txn.kind == LedgerTransaction.Kind.ESCROW_RETURN
    assert bal("github:Octocat", "escrow") == 0
    assert bal("project:numpy", "reserve") == reserve + octo
    assert bal("user:ada", "available") == ada
    assert escrow.escrow_return_expired(now=later) == []
    assert escrow_notices_for_owner(owner_key="project:numpy")["identities"] == []


def test_escrow_return_splits_between_the_tables_that_named_the_identity(
    db, ledger_checked, settings
):
    settings.FAIROSS_ESCROW_RETURN_DAYS = 1
    steward = UserFactory(username="steward")
    for slug, share in (("numpy", 1_000_000), ("scipy", 3_000_000)):
        ProjectFactory(slug=slug, steward=steward, table=[("github:octocat", share)])
    company = CompanyFactory(
        slug="acme",
        name="Acme",
        owner=steward,
        table=[("project:numpy", 5_000_000), ("project:scipy", 5_000_000)],
    )
    distribute(company, 1_000, "W1")
    assert bal("github:octocat", "escrow") == 200
    before = {s: bal(f"project:{s}", "reserve") for s in ("numpy", "scipy")}
    escrow.escrow_return_expired(now=timezone.now() + dt.timedelta(days=2))
    assert bal("project:numpy", "reserve") - before["numpy"] == 50
    assert bal("project:scipy", "reserve") - before["scipy"] == 150


def test_held_identity_is_not_returned(tables, settings):
    from tests.factories import HoldFactory

    settings.FAIROSS_ESCROW_RETURN_DAYS = 1
    distribute(tables, 10_000, "W1")
    # A real freeze by the ombudsman (the disputes app answers payouts' hold check).
    HoldFactory(recipient="github:Octocat", amount=0, fund=False)
    returned = escrow.escrow_return_expired(now=timezone.now() + dt.timedelta(days=2))
    assert [t.reference for t in returned] == ["escrow_return:email:ada@example.org"]
    assert bal("github:Octocat", "escrow") == 4_000


def test_statement_csv_and_pdf(db, ledger_checked, client, settings, monkeypatch):
    user = UserFactory(username="alice")
    credit("user:alice", 2_500)
    client.force_login(user)
    year = timezone.now().year
    page = client.get("/payouts/earnings/").content.decode()
    assert f"/payouts/statements/{year}.csv" in page
    csv_text = client.get(f"/payouts/statements/{year}.csv").content.decode()
    lines = csv_text.strip().splitlines()
    assert lines[0] == "date,kind,description,reference,currency,received,paid_out"
    assert lines[1].endswith(",usd,25.00,0.00")
    pdf = client.get(f"/payouts/statements/{year}.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert "$25.00" in pdf_text(pdf.content)
    assert client.get("/payouts/statements/1999.csv").status_code == 404
    assert client.get(f"/payouts/statements/{year}.xls").status_code == 404
