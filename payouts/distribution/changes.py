"""Why did it change: the difference between two runs for one recipient, explained by cause.

The method is sequential substitution with the real engine. Start from run A's snapshot and
swap in run B's parts one cause at a time, in a fixed order, computing the recipient's figure
with :func:`payouts.distribution.runs.run_compute` after each swap:

1. **claims**: an identity the recipient proved was claimed (or not) between the runs, so
   what tables give it is credited to the person instead of waiting in escrow;
2. **verification**: a project became verified (its table starts routing money, money rule 8)
   or stopped being so;
3. **table**: an owner's active table version changed (``table``), or the default table of a
   project without one changed because its known dependencies changed (``dependencies``);
4. **inflows**: a company paid more or less into the run (``inflows``), or a project's escrow
   was released into it (``escrow``).

Each line is the difference between two consecutive states, so the lines add up exactly to
``figure(B) - figure(A)`` as recomputed; what the stored run differs from that (largest
remainder rounding of the published flows, or a run computed by an older engine) is the
``rounding`` line. The order matters for how a combined change is attributed: structure
changes are valued at run A's money, money changes at run B's tables (said on the page).

The figure is what a person (``user:``, ``github:``, ``email:``) was credited, or what flowed
into a project or company (its pass-through: inflows plus what other tables passed to it).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Sum

from faiross.kernel.recipients import is_person_key, recipient_label, user_key
from faiross.kernel.shares import format_percent
from payouts.distribution.estimate import computed_figure
from payouts.distribution.runs import RELEASED_PREFIX, run_compute
from payouts.models import DistributionRun, LedgerTransaction, Posting, RunAllocation, RunFlow
from projects.cycles import ClosedCycleError
from projects.models import TableEntry, TableVersion

MAX_CAUSES = 40
"""At most this many causes are valued one by one; further ones of a kind are valued together."""
MAX_TABLES = 5_000
"""Runs above this many tables are not explained on demand (each cause recomputes the run)."""
CACHE_SECONDS = 7 * 24 * 3600  # done runs never change, so an explanation stays true
CACHE_VERSION = 1


class ChangeTooLarge(Exception):
    """A run is too large to be recomputed once per cause on a page view."""


def run_snapshot(run: DistributionRun) -> Mapping[str, Any]:
    """The run's snapshot. The only place this module reads it, so a change of how snapshots
    are stored is one edit here."""
    return run.snapshot or {}


@dataclass(frozen=True)
class Cause:
    kind: str  # claims | verification | table | dependencies | inflows | escrow | rounding
    subject: str  # the key the cause is about (company:, project:, github:, ...) or ""
    description: str
    amounts: dict[str, int]  # currency -> change in minor units (non-zero only)


@dataclass
class ChangeExplanation:
    recipient: str
    run_from: int
    run_to: int
    measure: str  # "credited" (a person) or "received" (a project or company)
    before: dict[str, int]
    after: dict[str, int]
    causes: list[Cause] = field(default_factory=list)
    rounding: dict[str, int] = field(default_factory=dict)
    without_effect: int = 0  # changes between the runs that did not move this figure
    # Escrow claimed between the runs: ledger transfers outside both runs, shown beside the
    # causes (not part of the sum): [{"identity", "currency", "amount"}].
    escrow_claimed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def currencies(self) -> list[str]:
        return sorted(set(self.before) | set(self.after))

    def delta(self, currency: str) -> int:
        return self.after.get(currency, 0) - self.before.get(currency, 0)

    def explained(self, currency: str) -> int:
        return sum(c.amounts.get(currency, 0) for c in self.causes)

    def rows(self) -> list[dict[str, object]]:
        """Per currency: before, after, delta, explained by causes, rounding (adds up)."""
        return [
            {
                "currency": c,
                "before": self.before.get(c, 0),
                "after": self.after.get(c, 0),
                "delta": self.delta(c),
                "explained": self.explained(c),
                "rounding": self.rounding.get(c, 0),
            }
            for c in self.currencies
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "from": self.run_from,
            "to": self.run_to,
            "measure": self.measure,
            "currencies": self.rows(),
            "causes": [
                {
                    "kind": c.kind,
                    "subject": c.subject,
                    "description": c.description,
                    "currency": currency,
                    "amount": amount,
                }
                for c in self.causes
                for currency, amount in sorted(c.amounts.items())
            ],
            "without_effect": self.without_effect,
            "escrow_claimed": self.escrow_claimed,
        }


# --- the figure ------------------------------------------------------------------------------


def _figure(snapshot: Mapping[str, Any], *, recipient: str) -> dict[str, int]:
    """The recipient's figure per currency under ``snapshot``, by the real engine."""
    return computed_figure(run_compute(snapshot), recipient=recipient)


def _stored_figure(run: DistributionRun, *, recipient: str) -> dict[str, int] | None:
    """What the run itself recorded for the recipient: its allocations (a person), or the
    published flows into it (a project or company); None when the run published no flows."""
    if is_person_key(recipient):
        rows = (
            RunAllocation.objects.filter(run=run, recipient=recipient)
            .values("currency")
            .annotate(t=Sum("amount"))
        )
        return {r["currency"]: int(r["t"]) for r in rows if r["t"]}
    if not RunFlow.objects.filter(run=run).exists():
        return None
    flows = (
        RunFlow.objects.filter(run=run, target=recipient)
        .values("currency")
        .annotate(t=Sum("amount"))
    )
    return {r["currency"]: int(r["t"]) for r in flows if r["t"]}


def _escrow_claimed(
    run_a: DistributionRun, run_b: DistributionRun, *, recipient: str
) -> list[dict[str, Any]]:
    """Escrow moved by claims between the two runs' ends, as the recipient's account saw it
    (credited to a person, taken from an identity's escrow)."""
    if not is_person_key(recipient) or run_a.finished_at is None or run_b.finished_at is None:
        return []
    low, high = sorted((run_a.finished_at, run_b.finished_at))
    rows = (
        Posting.objects.filter(
            account__owner=recipient,
            transaction__kind=LedgerTransaction.Kind.CLAIM,
            transaction__reference__startswith="claim:",
            transaction__created_at__gt=low,
            transaction__created_at__lte=high,
        )
        .values("transaction__reference", "currency")
        .annotate(t=Sum("amount"))
        .order_by("transaction__reference", "currency")
    )
    return [
        {
            "identity": r["transaction__reference"].removeprefix("claim:"),
            "currency": r["currency"],
            "amount": int(r["t"]),
        }
        for r in rows
        if r["t"]
    ]


# --- the causes ------------------------------------------------------------------------------

Step = tuple[str, str, str, Callable[[dict[str, Any]], None]]
"""(kind, subject, description, apply): ``apply`` swaps run B's part into a state."""


def _name(key: str) -> str:
    """A key named for a sentence; only public keys and the recipient's own appear here."""
    return recipient_label(key, reveal=True)


def _money(amount: int, currency: str) -> str:
    from faiross.kernel.money import money_format

    return money_format(amount=amount, currency=currency)


def _claim_steps(a: Mapping[str, Any], b: Mapping[str, Any], *, recipient: str) -> list[Step]:
    claims_a, claims_b = a.get("claims", {}), b.get("claims", {})
    steps: list[Step] = []
    for identity in sorted(set(claims_a) | set(claims_b)):
        before, after = claims_a.get(identity), claims_b.get(identity)
        if before == after:
            continue
        mine = recipient in (identity, *(user_key(u) for u in (before, after) if u))
        if not mine:
            continue  # another person's claim never moves this recipient's money
        if after:
            text = (
                f"{_name(identity)} was claimed: what tables give it is credited to its "
                "owner, not kept in escrow"
            )
        else:
            text = f"{_name(identity)} is no longer claimed: what tables give it waits in escrow"

        def apply(state: dict[str, Any], identity: str = identity, after: str | None = after):
            if after is None:
                state["claims"].pop(identity, None)
            else:
                state["claims"][identity] = after

        steps.append(("claims", identity, text, apply))
    return steps


def _verification_steps(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Step]:
    def waiting(s: Mapping[str, Any]) -> set[str]:
        return set(s.get("unverified", ())) | set(s.get("unclaimed", ()))

    steps: list[Step] = []
    wait_a, wait_b = waiting(a), waiting(b)
    for key in sorted(wait_a ^ wait_b):
        text = (
            f"{_name(key)} was verified: its table now passes money on (before, it was "
            "kept in escrow)"
            if key in wait_a
            else f"{_name(key)} is not verified at the later run: what reaches it is kept in "
            "its escrow"
        )

        def apply(state: dict[str, Any], key: str = key) -> None:
            for part in ("unverified", "unclaimed"):
                values = set(state.get(part, ())) - {key}
                if key in b.get(part, ()):
                    values.add(key)
                state[part] = sorted(values)

        steps.append(("verification", key, text, apply))
    return steps


def _project_recipients(entries: Mapping[str, int]) -> set[str]:
    return {r for r in entries if r.startswith("project:")}


def _table_steps(a: Mapping[str, Any], b: Mapping[str, Any], *, recipient: str) -> list[Step]:
    versions_a, versions_b = a.get("versions", {}), b.get("versions", {})
    defaults_a, defaults_b = a.get("defaults", {}), b.get("defaults", {})
    owners = sorted(
        {o for o in set(versions_a) | set(versions_b) if versions_a.get(o) != versions_b.get(o)}
        | {o for o in set(defaults_a) | set(defaults_b) if defaults_a.get(o) != defaults_b.get(o)}
    )
    version_ids = {
        v for o in owners for v in (versions_a.get(o), versions_b.get(o)) if v is not None
    }
    numbers = dict(TableVersion.objects.filter(pk__in=version_ids).values_list("pk", "number"))
    entries: dict[int, dict[str, int]] = defaultdict(dict)
    for version_id, who, millibips in TableEntry.objects.filter(
        version_id__in=version_ids
    ).values_list("version_id", "recipient", "millibips"):
        entries[version_id][who] = millibips

    def table_of(versions: Mapping[str, int], defaults: Mapping[str, Any], owner: str):
        if owner in versions:
            return entries.get(versions[owner], {})
        return defaults.get(owner, {})

    steps: list[Step] = []
    for owner in owners:
        va, vb = versions_a.get(owner), versions_b.get(owner)
        before = table_of(versions_a, defaults_a, owner)
        after = table_of(versions_b, defaults_b, owner)
        kind = "table" if va is not None or vb is not None else "dependencies"
        if kind == "table":
            name_a = f"version {numbers[va]}" if va in numbers else "its default table"
            name_b = f"version {numbers[vb]}" if vb in numbers else "its default table"
            parts = [f"Table of {_name(owner)}: {name_a} → {name_b}"]
        else:
            parts = [f"Dependencies of {_name(owner)} changed (its default table)"]
        added = sorted(_project_recipients(after) - _project_recipients(before))
        removed = sorted(_project_recipients(before) - _project_recipients(after))
        if added:
            parts.append("adds " + ", ".join(map(_name, added)))
        if removed:
            parts.append("removes " + ", ".join(map(_name, removed)))
        share_a, share_b = before.get(recipient, 0), after.get(recipient, 0)
        if share_a != share_b:
            parts.append(
                f"the entry for {_name(recipient)}: {format_percent(millibips=share_a)} → "
                f"{format_percent(millibips=share_b)}"
            )

        def apply(state: dict[str, Any], owner: str = owner) -> None:
            for part, source in (("versions", versions_b), ("defaults", defaults_b)):
                if owner in source:
                    state[part][owner] = source[owner]
                else:
                    state[part].pop(owner, None)

        steps.append((kind, owner, "; ".join(parts), apply))
    return steps


def _inflow_steps(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Step]:
    def by_owner(s: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
        out: dict[str, list[list[Any]]] = defaultdict(list)
        for row in s.get("inflows", []):
            out[str(row[1])].append(list(row))
        return out

    rows_a, rows_b = by_owner(a), by_owner(b)
    steps: list[Step] = []
    for owner in sorted(set(rows_a) | set(rows_b)):

        def totals(rows: list[list[Any]]) -> dict[str, int]:
            out: dict[str, int] = defaultdict(int)
            for row in rows:
                out[str(row[2])] += int(row[3])
            return out

        ta, tb = totals(rows_a.get(owner, [])), totals(rows_b.get(owner, []))
        released = any(
            isinstance(r[0], str) and r[0].startswith(RELEASED_PREFIX)
            for r in rows_a.get(owner, []) + rows_b.get(owner, [])
        )
        money = "; ".join(
            f"{_money(tb.get(c, 0), c)} (before: {_money(ta.get(c, 0), c)})"
            for c in sorted(set(ta) | set(tb))
        )
        if released:
            kind, text = "escrow", f"Escrow of {_name(owner)} released into the run: {money}"
        else:
            kind, text = "inflows", f"Money in from {_name(owner)}: {money}"

        def apply(state: dict[str, Any], owner: str = owner) -> None:
            kept = [r for r in state["inflows"] if str(r[1]) != owner]
            state["inflows"] = kept + rows_b.get(owner, [])

        steps.append((kind, owner, text, apply))
    return steps


def _grouped(steps: list[Step]) -> list[Step]:
    """Value the first ``MAX_CAUSES`` causes one by one, the rest together per kind."""
    if len(steps) <= MAX_CAUSES:
        return steps
    head, tail = steps[:MAX_CAUSES], steps[MAX_CAUSES:]
    by_kind: dict[str, list[Step]] = defaultdict(list)
    for step in tail:
        by_kind[step[0]].append(step)
    for kind, group in by_kind.items():

        def apply(state: dict[str, Any], group: list[Step] = group) -> None:
            for _, _, _, one in group:
                one(state)

        head.append((kind, "", f"{len(group)} further changes of this kind, together", apply))
    return head


# --- the explanation -------------------------------------------------------------------------


def _diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {
        c: after.get(c, 0) - before.get(c, 0)
        for c in sorted(set(after) | set(before))
        if after.get(c, 0) != before.get(c, 0)
    }


def _upstream(a: Mapping[str, Any], b: Mapping[str, Any], *, recipient: str) -> set[str]:
    """Every owner whose table or money can reach the recipient in run A, run B or any mix of
    the two (the union of both runs' entries). A cause about another owner cannot change
    what flows into a project; for a person it can only move a cent of largest-remainder
    rounding, which then shows in the next cause that is valued."""
    targets = {recipient}
    for claims in (a.get("claims", {}), b.get("claims", {})):
        targets |= {i for i, user in claims.items() if user_key(user) == recipient}
    version_ids = set(a.get("versions", {}).values()) | set(b.get("versions", {}).values())
    payers: dict[str, set[str]] = defaultdict(set)
    owner_of: dict[int, set[str]] = defaultdict(set)
    for snap in (a, b):
        for owner, version_id in snap.get("versions", {}).items():
            owner_of[version_id].add(owner)
        for owner, entries in snap.get("defaults", {}).items():
            for who in entries:
                payers[who].add(owner)
    rows = TableEntry.objects.filter(version_id__in=version_ids).values_list(
        "version_id", "recipient"
    )
    for version_id, who in rows.iterator(chunk_size=20_000):
        payers[who] |= owner_of[version_id]
    seen: set[str] = set()
    frontier = list(targets)
    while frontier:
        node = frontier.pop()
        for owner in payers.get(node, ()):
            if owner not in seen:
                seen.add(owner)
                frontier.append(owner)
    return seen


def _explain(
    run_a: DistributionRun, run_b: DistributionRun, *, recipient: str
) -> ChangeExplanation:
    a, b = run_snapshot(run_a), run_snapshot(run_b)
    for snap in (a, b):
        if len(snap.get("versions", {})) > MAX_TABLES:
            raise ChangeTooLarge(f"runs of more than {MAX_TABLES:,} tables are not explained here")
    state: dict[str, Any] = copy.deepcopy(dict(a))
    for part in ("claims", "versions", "defaults"):
        state.setdefault(part, {})
    state.setdefault("inflows", [])
    person = is_person_key(recipient)
    # Claims of other identities cannot move this figure (a claim only renames a terminal),
    # so they are taken from run B at once; a project's inflow does not depend on claims.
    relevant = {s[1] for s in _claim_steps(a, b, recipient=recipient)} if person else set()
    state["claims"] = {i: u for i, u in b.get("claims", {}).items() if i not in relevant} | {
        i: u for i, u in a.get("claims", {}).items() if i in relevant
    }
    upstream = _upstream(a, b, recipient=recipient)
    steps: list[Step] = []
    unrelated: list[Step] = []
    for family in (
        _verification_steps(a, b),
        _table_steps(a, b, recipient=recipient),
        _inflow_steps(a, b),
    ):
        steps += _grouped([s for s in family if s[1] in upstream])
        unrelated += [s for s in family if s[1] not in upstream]
    if person:
        steps = _claim_steps(a, b, recipient=recipient) + steps
    # Changes upstream of nothing the recipient gets are applied without valuing them,
    # unless mixing them into run A's tables closes a cycle: then they are valued in turn.
    start = copy.deepcopy(state)
    for step in unrelated:
        step[3](state)
    try:
        base = _figure(state, recipient=recipient)
    except ClosedCycleError:
        state, steps, unrelated = start, steps + _grouped(unrelated), []
        base = _figure(state, recipient=recipient)
    current = base
    causes: list[Cause] = []
    without_effect = len(unrelated)
    pending: list[Step] = []  # steps whose state alone has a closed cycle: valued with the next
    for step in steps:
        step[3](state)
        pending.append(step)
        try:
            figure = _figure(state, recipient=recipient)
        except ClosedCycleError:
            continue
        change = _diff(figure, current)
        current = figure
        if len(pending) == 1:
            kind, subject, text = step[0], step[1], step[2]
        else:
            kind, subject = pending[0][0], ""
            text = " + ".join(p[2] for p in pending) + " (valued together)"
        pending = []
        if change:
            causes.append(Cause(kind=kind, subject=subject, description=text, amounts=change))
        else:
            without_effect += 1
    if pending:  # run B's own snapshot computed, so its full state cannot have a closed cycle
        raise RuntimeError("the last state of a change explanation did not compute")
    stored_a = _stored_figure(run_a, recipient=recipient)
    stored_b = _stored_figure(run_b, recipient=recipient)
    before = base if stored_a is None else stored_a
    after = current if stored_b is None else stored_b
    explanation = ChangeExplanation(
        recipient=recipient,
        run_from=run_a.pk,
        run_to=run_b.pk,
        measure="credited" if person else "received",
        before=before,
        after=after,
        causes=causes,
        without_effect=without_effect,
        escrow_claimed=_escrow_claimed(run_a, run_b, recipient=recipient),
    )
    explanation.rounding = {
        c: explanation.delta(c) - explanation.explained(c)
        for c in explanation.currencies
        if explanation.delta(c) != explanation.explained(c)
    }
    return explanation


def done_runs() -> list[DistributionRun]:
    """Done runs, newest first (the runs one can compare)."""
    return list(DistributionRun.objects.filter(status=DistributionRun.Status.DONE).order_by("-pk"))


def default_runs(*, run_from: int | None, run_to: int | None) -> tuple[int, int] | None:
    """``(from, to)`` with the defaults filled in: ``to`` the latest done run, ``from`` the
    done run before ``to``. None when there are not two done runs to compare."""
    done = DistributionRun.objects.filter(status=DistributionRun.Status.DONE)
    if run_to is None:
        run_to = done.order_by("-pk").values_list("pk", flat=True).first()
        if run_to is None:
            return None
    if run_from is None:
        run_from = done.filter(pk__lt=run_to).order_by("-pk").values_list("pk", flat=True).first()
        if run_from is None:
            return None
    return run_from, run_to


def run_change_explain(*, recipient: str, run_a: int, run_b: int) -> ChangeExplanation:
    """Explain by cause how ``recipient``'s figure changed from done run ``run_a`` to done run
    ``run_b`` (see the module docstring for the method).

    Preconditions: both runs are done (else ``DistributionRun.DoesNotExist``); the caller
    checked that the viewer may see the recipient's money (money rule 9); both snapshots have
    at most ``MAX_TABLES`` tables (else :class:`ChangeTooLarge`).
    Invariant: per currency, ``sum(cause amounts) + rounding == after - before`` exactly.
    Cached, since done runs never change.
    """
    key = f"faiross:changes:v{CACHE_VERSION}:{run_a}:{run_b}:{recipient}"
    cached = cache.get(key)
    if cached is not None:
        return _from_cache(cached)
    runs = DistributionRun.objects.in_bulk([run_a, run_b])
    first, second = runs.get(run_a), runs.get(run_b)
    done = DistributionRun.Status.DONE
    if first is None or second is None or first.status != done or second.status != done:
        raise DistributionRun.DoesNotExist("both runs must be done")
    explanation = _explain(first, second, recipient=recipient)
    cache.set(key, _to_cache(explanation), CACHE_SECONDS)
    return explanation


def _to_cache(e: ChangeExplanation) -> dict[str, Any]:
    data = asdict(e)
    return data


def _from_cache(data: dict[str, Any]) -> ChangeExplanation:
    causes = [Cause(**c) for c in data.pop("causes")]
    return ChangeExplanation(**data, causes=causes)


__all__ = [
    "Cause",
    "ChangeExplanation",
    "ChangeTooLarge",
    "default_runs",
    "done_runs",
    "run_change_explain",
    "run_snapshot",
]
