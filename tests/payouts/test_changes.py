"""Why did it change: the difference between two runs explained by cause, adding up exactly."""

import pytest

from payouts.connect.claims import escrow_sweep
from payouts.distribution import changes, runs
from payouts.inflows import inflow_record
from payouts.models import ClaimedIdentity, RunAllocation
from projects.services.tables import EntryInput
from tests.factories import CompanyFactory, ProjectFactory, TableVersionFactory, UserFactory

pytestmark = pytest.mark.django_db


def E(recipient, millibips):
    return EntryInput(recipient=recipient, millibips=millibips)


def run_all():
    run = runs.distribution_run_create()
    return runs.distribution_run_execute(run_id=run.pk)


@pytest.fixture
def two_runs(db):
    """Run A: acme pays $1,000 (acme → numpy 60%, scipy 30%; numpy → alice 20%,
    github:alice-gh 10%). Then alice claims github:alice-gh, numpy's table gives alice 25%,
    scipy gets a table (github:x 1%),
    acme pays $2,000 and a new company beta pays $500 (beta → numpy 100%). Run B."""
    alice = UserFactory(username="alice")
    owner = UserFactory(username="owner")
    ProjectFactory(slug="numpy", steward=alice)
    ProjectFactory(slug="scipy", steward=alice)
    TableVersionFactory(
        owner_key="project:numpy",
        actor=alice,
        entries=[E("user:alice", 2_000_000), E("github:alice-gh", 1_000_000)],
    )
    acme = CompanyFactory(
        slug="acme",
        owner=owner,
        table=[E("project:numpy", 6_000_000), E("project:scipy", 3_000_000)],
    )
    inflow_record(company=acme, amount=100_000, currency="usd", reference="A1")
    run_a = run_all()
    ClaimedIdentity.objects.create(identity="github:alice-gh", user=alice)
    escrow_sweep(identity="github:alice-gh", user=alice)  # run A's $60 of escrow moves
    TableVersionFactory(
        owner_key="project:numpy",
        actor=alice,
        entries=[E("user:alice", 2_500_000), E("github:alice-gh", 1_000_000)],
    )
    # Unrelated to alice: scipy's money never reaches numpy.
    TableVersionFactory(owner_key="project:scipy", actor=alice, entries=[E("github:x", 100_000)])
    beta = CompanyFactory(slug="beta", owner=owner, table=[E("project:numpy", 10_000_000)])
    inflow_record(company=acme, amount=200_000, currency="usd", reference="A2")
    inflow_record(company=beta, amount=50_000, currency="usd", reference="B1")
    run_b = run_all()
    return run_a, run_b


def amounts_by_kind(explanation):
    out = {}
    for cause in explanation.causes:
        out[(cause.kind, cause.subject)] = cause.amounts.get("usd", 0)
    return out


def test_person_change_is_explained_by_each_cause_exactly(two_runs, monkeypatch):
    run_a, run_b = two_runs
    valued = []
    real = changes._figure

    def counting(snapshot, *, recipient):
        valued.append(1)
        return real(snapshot, recipient=recipient)

    monkeypatch.setattr(changes, "_figure", counting)
    e = changes.run_change_explain(recipient="user:alice", run_a=run_a.pk, run_b=run_b.pk)
    stored = {r.run_id: r.amount for r in RunAllocation.objects.filter(recipient="user:alice")}
    assert e.before == {"usd": stored[run_a.pk]} == {"usd": 12_000}
    # run B: (60% of $2,000 + $500) x (25% + 10%, the claimed identity) = $595
    assert e.after == {"usd": stored[run_b.pk]} == {"usd": 59_500}
    assert amounts_by_kind(e) == {
        ("claims", "github:alice-gh"): 6_000,  # 10% of numpy's $600 of run A
        ("table", "project:numpy"): 3_000,  # 20% → 25% of numpy's $600
        ("inflows", "company:acme"): 21_000,  # +$1,000 x 60% x 35%
        ("inflows", "company:beta"): 17_500,  # $500 x 100% x 35%
    }
    assert e.rounding == {}
    # Valued: the base state, the four causes and beta's new table (no money at run A, so no
    # effect); scipy's table was not valued at all (its money never reaches alice).
    assert len(valued) == 6 and e.without_effect == 2
    assert e.escrow_claimed == [{"identity": "github:alice-gh", "currency": "usd", "amount": 6_000}]
    row = e.rows()[0]
    assert row["explained"] + row["rounding"] == row["delta"] == 47_500
    table = next(c for c in e.causes if c.kind == "table")
    assert "version 1 → version 2" in table.description and "20%" in table.description


def test_project_change_counts_what_flowed_in(two_runs):
    run_a, run_b = two_runs
    e = changes.run_change_explain(recipient="project:numpy", run_a=run_a.pk, run_b=run_b.pk)
    assert e.measure == "received"
    assert (e.before, e.after) == ({"usd": 60_000}, {"usd": 170_000})
    assert amounts_by_kind(e) == {
        ("inflows", "company:acme"): 60_000,
        ("inflows", "company:beta"): 50_000,
    }
    # numpy's own new table version does not change what flows into it.
    assert e.without_effect >= 1
    assert e.explained("usd") + e.rounding.get("usd", 0) == e.delta("usd")


def test_snapshot_read_through_one_accessor(two_runs, monkeypatch):
    run_a, run_b = two_runs
    seen = []
    real = changes.run_snapshot

    def spy(run):
        seen.append(run.pk)
        return real(run)

    monkeypatch.setattr(changes, "run_snapshot", spy)
    changes.run_change_explain(recipient="company:acme", run_a=run_a.pk, run_b=run_b.pk)
    assert sorted(seen) == [run_a.pk, run_b.pk]


def test_api_privacy_and_shape(two_runs, api_client):
    run_a, run_b = two_runs
    url = f"/api/v1/changes/?recipient=user:alice&from={run_a.pk}&to={run_b.pk}"
    assert api_client.get(url).status_code == 404  # anonymous
    api_client.force_authenticate(UserFactory(username="mallory"))
    assert api_client.get(url).status_code == 404
    from django.contrib.auth.models import User

    api_client.force_authenticate(User.objects.get(username="alice"))
    data = api_client.get(url).json()
    assert data["measure"] == "credited"
    assert data["currencies"] == [
        {
            "currency": "usd",
            "before": 12_000,
            "after": 59_500,
            "delta": 47_500,
            "explained": 47_500,
            "rounding": 0,
        }
    ]
    assert sum(c["amount"] for c in data["causes"]) == 47_500
    # A project's is public; defaults compare the two latest runs.
    api_client.force_authenticate(None)
    public = api_client.get("/api/v1/changes/?recipient=project:numpy").json()
    assert (public["from"], public["to"]) == (run_a.pk, run_b.pk)
    assert api_client.get("/api/v1/changes/?recipient=nope").status_code == 400


def test_page_shows_causes_and_rounding_line(two_runs, client):
    run_a, run_b = two_runs
    page = client.get(f"/payouts/changes/?recipient=project:numpy&from={run_a.pk}&to={run_b.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Money in from acme" in html and "+$600.00" in html and "+$500.00" in html
    assert 'class="rounding"' in html and "+$1,100.00" in html
    assert client.get("/payouts/changes/?recipient=user:alice").status_code == 404
