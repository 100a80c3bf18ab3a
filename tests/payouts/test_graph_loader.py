import numpy as np
import pytest

from payouts.engine import FlowGraph
from payouts.graph_loader import load_flow_graph_pg, tables_from_snapshot
from payouts.runs import _snapshot_at
from projects.models import KnownDependency
from projects.services.tables import EntryInput, table_propose
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_bulk_postgres_path_builds_the_same_graph_as_the_plain_one():
    alice = UserFactory(username="alice")
    slugs = ["a", "b", "c", "d"]
    for slug in slugs:
        MembershipFactory(project=ProjectFactory(slug=slug), user=alice, role="steward")
    lonely = ProjectFactory(slug="zz-default")
    KnownDependency.objects.create(project=lonely, dependency=ProjectFactory(slug="e"))
    E = EntryInput
    table_propose(
        owner_key="project:a",
        actor=alice,
        entries=[E("project:b", 3), E("user:alice", 5), E("github:x", 7)],
    )
    table_propose(
        owner_key="project:b",
        actor=alice,
        entries=[E("project:a", 11), E("project:c", 13), E("email:q@r.org", 2)],
    )
    table_propose(
        owner_key="project:c",
        actor=alice,
        entries=[E("project:zz-default", 5_000_000), E("github:x", 1)],
    )
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
    for name in (
        "node_indptr",
        "node_targets",
        "node_millibips",
        "terminal_indptr",
        "terminal_targets",
        "terminal_millibips",
        "reserve_terminals",
    ):
        assert np.array_equal(getattr(bulk, name), getattr(plain, name)), name


def test_lookup_by_id_dense_and_sparse_agree():
    from payouts.graph_loader import _ById

    ids = np.array([5, 3, 9], dtype=np.int64)
    values = np.array([50, 30, 90], dtype=np.int64)
    query = np.array([9, 3, 5, 5], dtype=np.int64)
    assert _ById(ids, values).dense
    assert _ById(ids, values)[query].tolist() == [90, 30, 50, 50]
    sparse_ids = ids * 10**9
    sparse = _ById(sparse_ids, values)
    assert not sparse.dense
    assert sparse[query * 10**9].tolist() == [90, 30, 50, 50]
