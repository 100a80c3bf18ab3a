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
from django.db.models import Sum

from disputes.models import Hold
from faiross.kernel.shares import FULL_SHARE
from payouts.connect._common import _stripe
from payouts.distribution.explain import run_recompute
from payouts.models import (
    ClaimedIdentity,
    DistributionRun,
    Inflow,
    LedgerTransaction,
    Payout,
    Posting,
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


def balanced(world: World) -> list[str]:
    rows = (
        Posting.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    )
    return [
        f"transaction {r['transaction_id']} unbalanced in {r['currency']}: {r['total']}"
        for r in rows
    ]


def money_conserved(world: World) -> list[str]:
    """Money in = distributed + undistributed, to the cent, per currency; each done run's
    allocations equal its inflows; the pool holds exactly the undistributed inflows."""
    problems = []
    done = set(DistributionRun.objects.filter(status="done").values_list("pk", flat=True))
    received: dict[str, int] = defaultdict(int)
    undistributed: dict[str, int] = defaultdict(int)
    per_run_in: dict[tuple[int, str], int] = defaultdict(int)
    for run_id, currency, amount in Inflow.objects.values_list("run_id", "currency", "amount"):
        received[currency] += amount
        if run_id in done:
            per_run_in[(run_id, currency)] += amount
        else:
            undistributed[currency] += amount
    distributed: dict[str, int] = defaultdict(int)
    per_run_out: dict[tuple[int, str], int] = defaultdict(int)
    for run_id, currency, amount in RunAllocation.objects.filter(run_id__in=done).values_list(
        "run_id", "currency", "amount"
    ):
        distributed[currency] += amount
        per_run_out[(run_id, currency)] += amount
    for currency in sorted(set(received) | set(distributed)):
        if received[currency] != distributed[currency] + undistributed[currency]:
            problems.append(
                f"{currency}: inflows {received[currency]} != distributed "
                f"{distributed[currency]} + undistributed {undistributed[currency]}"
            )
    for key in sorted(set(per_run_in) | set(per_run_out)):
        if per_run_in[key] != per_run_out[key]:
            problems.append(
                f"run {key[0]} {key[1]}: allocations {per_run_out[key]} "
                f"!= inflows {per_run_in[key]}"
            )
    pool = dict(
        Posting.objects.filter(account__owner="platform", account__purpose="pool")
        .values_list("currency")
        .annotate(t=Sum("amount"))
    )
    for currency in sorted(set(pool) | set(undistributed)):
        if pool.get(currency, 0) != undistributed[currency]:
            problems.append(
                f"{currency}: the pool holds {pool.get(currency, 0)}, undistributed inflows are "
                f"{undistributed[currency]}"
            )
    return problems


def non_negative(world: World) -> list[str]:
    rows = (
        Posting.objects.filter(account__purpose__in=NON_NEGATIVE)
        .values("account__owner", "account__purpose", "account__currency")
        .annotate(total=Sum("amount"))
        .filter(total__lt=0)
    )
    return [
        f"{r['account__owner']}/{r['account__purpose']}/{r['account__currency']} is {r['total']}"
        for r in rows
    ]


def tables_within_full_share(world: World) -> list[str]:
    problems = []
    sums = dict(
        TableEntry.objects.values_list("version_id").annotate(t=Sum("millibips")).order_by()
    )
    for pk, reserve in TableVersion.objects.values_list("pk", "reserve_millibips"):
        total = sums.get(pk, 0)
        if total > FULL_SHARE or reserve < 0 or total + reserve != FULL_SHARE:
            problems.append(f"table version {pk}: entries {total}, reserve {reserve}")
    if TableEntry.objects.filter(millibips__lte=0).exists():
        problems.append("a table entry with zero or negative millibips")
    return problems


def no_closed_cycle_active(world: World) -> list[str]:
    """No set of projects whose active tables send everything to each other (money rule 5)."""
    active = TableVersion.objects.filter(status=TableVersion.Status.ACTIVE).select_related("table")
    edges: dict[str, set[str]] = {}
    exits: set[str] = set()
    for version in active:
        owner = version.table.owner_key
        if not owner.startswith("project:"):
            continue
        targets = set()
        for recipient in version.entries.values_list("recipient", flat=True):
            if recipient.startswith("project:"):
                targets.add(recipient)
            else:
                exits.add(owner)  # a person or an identity keeps money
        if version.reserve_millibips > 0:
            exits.add(owner)
        edges[owner] = targets
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


def runs_recompute(world: World) -> list[str]:
    """A done run recomputed from its snapshot gives the same cents as its allocations."""
    problems = []
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
        world.recomputed_runs.add(run.pk)
    return problems


def transfers_match_payouts(world: World) -> list[str]:
    """One Stripe transfer per sent payout, none for a failed one, none without a payout."""
    base = world.baseline.get("payout", 0)
    payouts = {p.pk: p for p in Payout.objects.filter(pk__gt=base)}
    if not payouts and not world.baseline.get("transfers_seen"):
        return []
    world.baseline["transfers_seen"] = 1
    by_payout: dict[int, list[Any]] = defaultdict(list)
    problems = []
    for transfer in _stripe().v1.transfers.list(params={"limit": 100}).auto_paging_iter():
        meta = transfer.metadata.to_dict() if transfer.metadata else {}
        ref = str(meta.get("faiross_payout", ""))
        if not ref.isdigit() or int(ref) not in payouts:
            problems.append(f"transfer {transfer.id} has no payout (metadata {ref!r})")
            continue
        by_payout[int(ref)].append(transfer)
    for pk, payout in sorted(payouts.items()):
        found = by_payout.get(pk, [])
        if len(found) > 1:
            problems.append(f"payout {pk} has {len(found)} transfers")
        if payout.status == "sent" and len(found) != 1:
            problems.append(f"sent payout {pk} has {len(found)} transfers")
        if payout.status == "failed" and found:
            problems.append(f"failed payout {pk} has a transfer")
        for t in found:
            if int(t.amount) != payout.amount or t.destination != payout.destination:
                problems.append(f"payout {pk}: transfer {t.id} of {t.amount} to {t.destination}")
        if payout.status == "sent" and found and payout.stripe_transfer_id != found[0].id:
            problems.append(f"payout {pk} records transfer {payout.stripe_transfer_id}")
    return problems


def held_not_paid(world: World) -> list[str]:
    """No payout is created for a recipient while one of its holds is active; the held
    balance covers the active holds."""
    problems = []
    holds = list(Hold.objects.filter(pk__gt=world.baseline.get("hold", 0)).order_by("pk"))
    recipients = sorted({h.recipient for h in holds if h.recipient.startswith("user:")})
    for payout in Payout.objects.filter(
        recipient__in=recipients, pk__gt=world.baseline.get("payout", 0)
    ).order_by("pk"):
        for hold in holds:
            if hold.recipient != payout.recipient:
                continue
            if hold.created_at <= payout.created_at and (
                hold.ended_at is None or payout.created_at < hold.ended_at
            ):
                problems.append(
                    f"payout {payout.pk} to {payout.recipient} created while hold {hold.pk} "
                    "was active"
                )
    owed: dict[tuple[str, str], int] = defaultdict(int)
    for hold in holds:
        if hold.status == Hold.Status.ACTIVE:
            owed[(hold.recipient, hold.currency)] += hold.remaining
    for (recipient, currency), amount in sorted(owed.items()):
        held = (
            Posting.objects.filter(
                account__owner=recipient, account__purpose="held", account__currency=currency
            ).aggregate(t=Sum("amount"))["t"]
            or 0
        )
        if held < amount:
            problems.append(f"{recipient} holds {held} {currency} but its holds keep {amount}")
    return problems


def escrow_only_unclaimed(world: World) -> list[str]:
    """Escrow is kept only for identities not yet on FairOSS and unclaimed projects; a run
    whose snapshot knew a claim credits the person directly."""
    problems = []
    balances = (
        Posting.objects.filter(account__purpose="escrow")
        .values_list("account__owner", "account__currency")
        .annotate(t=Sum("amount"))
        .filter(t__gt=0)
        .order_by("account__owner", "account__currency")
    )
    claimed_at = dict(ClaimedIdentity.objects.values_list("identity", "claimed_at"))
    unclaimed = set(
        Project.objects.filter(status=Project.Status.UNCLAIMED).values_list("slug", flat=True)
    )
    for owner, currency, total in balances:
        kind, _, ident = owner.partition(":")
        if kind in ("user", "company", "purl", "platform") or ":" not in owner:
            problems.append(f"{owner} has escrow ({total} {currency})")
        elif kind == "project" and ident not in unclaimed:
            problems.append(f"claimed project {owner} has escrow ({total} {currency})")
        elif owner in claimed_at:
            late = Posting.objects.filter(
                account__owner=owner,
                account__purpose="escrow",
                amount__gt=0,
                transaction__kind=LedgerTransaction.Kind.DISTRIBUTION,
                transaction__created_at__gt=claimed_at[owner],
            ).values_list("transaction__reference", flat=True)
            for reference in late:
                run = DistributionRun.objects.filter(pk=int(reference.split(":")[1])).first()
                if run is not None and run.cutoff >= claimed_at[owner]:
                    problems.append(
                        f"{owner} was claimed before {reference}'s cutoff yet got escrow"
                    )
    return problems


CHECKS: tuple[Callable[[World], list[str]], ...] = (
    balanced,
    money_conserved,
    non_negative,
    tables_within_full_share,
    no_closed_cycle_active,
    runs_recompute,
    transfers_match_payouts,
    held_not_paid,
    escrow_only_unclaimed,
)


def check_all(world: World, *, full: bool) -> list[str]:
    """Every invariant; ``full`` adds ``ledger_check`` (one query per inflow)."""
    problems = []
    for check in CHECKS:
        problems += [f"{check.__name__}: {p}" for p in check(world)]
    if full:
        problems += ledger_check_command()
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
