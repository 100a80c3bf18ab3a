"""The invariants checked after every step; each returns a list of violations (strings).

They read the whole database (the seed runs on top of whatever it holds) except where noted:
payouts, holds and transfers are compared for the seed's own rows, because the local Stripe
server is fresh for every seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Q, Sum

from disputes.models import Hold
from faiross.kernel.recipients import project_key
from faiross.kernel.shares import FULL_SHARE
from payouts.distribution.explain import run_recompute
from payouts.distribution.runs import snapshot_released
from payouts.models import (
    ClaimedIdentity,
    DistributionRun,
    Inflow,
    LedgerTransaction,
    Payout,
    Posting,
    ReserveGrant,
    RunAllocation,
)
from projects.models import Project, TableEntry, TableVersion

from .world import World

NON_NEGATIVE = ("available", "escrow", "held", "reserve", "in_transit", "pool")


def ledger_check_command() -> list[str]:
    """``manage.py ledger_check``'s own checks (its logic, run in-process)."""
    out = io.StringIO()
    try:
        call_command("ledger_check", stdout=out)
    except CommandError as exc:
        lines = [line.strip() for line in out.getvalue().splitlines() if "problem" in line]
        return [f"ledger_check: {exc}: {'; '.join(lines)}"]
    return []


def _new_postings(world: World, full: bool) -> Any:
    """The postings to look at: all (``full``), else those of transactions posted since the
    last check. The ledger is append-only (database triggers), so an old transaction never
    changes and checking the new ones after every step is the same as checking all."""
    qs = Posting.objects.all()
    if not full:
        qs = qs.filter(transaction_id__gt=world.seen.get("txn", 0))
    return qs


def balanced(world: World, full: bool) -> list[str]:
    rows = (
        _new_postings(world, full)
        .values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    )
    return [
        f"transaction {r['transaction_id']} unbalanced in {r['currency']}: {r['total']}"
        for r in rows
    ]


def money_conserved(world: World, full: bool) -> list[str]:
    """Money in = distributed + undistributed, to the cent, per currency; each done run's
    allocations equal its inflows plus the escrow it released (money rule 8: the escrow of
    projects verified since flows on in the run); the pool holds exactly the undistributed
    inflows plus the escrow released into runs not yet done (a failed run gives it back)."""
    problems = []
    released: dict[tuple[int, str], int] = defaultdict(int)
    status_of: dict[int, str] = {}
    for run_id, status, snapshot in DistributionRun.objects.exclude(
        status__in=("pending",)
    ).values_list("pk", "status", "snapshot"):
        status_of[run_id] = status
        for _, _, currency, amount in snapshot_released(snapshot or {}):
            released[(run_id, currency)] += amount
    done = {pk for pk, status in status_of.items() if status == "done"}
    received: dict[str, int] = defaultdict(int)
    undistributed: dict[str, int] = defaultdict(int)
    per_run_in: dict[tuple[int, str], int] = defaultdict(int)
    for run_id, currency, amount in (
        Inflow.objects.values_list("run_id", "currency").annotate(t=Sum("amount")).order_by()
    ):
        received[currency] += amount
        if run_id in done:
            per_run_in[(run_id, currency)] += amount
        else:
            undistributed[currency] += amount
    distributed: dict[str, int] = defaultdict(int)
    per_run_out: dict[tuple[int, str], int] = defaultdict(int)
    for run_id, currency, amount in (
        RunAllocation.objects.filter(run_id__in=done)
        .values_list("run_id", "currency")
        .annotate(t=Sum("amount"))
        .order_by()
    ):
        per_run_out[(run_id, currency)] += amount
        distributed[currency] += amount - released.get((run_id, currency), 0)
    for currency in sorted(set(received) | set(distributed)):
        if received[currency] != distributed[currency] + undistributed[currency]:
            problems.append(
                f"{currency}: inflows {received[currency]} != distributed "
                f"{distributed[currency]} + undistributed {undistributed[currency]}"
            )
    for run_id in sorted(done):
        for key in sorted(k for k in set(per_run_in) | set(per_run_out) if k[0] == run_id):
            expected = per_run_in[key] + released.get(key, 0)
            if per_run_out[key] != expected:
                problems.append(
                    f"run {key[0]} {key[1]}: allocations {per_run_out[key]} != inflows "
                    f"{per_run_in[key]} + released escrow {released.get(key, 0)}"
                )
    in_open_runs: dict[str, int] = defaultdict(int)
    for (run_id, currency), amount in released.items():
        if status_of[run_id] in ("snapshot", "computed"):
            in_open_runs[currency] += amount
    pool = dict(
        Posting.objects.filter(account__owner="platform", account__purpose="pool")
        .values_list("currency")
        .annotate(t=Sum("amount"))
        .order_by()
    )
    for currency in sorted(set(pool) | set(undistributed) | set(in_open_runs)):
        expected = undistributed[currency] + in_open_runs[currency]
        if pool.get(currency, 0) != expected:
            problems.append(
                f"{currency}: the pool holds {pool.get(currency, 0)}, undistributed inflows are "
                f"{undistributed[currency]} and escrow released into open runs "
                f"{in_open_runs[currency]}"
            )
    return problems


def non_negative(world: World, full: bool) -> list[str]:
    """No balance below zero where it must not be. A balance changes only when a posting is
    added to its account, so after every step only the accounts of new postings are summed
    (each over all its postings); ``full`` sums every account."""
    accounts = Posting.objects.filter(account__purpose__in=NON_NEGATIVE)
    if not full:
        touched = _new_postings(world, full).values("account_id")
        accounts = accounts.filter(account_id__in=touched)
    rows = (
        accounts.values("account__owner", "account__purpose", "account__currency")
        .annotate(total=Sum("amount"))
        .filter(total__lt=0)
    )
    return [
        f"{r['account__owner']}/{r['account__purpose']}/{r['account__currency']} is {r['total']}"
        for r in rows
    ]


def tables_within_full_share(world: World, full: bool) -> list[str]:
    """Entries plus reserve make exactly 100% in every version. A version's entries are
    written once, with the version (nothing edits them), so after every step the versions
    created since the last check are enough; ``full`` checks all."""
    problems = []
    since = 0 if full else world.seen.get("version", 0)
    sums = dict(
        TableEntry.objects.filter(version_id__gt=since)
        .values_list("version_id")
        .annotate(t=Sum("millibips"))
        .order_by()
    )
    for pk, reserve in TableVersion.objects.filter(pk__gt=since).values_list(
        "pk", "reserve_millibips"
    ):
        total = sums.get(pk, 0)
        if total > FULL_SHARE or reserve < 0 or total + reserve != FULL_SHARE:
            problems.append(f"table version {pk}: entries {total}, reserve {reserve}")
    if TableEntry.objects.filter(version_id__gt=since, millibips__lte=0).exists():
        problems.append("a table entry with zero or negative millibips")
    return problems


def no_closed_cycle_active(world: World, full: bool) -> list[str]:
    """No set of projects whose active tables send everything to each other (money rule 5).

    Versions are immutable, so the answer changes only when the set of active versions
    does: after every step that set is read (one query) and the graph checked again only
    when it changed (``full``: always)."""
    active = list(
        TableVersion.objects.filter(
            status=TableVersion.Status.ACTIVE, table__owner_key__startswith="project:"
        )
        .order_by("pk")
        .values_list("pk", "table__owner_key", "reserve_millibips")
    )
    key = tuple(pk for pk, _, _ in active)
    if not full and world.seen.get("active_versions") == key:
        return []
    world.seen["active_versions"] = key
    owner_of = {pk: owner for pk, owner, _ in active}
    edges: dict[str, set[str]] = {owner: set() for _, owner, _ in active}
    exits: set[str] = {owner for _, owner, reserve in active if reserve > 0}
    for version_id, recipient in TableEntry.objects.filter(version_id__in=key).values_list(
        "version_id", "recipient"
    ):
        owner = owner_of[version_id]
        if recipient.startswith("project:"):
            edges[owner].add(recipient)
        else:
            exits.add(owner)  # a person or an identity keeps money
    # Nodes without an active table of their own use a default table, which keeps a reserve.
    can_exit = set(exits) | {t for ts in edges.values() for t in ts if t not in edges}
    changed = True
    while changed:
        changed = False
        for node, targets in edges.items():
            if node not in can_exit and targets & can_exit:
                can_exit.add(node)
                changed = True
    closed = sorted(set(edges) - can_exit)
    return [f"active tables close a cycle: {', '.join(closed)}"] if closed else []


def runs_recompute(world: World, full: bool) -> list[str]:
    """A done run recomputed from its snapshot gives the same cents as its allocations; and
    its snapshot lets no project route money that was not verified at the cutoff (money
    rule 8: every such project whose table or default table the run uses is listed as
    unverified, so its table routes nothing). Done runs and verification times never
    change, so each run is checked once."""
    problems = []
    verified_at = dict(
        Project.objects.filter(verified_at__isnull=False).values_list("slug", "verified_at")
    )
    for run in (
        DistributionRun.objects.filter(status="done")
        .exclude(pk__in=world.recomputed_runs)
        .order_by("pk")
    ):
        again = {k: v for k, v in run_recompute(run=run).items() if v}
        stored = {
            (o, p, c): v
            for o, p, c, v in RunAllocation.objects.filter(run=run).values_list(
                "recipient", "purpose", "currency", "amount"
            )
        }
        if again != stored:
            diff = sorted(set(again.items()) ^ set(stored.items()))[:4]
            problems.append(f"run {run.pk} recomputed differs from its allocations: {diff}")
        snapshot = run.snapshot or {}
        routing = set(snapshot.get("versions", {})) | set(snapshot.get("defaults", {}))
        listed = set(snapshot.get("unverified", ()))
        for owner in sorted(o for o in routing if o.startswith("project:")):
            at = verified_at.get(owner.removeprefix("project:"))
            if (at is None or at > run.cutoff) and owner not in listed:
                problems.append(f"run {run.pk} let unverified {owner} route money by its table")
        world.recomputed_runs.add(run.pk)
    return problems


def transfers_match_payouts(world: World, full: bool) -> list[str]:
    """One Stripe transfer per sent payout, none for a failed one, none without a payout.

    The transfers are read from the local server's own state (the server runs in this
    process), every step: the same list its API would page through."""
    base = world.baseline.get("payout", 0)
    payouts = {
        pk: (status, amount, destination, transfer_id)
        for pk, status, amount, destination, transfer_id in Payout.objects.filter(
            pk__gt=base
        ).values_list("pk", "status", "amount", "destination", "stripe_transfer_id")
    }
    transfers = world.control.transfers()
    by_payout: dict[int, list[dict[str, Any]]] = defaultdict(list)
    problems = []
    for transfer in transfers:
        ref = str((transfer.get("metadata") or {}).get("faiross_payout", ""))
        if not ref.isdigit() or int(ref) not in payouts:
            problems.append(f"transfer {transfer['id']} has no payout (metadata {ref!r})")
            continue
        by_payout[int(ref)].append(transfer)
    for pk, (status, amount, destination, transfer_id) in sorted(payouts.items()):
        found = by_payout.get(pk, [])
        if len(found) > 1:
            problems.append(f"payout {pk} has {len(found)} transfers")
        if status == "sent" and len(found) != 1:
            problems.append(f"sent payout {pk} has {len(found)} transfers")
        if status == "failed" and found:
            problems.append(f"failed payout {pk} has a transfer")
        for t in found:
            if int(t["amount"]) != amount or t["destination"] != destination:
                problems.append(
                    f"payout {pk}: transfer {t['id']} of {t['amount']} to {t['destination']}"
                )
        if status == "sent" and found and transfer_id != found[0]["id"]:
            problems.append(f"payout {pk} records transfer {transfer_id}")
    return problems


def held_not_paid(world: World, full: bool) -> list[str]:
    """No payout is created for a recipient while one of its holds is active; the held
    balance covers the active holds."""
    problems = []
    holds = list(
        Hold.objects.filter(pk__gt=world.baseline.get("hold", 0))
        .order_by("pk")
        .values_list("pk", "recipient", "currency", "remaining", "status", "created_at", "ended_at")
    )
    if not holds:
        return []
    by_recipient: dict[str, list[Any]] = defaultdict(list)
    for hold in holds:
        by_recipient[hold[1]].append(hold)
    for pk, recipient, created_at in (
        Payout.objects.filter(
            recipient__in=sorted(r for r in by_recipient if r.startswith("user:")),
            pk__gt=world.baseline.get("payout", 0),
        )
        .order_by("pk")
        .values_list("pk", "recipient", "created_at")
    ):
        for hold_pk, _, _, _, _, hold_created, ended in by_recipient[recipient]:
            if hold_created <= created_at and (ended is None or created_at < ended):
                problems.append(
                    f"payout {pk} to {recipient} created while hold {hold_pk} was active"
                )
    owed: dict[tuple[str, str], int] = defaultdict(int)
    for _, recipient, currency, remaining, status, _, _ in holds:
        if status == Hold.Status.ACTIVE:
            owed[(recipient, currency)] += remaining
    if not owed:
        return problems
    held = {
        (owner, currency): total
        for owner, currency, total in Posting.objects.filter(
            account__owner__in=sorted({r for r, _ in owed}), account__purpose="held"
        )
        .values_list("account__owner", "account__currency")
        .annotate(t=Sum("amount"))
        .order_by()
    }
    for (recipient, currency), amount in sorted(owed.items()):
        have = held.get((recipient, currency), 0)
        if have < amount:
            problems.append(f"{recipient} holds {have} {currency} but its holds keep {amount}")
    return problems


def escrow_only_unclaimed(world: World, full: bool) -> list[str]:
    """Escrow is kept only for identities not yet on FairOSS, unclaimed projects and
    unverified projects (money rules 6 and 8). A run whose snapshot knew a claim credits the
    person directly; a run whose cutoff is after a project's verification credits nothing
    to its escrow and releases what waited there, unless a hold keeps it (held money stays
    until the ombudsman is done)."""
    problems = []
    balances = (
        Posting.objects.filter(account__purpose="escrow")
        .values_list("account__owner", "account__currency")
        .annotate(t=Sum("amount"))
        .filter(t__gt=0)
        .order_by("account__owner", "account__currency")
    )
    claimed_at = dict(ClaimedIdentity.objects.values_list("identity", "claimed_at"))
    waiting = set(
        Project.objects.filter(
            Q(status=Project.Status.UNCLAIMED) | Q(verified_at__isnull=True)
        ).values_list("slug", flat=True)
    )
    verified_at = dict(
        Project.objects.filter(verified_at__isnull=False).values_list("slug", "verified_at")
    )
    world.seen["verified_at"] = verified_at
    marks = world.seen.setdefault("snapshot_marks", {})
    for run_id in DistributionRun.objects.filter(
        status__in=("snapshot", "computed", "done")
    ).values_list("pk", flat=True):
        # The ledger as it was when the run took its snapshot (and released escrow): the
        # end of the step in which that happened (nothing after it in the step credits a
        # verified project's escrow, which _credited_after checks).
        marks.setdefault(run_id, world.seen["txn_now"])
    held_ever = set(
        Hold.objects.filter(pk__gt=world.baseline.get("hold", 0)).values_list(
            "recipient", flat=True
        )
    )
    for owner, currency, total in balances:
        kind, _, ident = owner.partition(":")
        if kind in ("user", "company", "purl", "platform") or ":" not in owner:
            problems.append(f"{owner} has escrow ({total} {currency})")
        elif kind == "project" and ident not in waiting:
            problems += _verified_escrow(world, owner, currency, total, held_ever)
        elif owner in claimed_at:
            problems += _credited_after(owner, claimed_at[owner], "claimed")
    for slug, since in sorted(verified_at.items()):
        problems += _credited_after(project_key(slug), since, "verified")
    return problems


def _verified_escrow(
    world: World, owner: str, currency: str, total: int, held_ever: set[str]
) -> list[str]:
    """A verified project's escrow: what it held when a run since the verification took its
    snapshot must have been released then (unless a hold kept it); a later credit (a reserve
    grant, a redirect) waits for the next run."""
    since = world.seen["verified_at"][owner.removeprefix("project:")]
    if owner in held_ever:
        return []
    runs = dict(
        DistributionRun.objects.filter(
            cutoff__gte=since, status__in=("snapshot", "computed", "done")
        ).values_list("pk", "cutoff")
    )
    if not runs:
        return []
    mark = max(world.seen["snapshot_marks"][pk] for pk in runs)
    before = (
        Posting.objects.filter(
            account__owner=owner,
            account__purpose="escrow",
            account__currency=currency,
            transaction_id__lte=mark,
        ).aggregate(t=Sum("amount"))["t"]
        or 0
    )
    if before > 0:
        return [
            f"verified project {owner} kept {before} {currency} of escrow through a run "
            f"since its verification (escrow now {total})"
        ]
    return []


def _credited_after(owner: str, since: Any, what: str) -> list[str]:
    """Escrow credits to ``owner`` by runs whose cutoff is at or after ``since``."""
    problems = []
    late = Posting.objects.filter(
        account__owner=owner,
        account__purpose="escrow",
        amount__gt=0,
        transaction__kind=LedgerTransaction.Kind.DISTRIBUTION,
        transaction__created_at__gt=since,
    ).values_list("transaction__reference", flat=True)
    for reference in late:
        run = DistributionRun.objects.filter(pk=int(reference.split(":")[1])).first()
        if run is not None and run.cutoff >= since:
            problems.append(f"{owner} was {what} before {reference}'s cutoff yet got escrow")
    return problems


def grants_match_ledger(world: World, full: bool) -> list[str]:
    """An executed reserve grant has exactly one ledger transaction, moving its amount out
    of the granting project's reserve to its recipient; any other grant moved nothing."""
    problems = []
    grants = list(
        ReserveGrant.objects.select_related("project").values_list(
            "pk", "status", "transaction_id", "amount", "currency", "recipient", "project__slug"
        )
    )
    txns = [g[2] for g in grants if g[2]]
    legs: dict[int, list[tuple[str, str, str, int]]] = defaultdict(list)
    for txn_id, owner, purpose, currency, amount in Posting.objects.filter(
        transaction_id__in=txns
    ).values_list(
        "transaction_id", "account__owner", "account__purpose", "account__currency", "amount"
    ):
        legs[txn_id].append((owner, purpose, currency, amount))
    keyed = set(
        LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.RESERVE_GRANT).values_list(
            "reference", flat=True
        )
    )
    for pk, status, txn_id, amount, currency, recipient, slug in grants:
        if status != ReserveGrant.Status.EXECUTED:
            if txn_id or f"reserve_grant:{pk}" in keyed:
                problems.append(f"grant {pk} is {status} but moved money")
            continue
        found = sorted(legs.get(txn_id or 0, []))
        want = (project_key(slug), "reserve", currency, -amount)
        if want not in found or not any(
            o == recipient and c == currency and a == amount for o, _, c, a in found
        ):
            problems.append(f"executed grant {pk} of {amount} {currency}: postings {found}")
    return problems


def _table(model: Any) -> str:
    return str(model._meta.db_table)


def fingerprint(world: World) -> dict[str, Any]:
    """What the checks read, condensed in one query (ids, statuses, digests of the rows),
    plus the local server's transfers. A check whose inputs have the same fingerprint as
    after the previous step would give the same answer, so it is not run again."""
    # Only table names (from the models) and fixed column lists are put into the text; the
    # seed's id baselines are parameters.
    digest = "md5(coalesce(string_agg({cols}, ',' ORDER BY id), ''))"

    def top(model: Any) -> str:
        return f"(SELECT coalesce(max(id), 0) FROM {_table(model)})"  # noqa: S608

    def agg(model: Any, cols: str, where: str = "TRUE") -> str:
        return f"(SELECT {digest.format(cols=cols)} FROM {_table(model)} WHERE {where})"  # noqa: S608

    sql = "SELECT " + ", ".join(
        [
            top(LedgerTransaction),
            top(TableVersion),
            agg(TableVersion, "id::text", "status = 'active'"),
            agg(Inflow, "concat_ws(':', id, run_id, amount, currency)"),
            agg(DistributionRun, "concat_ws(':', id, status, cutoff)"),
            top(RunAllocation),
            agg(
                Payout,
                "concat_ws(':', id, status, amount, destination, stripe_transfer_id, created_at)",
                "id > %(payout)s",
            ),
            agg(Hold, "concat_ws(':', id, status, remaining, ended_at)", "id > %(hold)s"),
            agg(ClaimedIdentity, "concat_ws(':', id, identity, claimed_at)"),
            agg(Project, "concat_ws(':', id, slug, status, verified_at)"),
            agg(ReserveGrant, "concat_ws(':', id, status, transaction_id)"),
        ]
    )
    params = {
        "payout": int(world.baseline.get("payout", 0)),
        "hold": int(world.baseline.get("hold", 0)),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    keys = (
        "txn",
        "version",
        "active",
        "inflows",
        "runs",
        "allocations",
        "payouts",
        "holds",
        "claims",
        "projects",
        "grants",
    )
    fp = dict(zip(keys, row, strict=True))
    fp["transfers"] = tuple(
        (t["id"], t["amount"], t["destination"], str(t["metadata"].get("faiross_payout", "")))
        for t in world.control.transfers()
    )
    return fp


# Each check and the fingerprint parts it reads.
CHECKS: tuple[tuple[Callable[[World, bool], list[str]], tuple[str, ...]], ...] = (
    (balanced, ("txn",)),
    (money_conserved, ("txn", "inflows", "runs", "allocations")),
    (non_negative, ("txn",)),
    (tables_within_full_share, ("version",)),
    (no_closed_cycle_active, ("version", "active")),
    (runs_recompute, ("runs", "projects")),
    (transfers_match_payouts, ("payouts", "transfers")),
    (held_not_paid, ("txn", "payouts", "holds")),
    (escrow_only_unclaimed, ("txn", "claims", "projects", "runs", "holds")),
    (grants_match_ledger, ("txn", "grants")),
)


def check_all(world: World, *, full: bool) -> list[str]:
    """Every invariant, after every step.

    After a step a check is skipped only when everything it reads is unchanged (same
    fingerprint), and the ledger and table checks look only at what the step added (both
    are append-only): the same answers as checking everything. ``full`` runs every check
    over everything and adds ``ledger_check`` (one query per inflow)."""
    fp = fingerprint(world)
    before = world.seen.get("fp", {})
    world.seen["txn_now"] = fp["txn"]
    problems = []
    for check, reads in CHECKS:
        if not full and before and all(before.get(k) == fp[k] for k in reads):
            continue
        problems += [f"{check.__name__}: {p}" for p in check(world, full)]
    if full:
        problems += ledger_check_command()
    world.seen["fp"] = fp
    world.seen["txn"] = fp["txn"]
    world.seen["version"] = fp["version"]
    return problems


# --- the ledger hash -------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+")


class _Canon:
    """Replaces database ids inside keys and references by their order of first appearance
    (per prefix), so the dump does not depend on sequence values."""

    def __init__(self) -> None:
        self.labels: dict[tuple[str, str], str] = {}

    def __call__(self, text: str) -> str:
        out, last = [], 0
        for m in _NUMBER.finditer(text):
            prefix = text[last : m.start()]
            ns = re.sub(r"\d+", "#", text[: m.start()])
            label = self.labels.setdefault((ns, m.group()), f"#{len(self.labels)}")
            out += [prefix, label]
            last = m.end()
        out.append(text[last:])
        return "".join(out)


def ledger_hash(world: World) -> str:
    """SHA-256 over the seed's ledger transactions (kind, key and reference with ids
    canonicalised) and their postings (owner, purpose, currency, amount), in order."""
    canon = _Canon()
    digest = hashlib.sha256()
    postings: dict[int, list[tuple[str, str, str, int]]] = defaultdict(list)
    base = world.baseline.get("txn", 0)
    for txn_id, owner, purpose, currency, amount in Posting.objects.filter(
        transaction_id__gt=base
    ).values_list(
        "transaction_id", "account__owner", "account__purpose", "account__currency", "amount"
    ):
        postings[txn_id].append((owner, purpose, currency, amount))
    for pk, kind, key, reference in (
        LedgerTransaction.objects.filter(pk__gt=base)
        .order_by("pk")
        .values_list("pk", "kind", "idempotency_key", "reference")
    ):
        line = [kind, canon(key), canon(reference), sorted(postings[pk])]
        digest.update(json.dumps(line, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()
