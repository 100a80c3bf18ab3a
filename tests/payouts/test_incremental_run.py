"""The incremental run: a run after some tables changed takes the unchanged tables from the
cached graph of the previous run (payouts.distribution.graph_cache) and must give exactly
what a run from scratch gives."""

import numpy as np
import pytest

from payouts.distribution import graph_cache, loader, runs
from payouts.distribution.graph_cache import graph_cache_writing
from payouts.inflows import inflow_record
from payouts.models import GraphCache, RunAllocation
from tests.factories import CompanyFactory, ProjectFactory, TableVersionFactory, UserFactory
from tests.payouts.graph_helpers import assert_same_graph

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def bulk_path(settings, tmp_path, monkeypatch):
    """Small graphs take the PostgreSQL bulk path (and so the cache) here."""
    settings.FAIROSS_GRAPH_CACHE_DIR = str(tmp_path / "graphs")
    monkeypatch.setattr(loader, "PG_MIN_VERSIONS", 0)
    monkeypatch.setattr(loader, "SPLICE_MAX_CHANGED", 1.0)  # two of seven tables change here


@pytest.fixture
def full_loads(monkeypatch):
    """How many full (not spliced) loads happened."""
    calls = []
    original = loader._load_full
    monkeypatch.setattr(loader, "_load_full", lambda **kw: calls.append(1) or original(**kw))
    return calls


@pytest.fixture
def ecosystem(db):
    """A company funding six projects with cycles between them, people and escrow ids."""
    alice = UserFactory(username="alice")
    slugs = [f"p{i}" for i in range(6)]
    for slug in slugs:
        ProjectFactory(slug=slug, steward=alice)
    for i, slug in enumerate(slugs):
        entries = [
            (f"project:{slugs[(i + 1) % 6]}", 2_000_000 + 10_000 * i),
            (f"project:{slugs[(i + 3) % 6]}", 1_000_000),
            (f"github:dev{i}", 1_500_000 + i),
            ("github:shared", 700_001),
            ("user:alice", 300_000),
        ]
        TableVersionFactory(owner_key=f"project:{slug}", actor=alice, entries=entries)
    owner = UserFactory(username="owner")
    company = CompanyFactory(
        slug="acme", name="Acme", owner=owner, table=[(f"project:{s}", 1_500_000) for s in slugs]
    )
    return alice, company


def _change(alice) -> None:
    """Two tables change: one drops a person (a terminal no one else pays disappears) and
    adds a new one, another moves shares between projects."""
    TableVersionFactory(
        owner_key="project:p2",
        actor=alice,
        entries=[
            ("project:p3", 2_500_000),
            ("github:newcomer", 1_234_567),
            ("github:shared", 700_001),
        ],
    )
    TableVersionFactory(
        owner_key="project:p4",
        actor=alice,
        entries=[("project:p0", 4_000_000), ("project:p5", 1_000_000), ("user:alice", 1)],
    )


def _uncached(snapshot):
    original = loader.load_flow_graph_pg
    loader.load_flow_graph_pg = lambda **kw: original(**kw, use_cache=False)
    try:
        return runs.run_compute(snapshot)
    finally:
        loader.load_flow_graph_pg = original


def _allocations(run):
    return {
        (o, p, c): v
        for o, p, c, v in RunAllocation.objects.filter(run=run).values_list(
            "recipient", "purpose", "currency", "amount"
        )
    }


def _run():
    run = runs.distribution_run_create()
    return runs.distribution_run_execute(run_id=run.pk)


def test_second_run_after_changes_equals_a_run_from_scratch(ecosystem, full_loads):
    alice, company = ecosystem
    inflow_record(company=company, amount=1_000_003, currency="usd", reference="W1")
    first = _run()
    assert first.status == "done" and GraphCache.objects.count() == 1
    assert len(full_loads) == 1  # the first run had no cache; its later reads splice
    _change(alice)
    inflow_record(company=company, amount=777_777, currency="usd", reference="W2")
    inflow_record(company=company, amount=5_001, currency="eur", reference="W3")
    second = _run()
    assert len(full_loads) == 1  # the second run spliced the changed tables in
    assert second.status == "done"
    scratch = _uncached(second.snapshot)
    assert _allocations(second) == {k: v for k, v in scratch.allocations.items() if v}
    assert second.totals == {"usd": 777_777, "eur": 5_001}
    assert "github:newcomer" in {o for o, _, _ in _allocations(second)}
    assert "github:dev2" not in {o for o, _, _ in _allocations(second)}
    # Still one cache row: the second run's graph replaced the first's.
    assert GraphCache.objects.count() == 1


def test_spliced_graph_equals_a_full_load_field_by_field(ecosystem):
    alice, company = ecosystem
    inflow_record(company=company, amount=100, currency="usd", reference="W1")
    snapshot = runs._snapshot_at(
        cutoff=runs.timezone.now(), inflows=[[1, "company:acme", "usd", 100]]
    )
    with graph_cache_writing():
        loader.load_flow_graph_pg(
            versions=snapshot["versions"], defaults=snapshot["defaults"], extra_owners=[]
        )
    _change(alice)
    later = runs._snapshot_at(cutoff=runs.timezone.now(), inflows=[])
    kwargs = {"versions": later["versions"], "defaults": later["defaults"], "extra_owners": []}
    cached = graph_cache.graph_cache_read()
    assert cached is not None
    spliced = loader._splice(
        cached=cached[0],
        cached_signature=cached[1],
        node_ids=sorted(set(later["versions"]) | set(later["defaults"])),
        signature=loader.node_signature(
            node_ids=sorted(set(later["versions"]) | set(later["defaults"])),
            versions=later["versions"],
            defaults=later["defaults"],
        ),
        defaults=later["defaults"],
    )
    assert spliced is not None
    full = loader.load_flow_graph_pg(**kwargs, use_cache=False)
    assert spliced.terminal_ids == full.terminal_ids and spliced.node_ids == full.node_ids
    assert_same_graph(spliced, full)


def test_a_cache_file_that_does_not_match_its_digest_is_ignored(ecosystem, full_loads):
    _, company = ecosystem
    inflow_record(company=company, amount=1_000, currency="usd", reference="W1")
    _run()
    row = GraphCache.objects.get()
    path = graph_cache.cache_dir() / f"{row.token}.npz"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert graph_cache.graph_cache_read() is None
    inflow_record(company=company, amount=2_000, currency="usd", reference="W2")
    loads = len(full_loads)
    second = _run()
    assert len(full_loads) == loads + 1
    assert second.totals == {"usd": 2_000}


def test_binary_copy_rejects_rows_of_another_width():
    from django.db import connection

    with connection.cursor() as cursor:
        rows = loader.copy_binary_ints(
            cursor.cursor,
            "COPY (SELECT g::int8 AS a, (g * 2)::int4 AS b FROM generate_series(1, 5) g) "
            "TO STDOUT (FORMAT binary)",
            [],
            [("a", ">i8"), ("b", ">i4")],
        )
        assert rows["a"].tolist() == [1, 2, 3, 4, 5]
        assert np.array_equal(rows["b"], [2, 4, 6, 8, 10])
        with pytest.raises(RuntimeError):
            loader.copy_binary_ints(
                cursor.cursor,
                "COPY (SELECT g::int8 AS a, NULL::int4 AS b FROM generate_series(1, 5) g) "
                "TO STDOUT (FORMAT binary)",
                [],
                [("a", ">i8"), ("b", ">i4")],
            )
