from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from payouts.distribution import explain, runs
from payouts.inflows import inflow_record
from payouts.models import DistributionRun, Posting, RunAllocation
from payouts.selectors import recipient_balances
from projects.services.tables import EntryInput, table_propose
from tests.factories import CompanyFactory, ProjectFactory, TableVersionFactory, UserFactory
from tests.thread_helpers import run_at_once

pytestmark = pytest.mark.django_db


def E(recipient, millibips):
    return EntryInput(recipient=recipient, millibips=millibips)


@pytest.fixture
def graph(db):
    """acme → numpy 60%, scipy 30% (reserve 10%); numpy → scipy 50%, alice 20% (reserve 30%);
    scipy → numpy 25% (a cycle), github:octocat 25% (escrow) (reserve 50%)."""
    alice = UserFactory(username="alice")
    owner = UserFactory(username="owner")
    for slug in ("numpy", "scipy"):
        ProjectFactory(slug=slug, steward=alice)
    TableVersionFactory(
        owner_key="project:numpy",
        actor=alice,
        entries=[E("project:scipy", 5_000_000), E("user:alice", 2_000_000)],
    )
    TableVersionFactory(
        owner_key="project:scipy",
        actor=alice,
        entries=[E("project:numpy", 2_500_000), E("github:octocat", 2_500_000)],
    )
    return CompanyFactory(
        slug="acme",
        name="Acme",
        owner=owner,
        table=[E("project:numpy", 6_000_000), E("project:scipy", 3_000_000)],
    )


def run_all():
    run = runs.distribution_run_create()
    return runs.distribution_run_execute(run_id=run.pk)


def test_run_splits_exactly_and_posts_once(graph):
    inflow_record(company=graph, amount=100_001, currency="usd", reference="W1")
    inflow_record(company=graph, amount=5_000, currency="eur", reference="W2")
    run = run_all()
    assert run.status == "done"
    assert run.totals == {"usd": 100_001, "eur": 5_000}
    for currency, total in run.totals.items():
        assert sum(a.amount for a in run.allocations.filter(currency=currency)) == total
    alloc = {(a.recipient, a.purpose): a.amount for a in run.allocations.filter(currency="usd")}
    assert set(alloc) == {
        ("user:alice", "available"),
        ("github:octocat", "escrow"),
        ("project:numpy", "reserve"),
        ("project:scipy", "reserve"),
        ("company:acme", "reserve"),
    }
    assert alloc[("company:acme", "reserve")] == 10_000  # 10% of 100,001, floor plus nothing
    balances = recipient_balances(recipient="user:alice")["usd"]
    assert balances["received"] == balances["available"] == alloc[("user:alice", "available")]
    assert recipient_balances(recipient="github:octocat")["usd"]["escrow"] > 0
    # A second execution changes nothing.
    before = Posting.objects.count()
    runs.distribution_run_execute(run_id=run.pk)
    assert Posting.objects.count() == before
    call_command("ledger_check", stdout=StringIO())


def test_recompute_from_snapshot_is_identical(graph):
    inflow_record(company=graph, amount=987_654_321, currency="usd", reference="W1")
    run = run_all()
    posted = {(a.recipient, a.purpose, a.currency): a.amount for a in run.allocations.all()}
    # Later table changes do not affect the recomputation of a finished run.
    alice = UserFactory(username="alice")
    table_propose(owner_key="project:numpy", actor=alice, entries=[E("user:alice", 9_000_000)])
    assert explain.run_recompute(run=run) == posted


def test_second_run_takes_only_new_inflows(graph):
    inflow_record(company=graph, amount=1_000, currency="usd", reference="W1")
    first = run_all()
    inflow_record(company=graph, amount=3_000, currency="usd", reference="W2")
    second = run_all()
    assert first.totals == {"usd": 1_000} and second.totals == {"usd": 3_000}


@pytest.mark.parametrize("crash_at", ["_stage_snapshot", "_stage_compute", "_stage_post"])
def test_restart_after_crash_at_each_stage_gives_the_same_ledger(graph, crash_at, monkeypatch):
    inflow_record(company=graph, amount=123_457, currency="usd", reference="W1")
    run = runs.distribution_run_create()
    real = getattr(runs, crash_at)
    calls = {"n": 0}

    def crash(run_id):
        calls["n"] += 1
        if calls["n"] == 1:
            real(run_id)  # the stage commits, then the process "dies" before the next one
            raise SystemExit("killed")
        return real(run_id)

    monkeypatch.setattr(runs, crash_at, crash)
    with pytest.raises(SystemExit):
        for name in ("_stage_snapshot", "_stage_compute", "_stage_post"):
            getattr(runs, name)(run.pk)
    # Restart: the whole run again, from wherever it stopped.
    monkeypatch.setattr(runs, crash_at, real)
    done = runs.distribution_run_execute(run_id=run.pk)
    assert done.status == "done"
    assert sum(a.amount for a in done.allocations.all()) == 123_457
    positive = Posting.objects.filter(transaction__kind="distribution", amount__gt=0)
    assert sum(p.amount for p in positive) == 123_457
    call_command("ledger_check", stdout=StringIO())


def test_closed_cycle_fails_the_run_loudly_and_releases_inflows(graph):
    inflow_record(company=graph, amount=1_000, currency="usd", reference="W1")
    # Bypass activation checks to simulate a corrupted graph: all of it circles forever.
    from projects.models import TableEntry, TableVersion

    for slug, other in (("numpy", "scipy"), ("scipy", "numpy")):
        v = TableVersion.objects.get(table__owner_key=f"project:{slug}", status="active")
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM projects_tableentry WHERE version_id = %s", [v.pk])
        from projects.services.tables import recipient_keys_get_or_create

        key = recipient_keys_get_or_create(keys=[f"project:{other}"])[f"project:{other}"]
        TableEntry.objects.create(
            recipient_key_id=key,
            version=v,
            position=0,
            recipient=f"project:{other}",
            millibips=10_000_000,
        )
    run = runs.distribution_run_create()
    with pytest.raises(runs.ClosedCycleError):
        runs.distribution_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "closed cycle" in run.error and "numpy" in run.error
    assert not RunAllocation.objects.exists()
    assert not Posting.objects.filter(transaction__kind="distribution").exists()
    assert graph.inflows.get().run is None


def test_two_runs_never_overlap(graph):
    runs.distribution_run_create()
    with pytest.raises(runs.RunInProgress):
        runs.distribution_run_create()


@pytest.mark.django_db(transaction=True)
def test_concurrent_run_attempts_produce_one_run():
    outcomes = run_at_once([runs.distribution_run_create] * 3)
    assert sum(isinstance(o, runs.RunInProgress) for o in outcomes) == 2
    assert sum(isinstance(o, DistributionRun) for o in outcomes) == 1
    assert DistributionRun.objects.count() == 1


def test_ledger_check_catches_a_broken_ledger(graph):
    inflow_record(company=graph, amount=1_000, currency="usd", reference="W1")
    run_all()
    call_command("ledger_check", stdout=StringIO())
    with connection.cursor() as cursor:
        # Break it the only way possible: with the guarding triggers switched off.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE payouts_posting SET amount = amount + 1 "
            "WHERE id = (SELECT MAX(id) FROM payouts_posting)"
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=out)
    assert "sums to zero per currency: 1 problem" in out.getvalue()


def test_preview_shows_how_an_amount_would_flow(graph):
    preview = explain.distribution_preview(owner_key="company:acme", amount=10_000, currency="usd")
    assert sum(preview.values()) == 10_000
    assert ("user:alice", "available") in preview


def test_crash_inside_the_post_stage_rolls_back_and_restarts_cleanly(graph, monkeypatch):
    inflow_record(company=graph, amount=5_555, currency="usd", reference="W1")
    inflow_record(company=graph, amount=7_777, currency="eur", reference="W2")
    run = runs.distribution_run_create()
    real = runs.ledger_post_run
    calls = {"n": 0}

    def post_then_die(**kwargs):
        calls["n"] += 1
        result = real(**kwargs)
        if calls["n"] == 1:
            raise SystemExit("killed between two currencies")
        return result

    monkeypatch.setattr(runs, "ledger_post_run", post_then_die)
    with pytest.raises(SystemExit):
        runs.distribution_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "computed"  # the post stage rolled back as a whole
    assert not Posting.objects.filter(transaction__kind="distribution").exists()
    monkeypatch.setattr(runs, "ledger_post_run", real)
    assert runs.distribution_run_execute(run_id=run.pk).status == "done"
    call_command("ledger_check", stdout=StringIO())


def test_report_page_and_received_lines(graph, client):
    inflow_record(company=graph, amount=100_000, currency="usd", reference="W1")
    run = run_all()
    page = client.get(f"/payouts/runs/{run.pk}/").content.decode()
    assert "$1,000.00" in page and "<svg" in page and "project:numpy" in page
    assert client.get("/payouts/runs/").status_code == 200
    client.force_login(UserFactory(username="alice"))
    earnings = client.get("/payouts/earnings/").content.decode()
    assert f"run {run.pk}" in earnings
    assert 'acme</span> → <span class="hop">numpy' in earnings
    routes = explain.run_explain(run=run, recipient="user:alice")
    assert routes[0]["hops"][0] == "company:acme" and routes[0]["hops"][-1] == "user:alice"


def test_admin_starts_a_run_and_ledger_is_read_only(
    graph, client, django_capture_on_commit_callbacks
):
    admin = UserFactory(username="root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    inflow_record(company=graph, amount=100, currency="usd", reference="W1")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/payouts/distributionrun/start/")
    assert DistributionRun.objects.get().status == "done"
    assert client.get("/admin/payouts/distributionrun/").status_code == 200
    assert client.get("/admin/payouts/posting/add/").status_code == 403
    txn = Posting.objects.first().transaction
    assert client.get(f"/admin/payouts/ledgertransaction/{txn.pk}/change/").status_code == 200


def test_project_page_shows_what_it_received_and_the_route(graph, client):
    inflow_record(company=graph, amount=100_000, currency="usd", reference="W1")
    run = run_all()
    page = client.get("/projects/numpy/").content.decode()
    assert "Received from distribution runs" in page
    assert f"run {run.pk}" in page
    assert 'acme</span> → <span class="hop">numpy' in page
