import numpy as np
import pytest

from payouts.distribution.graph import FlowGraph
from payouts.distribution.loader import load_flow_graph_pg, tables_from_snapshot
from payouts.distribution.runs import _snapshot_at
from tests.factories import (
    KnownDependencyFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)
from tests.payouts.graph_helpers import assert_same_graph

pytestmark = pytest.mark.django_db


def test_bulk_postgres_path_builds_the_same_graph_as_the_plain_one():
    alice = UserFactory(username="alice")
    slugs = ["a", "b", "c", "d"]
    for slug in slugs:
        ProjectFactory(slug=slug, steward=alice)
    lonely = ProjectFactory(slug="zz-default")
    KnownDependencyFactory(project=lonely, dependency=ProjectFactory(slug="e"))
    for slug, entries in (
        ("a", [("project:b", 3), ("user:alice", 5), ("github:x", 7)]),
        ("b", [("project:a", 11), ("project:c", 13), ("email:q@r.org", 2)]),
        ("c", [("project:zz-default", 5_000_000), ("github:x", 1)]),
    ):
        TableVersionFactory(owner_key=f"project:{slug}", actor=alice, entries=entries)
    from django.utils import timezone

    snapshot = _snapshot_at(cutoff=timezone.now(), inflows=[[1, "company:acme", "usd", 100]])
    assert "project:zz-default" in snapshot["defaults"] and "project:e" in snapshot["defaults"]
    extra = ["company:acme"]
    plain = FlowGraph.from_tables(
        tables=tables_from_snapshot(
            versions=snapshot["versions"], defaults=snapshot["defaults"], extra_owners=extra
        )
    )
    bulk = load_flow_graph_pg(
        versions=snapshot["versions"], defaults=snapshot["defaults"], extra_owners=extra
    )
    assert bulk.node_ids == plain.node_ids and bulk.terminal_ids == plain.terminal_ids
    assert_same_graph(bulk, plain)


def test_lookup_by_id_dense_and_sparse_agree():
    from payouts.distribution.loader import _ById

    ids = np.array([5, 3, 9], dtype=np.int64)
    values = np.array([50, 30, 90], dtype=np.int64)
    query = np.array([9, 3, 5, 5], dtype=np.int64)
    assert _ById(ids, values).dense
    assert _ById(ids, values)[query].tolist() == [90, 30, 50, 50]
    sparse_ids = ids * 10**9
    sparse = _ById(sparse_ids, values)
    assert not sparse.dense
    assert sparse[query * 10**9].tolist() == [90, 30, 50, 50]
