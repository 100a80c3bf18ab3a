"""Money rule 8: an unverified project's table routes nothing; its money waits in its escrow
and flows on by its table in the first run after verification."""

from __future__ import annotations

from io import StringIO
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from disputes.services.holds import hold_release
from payouts.distribution import explain, runs
from payouts.inflows import inflow_record
from payouts.models import DistributionRun, LedgerTransaction
from payouts.selectors import account_balance
from projects.models import Project
from projects.verification.services import project_verify_by_staff
from tests.factories import (
    CompanyFactory,
    HoldFactory,
    ProjectFactory,
    StaffFactory,
    UserFactory,
)

pytest_plugins = ["tests.payouts.payout_fixtures"]


def bal(owner: str, purpose: str) -> int:
    return account_balance(owner=owner, purpose=purpose, currency="usd")


def run_now() -> DistributionRun:
    run = runs.distribution_run_create()
    return runs.distribution_run_execute(run_id=run.pk)


def verify(slug: str) -> None:
    project = Project.objects.get(slug=slug)
    staff = cast(User, StaffFactory())
    project_verify_by_staff(project=project, staff=staff, note="Checked the repo.")


@pytest.fixture
def acme(db, ledger_checked):
    """acme → numpy 50%, newlib 50%; numpy (verified) → newlib 10%, reserve 90%;
    newlib (NOT verified) → user:bob 60%, github:carol 20%, reserve 20%."""
    steward = UserFactory(username="steward")
    UserFactory(username="bob")
    ProjectFactory(
        slug="newlib",
        steward=steward,
        unverified=True,
        table=[("user:bob", 6_000_000), ("github:carol", 2_000_000)],
    )
    ProjectFactory(slug="numpy", steward=steward, table=[("project:newlib", 1_000_000)])
    return CompanyFactory(
        slug="acme",
        owner=steward,
        table=[("project:numpy", 5_000_000), ("project:newlib", 5_000_000)],
    )


def test_unverified_money_waits_then_flows_by_the_table_in_the_next_run(acme, client):
    inflow_record(company=acme, amount=10_001, currency="usd", reference="W1")
    first = run_now()
    # 5,000.5 direct + 500.05 through numpy = 5,500.55 → 5,501 (largest remainder): all of it
    # waits in newlib's escrow; its table sends bob and carol nothing yet.
    assert first.snapshot["unverified"] == ["project:newlib"]
    assert bal("project:newlib", "escrow") == 5_501
    assert bal("project:numpy", "reserve") == 4_500
    assert bal("user:bob", "available") == 0 and bal("github:carol", "escrow") == 0
    assert bal("project:newlib", "reserve") == 0
    # The snapshot alone gives the same cents later, even after verification.
    page = client.get("/projects/newlib/").content.decode()
    assert "waiting until ownership is verified" in page and "$55.01" in page

    verify("newlib")
    assert explain.run_recompute(run=first) == {
        (a.recipient, a.purpose, a.currency): a.amount for a in first.allocations.all()
    }
    page = client.get("/projects/newlib/").content.decode()
    assert "waiting until ownership is verified" not in page
    assert "flows on by its table in the next distribution run" in page

    second = run_now()
    # The 5,501 flow on by newlib's table: bob 3,300.6 → 3,301, carol 1,100.2 → 1,100,
    # reserve 1,100.2 → 1,100; to the cent, nothing created or lost.
    assert second.status == "done" and second.totals == {"usd": 5_501}
    assert bal("project:newlib", "escrow") == 0
    assert bal("user:bob", "available") == 3_301
    assert bal("github:carol", "escrow") == 1_100
    assert bal("project:newlib", "reserve") == 1_100
    (release,) = LedgerTransaction.objects.filter(kind="claim", reference=f"run:{second.pk}")
    assert "is verified" in release.memo
    assert second.snapshot["unverified"] == []
    assert explain.run_recompute(run=second) == {
        (a.recipient, a.purpose, a.currency): a.amount for a in second.allocations.all()
    }
    # A run again releases nothing more; new money now flows by the table at once.
    inflow_record(company=acme, amount=1_000, currency="usd", reference="W2")
    run_now()
    assert bal("project:newlib", "escrow") == 0
    assert bal("user:bob", "available") == 3_301 + 330  # 550 reach newlib, 60% to bob
    assert "waiting until ownership" not in client.get("/projects/newlib/").content.decode()
    call_command("ledger_check", stdout=StringIO())


def test_money_reaching_an_unverified_project_through_another_table_waits(acme):
    numpy_only = CompanyFactory(slug="solo", table=[("project:numpy", 10_000_000)])
    inflow_record(company=numpy_only, amount=1_000, currency="usd", reference="S1")
    run_now()
    assert bal("project:newlib", "escrow") == 100  # numpy's 10%
    assert bal("user:bob", "available") == 0


def test_held_escrow_stays_and_the_rest_waits_for_the_hold_to_end(acme):
    inflow_record(company=acme, amount=10_001, currency="usd", reference="W1")
    run_now()
    hold = HoldFactory(recipient="project:newlib", source="escrow", amount=1_000, fund=False)
    verify("newlib")
    during = run_now()
    # Held money is in "held" and never moves; while the hold is active the project's
    # escrow waits too.
    assert bal("project:newlib", "held") == 1_000
    assert bal("project:newlib", "escrow") == 4_501
    assert bal("user:bob", "available") == 0
    assert not LedgerTransaction.objects.filter(kind="claim", reference=f"run:{during.pk}")
    hold_release(hold=hold, actor=hold.placed_by, reason="Decided: no claim.")
    assert bal("project:newlib", "escrow") == 5_501
    run_now()
    assert bal("project:newlib", "escrow") == 0 and bal("user:bob", "available") == 3_301


def test_a_failed_run_gives_released_escrow_back(acme, monkeypatch):
    inflow_record(company=acme, amount=10_001, currency="usd", reference="W1")
    run_now()
    verify("newlib")

    def broken(snapshot):
        raise ArithmeticError("injected")

    monkeypatch.setattr(runs, "run_compute", broken)
    run = runs.distribution_run_create()
    with pytest.raises(ArithmeticError):
        runs.distribution_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert bal("project:newlib", "escrow") == 5_501
    assert bal("platform", "pool") == 0
    monkeypatch.undo()
    run_now()
    assert bal("project:newlib", "escrow") == 0 and bal("user:bob", "available") == 3_301


def test_claiming_a_placeholder_brings_its_escrow(db, ledger_checked):
    steward = UserFactory(username="steward")
    placeholder = ProjectFactory(slug="leftpad", status=Project.Status.UNCLAIMED)
    company = CompanyFactory(slug="acme", owner=steward, table=[("project:leftpad", 10_000_000)])
    inflow_record(company=company, amount=777, currency="usd", reference="W1")
    run_now()
    assert bal("project:leftpad", "escrow") == 777
    # The claim (projects.verification.services.project_claim, tested there) leaves the row
    # claimed, with a steward and verified; the payouts side sees only that.
    alice = UserFactory(username="alice")
    Project.objects.filter(pk=placeholder.pk).update(
        status=Project.Status.CLAIMED, verified_at=timezone.now()
    )
    placeholder.memberships.create(user=alice, role="steward")
    run_now()
    # No table yet: everything is the claimed project's reserve now.
    assert bal("project:leftpad", "escrow") == 0
    assert bal("project:leftpad", "reserve") == 777
