"""Distribution runs: staged, restartable, exact (money rules 3, 4 and 5).

A run goes ``pending → snapshot → computed → done``; each stage is one database transaction
that also records the new status, so a crash at any point leaves the run at the last finished
stage and :func:`distribution_run_execute` continues from there. The snapshot stores which
table versions (active at the cutoff), default tables, identity claims, unverified projects
and inflows the run uses, so the computation can be repeated bit-identically later
(:func:`payouts.distribution.explain.run_recompute`). The report is written by
:mod:`payouts.distribution.report`.

Money rule 8 (only a verified project's table moves money): a project not verified at the
cutoff is a node whose table routes nothing; all that reaches it is kept in its escrow
(``project:<slug>`` / ``escrow``). The snapshot stage of a later run *releases* the escrow of
every project verified by that run's cutoff: one balanced ``claim`` transaction per account
(escrow → platform pool, key ``run:<id>:release:<account id>``, in the snapshot's database
transaction), recorded in the snapshot as an inflow row ``["escrow:<txn id>", owner, currency,
amount]`` that enters the graph at the project, so it flows on by the project's table. Held
money is in ``held`` accounts and never moves; a project with an active hold or freeze keeps
its escrow until the hold ends. A failed run reverses its releases (pool → escrow).
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from faiross.kernel.recipients import company_key, project_key, recipient_split, user_key
from payouts import queue
from payouts.distribution.graph import FlowGraph, Inflow
from payouts.distribution.graph_cache import graph_cache_writing
from payouts.distribution.loader import copy_text, load_flow_graph
from payouts.distribution.report import run_report
from payouts.distribution.solve import Distribution, compute_distribution
from payouts.holds import held_recipients
from payouts.ledger import PLATFORM, Leg, ledger_post, ledger_post_run, ledger_reverse
from payouts.models import (
    Account,
    ClaimedIdentity,
    DistributionRun,
    LedgerTransaction,
    Posting,
    RunAllocation,
)
from payouts.models import Inflow as InflowRecord
from payouts.notifications import run_credited_notify
from payouts.run_followups import run_followups_call
from payouts.totals import project_received_add
from payouts.webhook_events import run_done_emit
from projects.cycles import ClosedCycleError
from projects.models import Project
from projects.services.tables import default_table_entries

log = logging.getLogger(__name__)

RELEASED_PREFIX = "escrow:"
"""Inflow rows of a snapshot whose id starts with this are released escrow, not Inflows."""


class RunInProgress(Exception):
    """Another run is unfinished; runs never overlap."""

    def __init__(self, run: DistributionRun) -> None:
        super().__init__(f"run {run.pk} is still {run.status}")
        self.run = run


# --- start -----------------------------------------------------------------------------


def distribution_run_create(
    *, started_by: User | None = None, cutoff: dt.datetime | None = None
) -> DistributionRun:
    """Create a pending run, or raise :class:`RunInProgress` naming the unfinished one.

    The partial unique index on ``is_open`` makes this safe against concurrent starts.
    """
    try:
        with transaction.atomic():
            return DistributionRun.objects.create(
                cutoff=cutoff or timezone.now(), started_by=started_by, progress="waiting"
            )
    except IntegrityError:
        open_run = DistributionRun.objects.filter(is_open=True).first()
        if open_run is None:  # it finished in the meantime
            return distribution_run_create(started_by=started_by, cutoff=cutoff)
        raise RunInProgress(open_run) from None


def distribution_run_start(
    *, started_by: User | None = None, cutoff: dt.datetime | None = None
) -> DistributionRun:
    """Create a run and hand it to the task queue after commit (in-process when embedded)."""
    run = distribution_run_create(started_by=started_by, cutoff=cutoff)
    transaction.on_commit(lambda: queue.distribution_run_enqueue.fn(run.pk))
    return run


# --- stage 1: snapshot ------------------------------------------------------------------


def _snapshot(run: DistributionRun, released: list[list[object]]) -> dict[str, Any]:
    inflows: list[list[object]] = [
        [pk, company_key(slug), currency, amount]
        for pk, slug, currency, amount in InflowRecord.objects.filter(
            run__isnull=True, received_at__lte=run.cutoff
        )
        .order_by("pk")
        .values_list("pk", "company__slug", "currency", "amount")
    ]
    return _snapshot_at(cutoff=run.cutoff, inflows=inflows + released)


def _snapshot_at(*, cutoff: dt.datetime, inflows: list[list[object]]) -> dict[str, Any]:
    """Which tables move the money: versions active at ``cutoff``, default tables of every
    project reached without one, claims, unclaimed and unverified projects, and the inflows.

    ``unverified`` lists the projects (among those the run can reach) not verified at the
    cutoff: :func:`run_compute` lets their tables route nothing (money rule 8)."""
    # Read with a plain cursor: a million (owner, version) pairs as ORM rows cost seconds.
    active = (
        "SELECT v.id, v.table_id, v.number FROM projects_tableversion v "
        "WHERE v.activated_at <= %s AND (v.superseded_at IS NULL OR v.superseded_at > %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT st.owner_key, a.id, a.number FROM ({active}) a "  # noqa: S608 (constant)
            "JOIN projects_sharetable st ON st.id = a.table_id",
            [cutoff, cutoff],
        )
        rows = cursor.fetchall()
        versions = {owner: pk for owner, pk, _ in rows}
        if len(versions) != len(rows):  # two versions of one table active at once
            lowest: dict[str, tuple[int, int]] = {}
            for owner, pk, number in rows:
                if owner not in lowest or number < lowest[owner][0]:
                    lowest[owner] = (number, pk)
            versions = {owner: pk for owner, (_, pk) in lowest.items()}  # as the ORM ordered
        del rows
        # Projects named by these tables that have no table of their own at the cutoff: they
        # use their default table. First the projects without an active table (an anti-join
        # of two hash tables; few when most projects have a table), then which of them an
        # active entry names (by the entries' project index). One query doing both lets the
        # planner scan all ten million entries first (26 s at a million projects).
        cursor.execute(
            f"SELECT p.id, p.slug FROM projects_project p WHERE NOT EXISTS ("  # noqa: S608
            f"SELECT 1 FROM ({active}) a JOIN projects_sharetable st ON st.id = a.table_id "
            "WHERE st.owner_key = %s || p.slug)",
            [cutoff, cutoff, project_key("")],  # the key's prefix, "project:"
        )
        lacking = dict(cursor.fetchall())
        named: set[str] = set()
        ids = sorted(lacking)
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            cursor.execute(
                "SELECT DISTINCT e.project_id FROM projects_tableentry e "  # noqa: S608
                f"JOIN ({active}) a ON a.id = e.version_id "
                f"WHERE e.project_id IN ({', '.join(['%s'] * len(chunk))})",
                [cutoff, cutoff, *chunk],
            )
            named |= {project_key(lacking[row[0]]) for row in cursor.fetchall()}
    owners = {str(row[1]) for row in inflows}
    # Every project named anywhere becomes a node; one without a version uses its default
    # table (which may name further projects).
    defaults: dict[str, dict[str, int]] = {}
    seen: set[str] = set(versions)
    pending = (named | {o for o in owners if o.startswith("project:")}) - seen
    while pending:
        key = pending.pop()
        seen.add(key)
        project = Project.objects.filter(slug=recipient_split(key)[1]).first()
        default = dict(default_table_entries(project=project, at=cutoff)) if project else {}
        defaults[key] = default
        pending |= {r for r in default if r.startswith("project:") and r not in seen}
    unclaimed_all = {
        project_key(slug)
        for slug in Project.objects.filter(status=Project.Status.UNCLAIMED).values_list(
            "slug", flat=True
        )
    }
    unclaimed = sorted(unclaimed_all & (seen | named))
    # Few projects are unverified, so they are listed and intersected (not the reverse).
    unverified_all = {
        project_key(slug)
        for slug in Project.objects.filter(
            Q(verified_at__isnull=True) | Q(verified_at__gt=cutoff)
        ).values_list("slug", flat=True)
    }
    unverified = sorted(unverified_all & (seen | named))
    claims = dict(
        ClaimedIdentity.objects.filter(claimed_at__lte=cutoff).values_list(
            "identity", "user__username"
        )
    )
    return {
        "versions": versions,
        "defaults": defaults,
        "unclaimed": unclaimed,
        "unverified": unverified,
        "claims": claims,
        "inflows": inflows,
    }


def _escrow_release(run: DistributionRun) -> list[list[object]]:
    """Move the escrow of projects verified by the run's cutoff into the run (money rule 8).

    Precondition: called inside the snapshot stage's transaction, with the run row locked.
    Invariants: one balanced transaction per escrow account (escrow → platform pool), keyed
    by run and account, so a repeat writes nothing new; escrow accounts are locked in
    (owner, currency) order; projects with an active hold or freeze are skipped (their money
    waits until the ombudsman is done; what a hold took is in ``held`` and never moves here).
    Returns the snapshot inflow rows ``["escrow:<txn id>", owner, currency, amount]``.
    """
    candidates = list(
        Posting.objects.filter(
            account__purpose=Account.Purpose.ESCROW,
            account__owner__startswith=project_key(""),
        )
        .values("account_id", "account__owner")
        .annotate(total=Sum("amount"))
        .filter(total__gt=0)
    )
    slugs = {recipient_split(row["account__owner"])[1] for row in candidates}
    verified = {
        project_key(slug)
        for slug in Project.objects.filter(slug__in=slugs, verified_at__lte=run.cutoff).values_list(
            "slug", flat=True
        )
    }
    ids = sorted(
        (row["account__owner"], row["account_id"])
        for row in candidates
        if row["account__owner"] in verified
    )
    if not ids:
        return []
    held = held_recipients()
    rows: list[list[object]] = []
    accounts = Account.objects.select_for_update().filter(pk__in=[pk for _, pk in ids])
    for account in sorted(accounts, key=lambda a: (a.owner, a.currency)):
        if account.owner in held:
            continue
        balance = int(Posting.objects.filter(account=account).aggregate(t=Sum("amount"))["t"] or 0)
        if balance <= 0:
            continue
        txn, _ = ledger_post(
            idempotency_key=f"run:{run.pk}:release:{account.pk}",
            kind=LedgerTransaction.Kind.CLAIM,
            reference=f"run:{run.pk}",
            legs=[
                Leg(account.owner, Account.Purpose.ESCROW, account.currency, -balance),
                Leg(PLATFORM, Account.Purpose.POOL, account.currency, balance),
            ],
            memo=f"{account.owner} is verified: its escrow flows on by its table in run {run.pk}",
        )
        rows.append([f"{RELEASED_PREFIX}{txn.pk}", account.owner, account.currency, balance])
    return rows


def snapshot_inflow_ids(snapshot: Mapping[str, Any]) -> list[int]:
    """The ids of the Inflow records a snapshot took (released escrow rows excluded)."""
    return [row[0] for row in snapshot.get("inflows", []) if isinstance(row[0], int)]


def snapshot_released(snapshot: Mapping[str, Any]) -> list[tuple[int, str, str, int]]:
    """[(ledger transaction id, project key, currency, amount)] of the escrow a run released."""
    return [
        (int(str(row[0]).removeprefix(RELEASED_PREFIX)), row[1], row[2], int(row[3]))
        for row in snapshot.get("inflows", [])
        if isinstance(row[0], str) and row[0].startswith(RELEASED_PREFIX)
    ]


def _bulk_settings() -> None:
    """PostgreSQL settings for a stage's transaction (``SET LOCAL``: nothing else sees them):
    memory for hash joins and sorts of millions of rows, and no JIT compilation, which costs
    about a second per large query here and saves nothing on these plans. Durable commits
    stay on."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")


@transaction.atomic
def _stage_snapshot(run_id: int) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status != DistributionRun.Status.PENDING:
        return
    _bulk_settings()
    released = _escrow_release(run)
    snapshot = _snapshot(run, released)
    if connection.vendor == "postgresql":  # one array parameter, not 100,000 placeholders
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE payouts_inflow SET run_id = %s WHERE id = ANY(%s)",
                [run.pk, snapshot_inflow_ids(snapshot)],
            )
    else:
        InflowRecord.objects.filter(pk__in=snapshot_inflow_ids(snapshot)).update(run=run)
    run.snapshot = snapshot
    run.status = DistributionRun.Status.SNAPSHOT
    run.progress = (
        f"snapshot: {len(snapshot['inflows']) - len(released)} inflows, "
        f"{len(released)} released escrow, {len(snapshot['versions'])} tables"
    )
    run.save(update_fields=["snapshot", "status", "progress"])


# --- stage 2: compute --------------------------------------------------------------------


@dataclass(frozen=True)
class Computed:
    graph: FlowGraph
    distribution: Distribution
    allocations: Mapping[tuple[str, str, str], int]  # an Allocations from run_compute


def _account_for_terminal(
    terminal: str, *, nodes: set[str], unclaimed: set[str], claims: Mapping[str, str]
) -> tuple[str, str]:
    """Where a terminal's money is kept (money rule 6: unknown identities wait in escrow;
    rule 8: an unverified project's money waits in its escrow; ``unclaimed`` holds both)."""
    kind = terminal.split(":", 1)[0]
    if terminal in nodes:  # a node's own reserve
        if terminal in unclaimed:
            return terminal, Account.Purpose.ESCROW
        return terminal, Account.Purpose.RESERVE
    if kind == "user":
        return terminal, Account.Purpose.AVAILABLE
    if terminal in claims:
        return user_key(claims[terminal]), Account.Purpose.AVAILABLE
    return terminal, Account.Purpose.ESCROW


PURPOSES = (Account.Purpose.AVAILABLE, Account.Purpose.RESERVE, Account.Purpose.ESCROW)
AVAILABLE, RESERVE, ESCROW = range(3)


class Allocations(Mapping[tuple[str, str, str], int]):
    """A run's allocations ``{(owner, purpose, currency): cents}``, held as arrays: account
    ``a`` is ``(labels[a], PURPOSES[purposes[a]])``, and per currency ``parts[currency]`` is
    (account indices, cents), every cent non-zero. Reads like the dict it stands for (built
    on first lookup); :meth:`rows` walks it without building one."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        purposes: np.ndarray,
        parts: Mapping[str, tuple[np.ndarray, np.ndarray]],
    ) -> None:
        self.labels, self.purposes, self.parts = labels, purposes, dict(parts)
        self._dict: dict[tuple[str, str, str], int] | None = None

    def rows(self) -> Iterator[tuple[str, str, str, int]]:
        labels, purposes = self.labels, [PURPOSES[p] for p in range(3)]
        codes = self.purposes
        for currency, (accounts, cents) in self.parts.items():
            for a, v in zip(accounts.tolist(), cents.tolist(), strict=True):
                yield labels[a], purposes[codes[a]], currency, v

    def count(self, currency: str) -> int:
        """How many accounts receive something in ``currency``."""
        part = self.parts.get(currency)
        return 0 if part is None else int(part[0].size)

    def largest(self, currency: str, n: int) -> list[tuple[int, str, str]]:
        """``heapq.nlargest(n, [(cents, owner, purpose), ...])`` of ``currency``, ties and
        all, sorting only the candidates at or above the n-th largest amount."""
        part = self.parts.get(currency)
        if part is None or n <= 0:
            return []
        accounts, cents = part
        if cents.size > n:
            cut = np.partition(cents, cents.size - n)[cents.size - n]
            chosen = np.flatnonzero(cents >= cut)
        else:
            chosen = np.arange(cents.size)
        rows = [
            (v, self.labels[a], PURPOSES[self.purposes[a]])
            for a, v in zip(accounts[chosen].tolist(), cents[chosen].tolist(), strict=True)
        ]
        return heapq.nlargest(n, rows)

    def _as_dict(self) -> dict[tuple[str, str, str], int]:
        if self._dict is None:
            self._dict = {(o, p, c): v for o, p, c, v in self.rows()}
        return self._dict

    def __getitem__(self, key: tuple[str, str, str]) -> int:
        return self._as_dict()[key]

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return iter(self._as_dict())

    def __len__(self) -> int:
        return sum(int(accounts.size) for accounts, _ in self.parts.values())

    def items(self):  # type: ignore[no-untyped-def, override]
        return self._as_dict().items()


def _terminal_accounts(
    *, graph: FlowGraph, unclaimed: set[str], claims: Mapping[str, str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Where each terminal's money is kept, vectorised :func:`_account_for_terminal`:
    (account labels, account purposes, account index per terminal). Terminal ``t`` is
    account ``t`` unless a claim sends it to its user's account (shared with the terminal
    ``user:<name>`` when there is one)."""
    terminal_ids = graph.terminal_ids or ()
    n = len(terminal_ids)
    purposes = np.full(n, ESCROW, dtype=np.int8)
    lo, hi = bisect_left(terminal_ids, "user:"), bisect_left(terminal_ids, "user;")
    purposes[lo:hi] = AVAILABLE  # every "user:..." id sorts in [user:, user;)
    plain = bisect_left(terminal_ids, "user")
    if plain < n and terminal_ids[plain] == "user":
        purposes[plain] = AVAILABLE
    reserves = graph.reserve_terminals.astype(np.int64)
    purposes[reserves] = RESERVE
    is_node = np.zeros(n, dtype=bool)
    is_node[reserves] = True
    for key in unclaimed:
        t = bisect_left(terminal_ids, key)
        if t < n and terminal_ids[t] == key and is_node[t]:
            purposes[t] = ESCROW
    account = np.arange(n, dtype=np.int64)
    labels: list[str] = list(terminal_ids)
    extra: dict[str, int] = {}
    extra_purposes: list[int] = []
    for identity, username in claims.items():
        t = bisect_left(terminal_ids, identity)
        if not (t < n and terminal_ids[t] == identity) or is_node[t]:
            continue
        if purposes[t] == AVAILABLE:  # a user: id is credited to itself
            continue
        owner = user_key(username)
        u = bisect_left(terminal_ids, owner)
        if u < n and terminal_ids[u] == owner and not is_node[u]:
            account[t] = u
            continue
        if owner not in extra:
            extra[owner] = len(labels)
            labels.append(owner)
            extra_purposes.append(AVAILABLE)
        account[t] = extra[owner]
    all_purposes = np.concatenate([purposes, np.asarray(extra_purposes, dtype=np.int8)])
    return labels, all_purposes, account


def run_compute(snapshot: Mapping[str, Any]) -> Computed:
    """Pure with respect to the snapshot: the same snapshot gives the same result.

    Unverified projects (``snapshot["unverified"]``, absent in snapshots taken before rule 8)
    stay nodes with an empty table: everything reaching them is their reserve terminal,
    kept in their escrow.
    """
    inflow_rows = snapshot["inflows"]
    unverified = set(snapshot.get("unverified", ()))
    graph = load_flow_graph(
        versions={o: v for o, v in snapshot["versions"].items() if o not in unverified},
        defaults={
            o: ({} if o in unverified else entries) for o, entries in snapshot["defaults"].items()
        },
        extra_owners=[row[1] for row in inflow_rows] + sorted(unverified),
    )
    node_ids = graph.node_ids or ()
    inflows = [
        Inflow(node=bisect_left(node_ids, owner), currency=cur, cents=amount)
        for _, owner, cur, amount in inflow_rows
    ]
    distribution = compute_distribution(graph=graph, inflows=inflows)
    labels, purposes, account = _terminal_accounts(
        graph=graph,
        unclaimed=set(snapshot["unclaimed"]) | unverified,
        claims=snapshot["claims"],
    )
    n_terminals = account.size
    moved = np.flatnonzero(account != np.arange(n_terminals))  # claimed identities
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for currency, result in distribution.currencies.items():
        cents = np.zeros(len(labels), dtype=np.int64)
        cents[:n_terminals] = result.amounts
        np.add.at(cents, account[moved], result.amounts[moved])
        cents[moved] = 0
        paid = np.flatnonzero(cents)
        got = int(cents[paid].sum())
        if got != result.total_cents:  # money rule 3, checked, not assumed
            raise ArithmeticError(f"{currency}: allocations {got} != inflows {result.total_cents}")
        parts[currency] = (paid, cents[paid])
    allocations = Allocations(labels=labels, purposes=purposes, parts=parts)
    return Computed(graph, distribution, allocations)


def _copy_lines(run_id: int, rows: Iterable[tuple[str, str, str, int]]) -> Iterator[str]:
    """COPY text lines in blocks (a write per row costs a round of I/O each)."""
    block: list[str] = []
    for o, p, c, v in rows:
        block.append(f"{run_id}\t{copy_text(o)}\t{p}\t{c}\t{v}\n")
        if len(block) == 200_000:
            yield "".join(block)
            block = []
    yield "".join(block)


def _write_allocations(
    run: DistributionRun, allocations: Mapping[tuple[str, str, str], int]
) -> None:
    # Order does not matter to the database; sorting two million keys would cost seconds.
    if isinstance(allocations, Allocations):
        rows: Iterable[tuple[str, str, str, int]] = allocations.rows()
    else:
        rows = [(o, p, c, v) for (o, p, c), v in allocations.items() if v]
    if connection.vendor == "postgresql":
        sql = "COPY payouts_runallocation (run_id, recipient, purpose, currency, amount) FROM STDIN"
        with connection.cursor() as cursor:
            with cursor.cursor.copy(sql) as copy:
                for block in _copy_lines(run.pk, rows):
                    copy.write(block)
            # Fresh row counts, so the post stage joins two million rows by hash, not by
            # two million index lookups.
            cursor.execute("ANALYZE payouts_runallocation")
        return
    RunAllocation.objects.bulk_create(
        [
            RunAllocation(run=run, recipient=o, purpose=p, currency=c, amount=v)
            for o, p, c, v in rows
        ],
        batch_size=5000,
    )


@transaction.atomic
def _stage_compute(run_id: int) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status != DistributionRun.Status.SNAPSHOT:
        return
    _bulk_settings()
    with graph_cache_writing():  # this run's graph is the next run's starting point
        computed = run_compute(run.snapshot)  # type: ignore[arg-type]
    _write_allocations(run, computed.allocations)
    from payouts.distribution.trace import trace_record  # each person's hops, for traces

    trace_record(run=run, computed=computed)
    run.totals = {c: r.total_cents for c, r in computed.distribution.currencies.items()}
    run.report = run_report(
        graph=computed.graph,
        distribution=computed.distribution,
        allocations=computed.allocations,
    )
    run.status = DistributionRun.Status.COMPUTED
    run.progress = f"computed: {len(computed.allocations)} allocations"
    run.save(update_fields=["totals", "report", "status", "progress"])


# --- stage 3: post -----------------------------------------------------------------------


@transaction.atomic
def _stage_post(run_id: int) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status != DistributionRun.Status.COMPUTED:
        return
    for currency in sorted(run.totals or {}):
        ledger_post_run(
            run_id=run.pk,
            currency=currency,
            idempotency_key=f"run:{run.pk}:{currency}",
            reference=f"run:{run.pk}",
            memo=f"distribution run {run.pk}",
        )
    run.status = DistributionRun.Status.DONE
    run.is_open = None
    run.finished_at = timezone.now()
    run.progress = "done"
    run.save(update_fields=["status", "is_open", "finished_at", "progress"])
    run_done_emit(run=run)  # webhooks, sent once this transaction commits
    run_credited_notify(run=run)  # each person's own amount, emailed after commit


def distribution_run_execute(*, run_id: int) -> DistributionRun:
    """Run (or continue) a run to the end. Safe to call twice, concurrently, or after a crash:
    each stage locks the run row and skips itself when already done (money rule 4).
    A closed cycle or any other failure marks the run failed, loudly, and releases its inflows.
    """
    stages = (_stage_snapshot, _stage_compute, _stage_post)
    try:
        for stage in stages:
            stage(run_id)
    except Exception as exc:
        log.exception("distribution run %s failed", run_id)
        _fail(run_id, exc)
        raise
    from payouts.distribution.publish import run_publication_ensure  # it imports this module

    run_publication_ensure(run_id=run_id)  # hashes, Merkle roots, flows; never undoes the run
    project_received_add(run_id=run_id)  # explore's per-project totals, counted once
    run_followups_call(run_id=run_id)  # higher apps' steps (market: pay unit holders)
    return DistributionRun.objects.get(pk=run_id)


@transaction.atomic
def _fail(run_id: int, exc: Exception) -> None:
    run = DistributionRun.objects.select_for_update().get(pk=run_id)
    if run.status == DistributionRun.Status.DONE:
        return
    InflowRecord.objects.filter(run=run).update(run=None)
    # Released escrow goes back to the project's escrow; the next run takes it again.
    for txn_id, *_ in snapshot_released(run.snapshot or {}):
        ledger_reverse(
            original=LedgerTransaction.objects.get(pk=txn_id), reason=f"run {run.pk} failed"
        )
    RunAllocation.objects.filter(run=run).delete()
    prefix = "closed cycle" if isinstance(exc, ClosedCycleError) else type(exc).__name__
    run.status = DistributionRun.Status.FAILED
    run.is_open = None
    run.error = f"{prefix}: {exc}"
    run.finished_at = timezone.now()
    run.progress = "failed"
    run.save(update_fields=["status", "is_open", "error", "finished_at", "progress"])


__all__ = [
    "RunInProgress",
    "distribution_run_create",
    "distribution_run_execute",
    "distribution_run_start",
    "run_compute",
    "snapshot_inflow_ids",
    "snapshot_released",
]
