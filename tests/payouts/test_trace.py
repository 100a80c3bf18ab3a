"""Traces of credits (issue 12): hop by hop, amounts that add up exactly (cycles and several
currencies included), who sees which trace, and a query count that does not grow with the run."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from faiross.kernel.recipients import is_person_key
from payouts.distribution import runs
from payouts.distribution import trace as tr
from payouts.distribution.graph import FlowGraph, Inflow
from payouts.distribution.solve import compute_distribution
from payouts.models import RunAllocation, TraceEdge
from tests.factories import (
    CompanyFactory,
    CompanyMemberFactory,
    InflowFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
    UserProfileFactory,
)
from tests.payouts.publish_helpers import ALICE, MARKERS, OCTO, published_run

API = "/api/v1/trace/"


def _children_add_up(hops: list[dict]) -> None:
    by_parent: dict[int, int] = defaultdict(int)
    for hop in hops:
        if hop["parent"] is not None:
            by_parent[hop["parent"]] += hop["amount"]
    for hop in hops:
        if hop["split"]:
            assert by_parent[hop["id"]] == hop["amount"], hop
        else:
            assert hop["id"] not in by_parent, hop


# --- pure: the node → person hops of the engine's result ------------------------------------


def test_person_edges_add_up_to_each_terminal_with_cycles_and_currencies():
    """A random graph with cycles and self entries, two currencies: every person's edges sum
    to exactly what the engine gave them, and each edge is within a cent of its exact flow."""
    rng = np.random.default_rng(7)
    nodes = [f"project:p{i}" for i in range(30)]
    people = [f"user:u{i}" for i in range(12)]
    tables: dict[str, dict[str, int]] = {}
    for i, node in enumerate(nodes):
        names = list(rng.choice(nodes + people, size=5, replace=False))
        if i % 7 == 0:
            names.append(node)  # a self entry
        weights = rng.integers(1, 1_000_000, size=len(names))
        tables[node] = {n: int(w) for n, w in zip(names, weights, strict=True)}
    graph = FlowGraph.from_tables(tables=tables)
    inflows = [
        Inflow(node=graph.node_index("project:p0"), currency="usd", cents=1_000_003),
        Inflow(node=graph.node_index("project:p5"), currency="usd", cents=77),
        Inflow(node=graph.node_index("project:p9"), currency="eur", cents=99_999),
    ]
    distribution = compute_distribution(graph=graph, inflows=inflows)
    edges = tr.trace_edges_compute(
        graph=graph, distribution=distribution, account_of=lambda t: (t, "available")
    )
    assert set(edges.edges) == {"usd", "eur"}
    by_currency: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for currency, source, person, amount in edges.rows():
        by_currency[currency].append((source, person, amount))
    for currency, rows in by_currency.items():
        got: dict[str, int] = defaultdict(int)
        for _, person, amount in rows:
            assert amount > 0
            got[person] += amount
        expected = {
            k: v
            for k, v in distribution.recipient_amounts(graph=graph, currency=currency).items()
            if k in people
        }
        assert dict(got) == expected
        result = distribution.currencies[currency]
        for source, person, amount in rows:
            s, t = graph.node_index(source), graph.terminal_index(person)
            lo, hi = graph.terminal_indptr[s], graph.terminal_indptr[s + 1]
            mb = int(graph.terminal_millibips[lo:hi][graph.terminal_targets[lo:hi] == t].sum())
            exact = result.pass_through[s] * mb / 1e7
            assert abs(amount - exact) < 1.5


def test_group_round_splits_zero_weights_and_keeps_totals():
    groups = np.array([0, 0, 1, 1, 1, 2], dtype=np.int64)
    weights = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 5.0])
    parts = tr._group_round(
        groups=groups,
        weights=weights,
        exact_weights=lambda members: [1] * members.size,
        totals=np.array([3, 10, 4], dtype=np.int64),
    )
    assert parts.tolist() == [2, 1, 4, 3, 3, 4]  # ties to the lower index, as allocate


# --- a real run: published_run() has a cycle (numpy <-> scipy) and usd + eur ----------------


@pytest.mark.django_db
def test_every_credit_traces_back_exactly(api_client):
    run = published_run()
    # Each person's stored edges add up to their allocation.
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for currency, recipient, amount in TraceEdge.objects.filter(run=run).values_list(
        "currency", "recipient", "amount"
    ):
        edges[(recipient, currency)] += amount
    people = {
        (r, c): a
        for r, c, a in RunAllocation.objects.filter(run=run).values_list(
            "recipient", "currency", "amount"
        )
        if is_person_key(r)
    }
    assert edges == people
    for recipient in {r for r, _ in people} | {"project:numpy", "project:scipy"}:
        trace = tr.run_trace(run=run, recipient=recipient)
        assert trace.direction == "up" and trace.complete
        assert tr.trace_problems(trace) == []
        allocations = dict(
            RunAllocation.objects.filter(run=run, recipient=recipient).values_list(
                "currency", "amount"
            )
        )
        assert {ct.currency: ct.amount for ct in trace.currencies} == allocations
        for ct in trace.currencies:
            assert ct.root.split  # a credit is always split into the nodes that paid it
            # Every tree reaches the company's inflow; alice's goes round numpy <-> scipy.
            kinds = {hop.kind for hop in ct.hops}
            assert {"inflow", "node"} <= kinds
            if recipient == f"user:{ALICE}":
                assert "cycle" in kinds


@pytest.mark.django_db
def test_a_person_trace_names_its_hops_up_to_the_agreement(api_client):
    run = published_run()
    alice = UserFactory._meta.model.objects.get(username=ALICE)
    api_client.force_authenticate(alice)
    answer = api_client.get(API, {"recipient": f"user:{ALICE}", "run": run.pk})
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["direction"] == "up"
    for tree in data["currencies"]:
        hops = tree["hops"]
        assert hops[0]["kind"] == "recipient" and hops[0]["amount"] == tree["amount"]
        _children_add_up(hops)
        first = [h for h in hops if h["parent"] == 0]
        assert [h["key"] for h in first] == ["project:numpy"]  # only numpy pays alice
        companies = [h for h in hops if h["key"] == "company:acme"]
        assert companies and all(
            h["node_in"] == h["node_passed"] + h["node_kept"] for h in companies
        )
        inflows = [h for h in hops if h["kind"] == "inflow"]
        assert inflows and all("inflow #" in h["detail"] for h in inflows)


@pytest.mark.django_db
def test_a_company_sees_where_its_money_went_people_counted_not_named(api_client):
    run = published_run()
    member = UserFactory()
    CompanyMemberFactory(company=CompanyFactory(slug="acme"), user=member, role="viewer")
    trace = tr.run_trace(run=run, recipient="company:acme")
    assert trace.direction == "down" and tr.trace_problems(trace) == []
    assert {ct.currency: ct.amount for ct in trace.currencies} == run.totals
    for ct in trace.currencies:
        assert sum(v for _, v in ct.sources) == ct.amount  # its inflows in the run
        people = [h for h in ct.hops if h.kind == "people"]
        assert people and all(h.people for h in people)
    api_client.force_authenticate(member)
    answer = api_client.get(API, {"recipient": "company:acme", "run": run.pk})
    assert answer.status_code == 200
    for tree in answer.json()["currencies"]:
        _children_add_up(tree["hops"])
    assert not any(marker in answer.content.decode() for marker in MARKERS)


@pytest.mark.django_db
def test_who_sees_which_trace(api_client, client):
    run = published_run()
    stranger = UserFactory()
    staff = UserFactory(is_staff=True)
    alice = UserFactory._meta.model.objects.get(username=ALICE)
    person = {"recipient": f"user:{ALICE}", "run": run.pk}
    company = {"recipient": "company:acme", "run": run.pk}
    project = {"recipient": "project:numpy", "run": run.pk}
    # Anyone: a project's trace, and it names no person.
    answer = api_client.get(API, project)
    assert answer.status_code == 200
    assert not any(marker in answer.content.decode() for marker in MARKERS)
    # A person's trace and a company's tree are not found for strangers.
    for who in (None, stranger):
        api_client.force_authenticate(who)
        assert api_client.get(API, person).status_code == 404
        assert api_client.get(API, company).status_code == 404
        assert api_client.get(API, {"recipient": OCTO, "run": run.pk}).status_code == 404
    for who in (alice, staff):
        api_client.force_authenticate(who)
        assert api_client.get(API, person).status_code == 200
    api_client.force_authenticate(staff)
    assert api_client.get(API, company).status_code == 200
    # A person who made what they received public: anyone sees their trace.
    UserProfileFactory(user=alice, public=True)
    api_client.force_authenticate(None)
    assert api_client.get(API, person).status_code == 200
    # The page follows the same rules.
    url = reverse("payouts:trace", args=[run.pk])
    assert client.get(url, {"recipient": "company:acme"}).status_code == 404
    assert client.get(url, {"recipient": "project:numpy"}).status_code == 200
    assert client.get(url, {"recipient": "nonsense"}).status_code == 400
    assert api_client.get(API, {"recipient": "project:numpy", "run": 0}).status_code == 400
    assert api_client.get(API, {"recipient": "project:numpy", "run": 999}).status_code == 404


# --- query counts do not grow with the run --------------------------------------------------


def _fan_run(width: int):
    """acme → ``width`` projects, each paying one person half and keeping the rest; the
    first person is ``github:fan-<width>-0``."""
    steward = UserFactory()
    table = []
    for i in range(width):
        slug = f"fan{width}-{i}"
        ProjectFactory(slug=slug, steward=steward)
        TableVersionFactory(
            owner_key=f"project:{slug}",
            actor=steward,
            entries=[(f"github:fan-{width}-{i}", 5_000_000)],
        )
        table.append((f"project:{slug}", 10_000_000 // width))
    company = CompanyFactory(slug=f"fan{width}", owner=UserFactory(), table=table)
    InflowFactory(company=company, amount=1_000_000, currency="usd")
    run = runs.distribution_run_create()
    return runs.distribution_run_execute(run_id=run.pk)


@pytest.mark.django_db
def test_query_count_is_the_same_for_a_small_and_a_wide_run(api_client, client):
    staff = UserFactory(is_staff=True)
    api_client.force_authenticate(staff)
    client.force_login(staff)
    counts = []
    for width in (2, 12):
        run = _fan_run(width)
        per_call = []
        for params in (
            {"recipient": f"github:fan-{width}-0", "run": run.pk},
            {"recipient": f"company:fan{width}", "run": run.pk},
            {"recipient": f"project:fan{width}-1", "run": run.pk},
        ):
            with CaptureQueriesContext(connection) as queries:
                answer = api_client.get(API, params)
            assert answer.status_code == 200
            for tree in answer.json()["currencies"]:
                _children_add_up(tree["hops"])
            per_call.append(len(queries))
            with CaptureQueriesContext(connection) as queries:
                page = client.get(reverse("payouts:trace", args=[run.pk]), params)
            assert page.status_code == 200
            per_call.append(len(queries))
            if width == 12 and params["recipient"].startswith("company:"):
                # The company's 12 projects: the largest shown, the others summed in one hop
                # (read summed from the database, not row by row).
                more = [h for h in answer.json()["currencies"][0]["hops"] if h["kind"] == "more"]
                assert [h["detail"] for h in more] == [f"{12 - tr.MAX_CHILDREN} more"]
        counts.append(per_call)
    assert counts[0] == counts[1]
    assert max(counts[0]) <= tr.MAX_DEPTH + 12


@pytest.mark.django_db
def test_trace_page_and_its_links(client):
    run = published_run()
    alice = UserFactory._meta.model.objects.get(username=ALICE)
    client.force_login(alice)
    page = client.get(reverse("payouts:trace", args=[run.pk]), {"recipient": f"user:{ALICE}"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="trace-check"' in html and "data-amount=" in html
    assert "from numpy" in html and "acme" in html
    trace_url = reverse("payouts:trace", args=[run.pk])
    assert trace_url in client.get(reverse("payouts:run", args=[run.pk])).content.decode()
    assert (
        f"{trace_url}?recipient=user%3A{ALICE}"
        in client.get(reverse("payouts:earnings")).content.decode()
    )
