"""A run that has not happened: the engine on today's tables with money that is expected, not
received (the forecast in :mod:`companies.forecast` supplies the money). Nothing is written.

Also the one reading of "a recipient's figure" that both the forecast and
:mod:`payouts.distribution.changes` use: what a person is credited, or what flows into a
project or company (its pass-through).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from faiross.kernel.recipients import is_person_key, project_key
from payouts.distribution.runs import Computed, _snapshot_at, run_compute
from payouts.holds import held_recipients
from payouts.models import Account, Posting
from projects.models import Project


def allocation_rows(
    allocations: Mapping[tuple[str, str, str], int],
) -> Iterable[tuple[str, str, str, int]]:
    """(owner, purpose, currency, cents) of a run's allocations, without building a dict
    when the engine hands them over as arrays (they then have ``rows()``)."""
    rows = getattr(allocations, "rows", None)
    if callable(rows):
        return rows()  # type: ignore[no-any-return]
    return ((o, p, c, v) for (o, p, c), v in allocations.items())


def computed_figure(computed: Computed, *, recipient: str) -> dict[str, int]:
    """``{currency: minor units}``: what a person (``user:``, ``github:``, ``email:``) is
    credited, or what flows into a project or company node (inflows plus what other tables
    pass to it; revisits through cycles counted each time). Non-zero currencies only."""
    out: dict[str, int] = defaultdict(int)
    if is_person_key(recipient):
        for owner, _purpose, currency, cents in allocation_rows(computed.allocations):
            if owner == recipient:
                out[currency] += cents
        return {c: v for c, v in out.items() if v}
    nodes = computed.graph.node_ids or ()
    i = bisect.bisect_left(nodes, recipient)  # node ids are sorted
    if i == len(nodes) or nodes[i] != recipient:
        return {}
    for currency, result in computed.distribution.currencies.items():
        value = int(result.pass_through[i])
        if value:
            out[currency] = value
    return dict(out)


def all_figures(computed: Computed) -> dict[str, dict[str, int]]:
    """:func:`computed_figure` of every person and node at once (one pass)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for owner, _purpose, currency, cents in allocation_rows(computed.allocations):
        if cents and is_person_key(owner):
            out[owner][currency] = out[owner].get(currency, 0) + cents
    nodes = computed.graph.node_ids or ()
    for currency, result in computed.distribution.currencies.items():
        for i in result.pass_through.nonzero()[0].tolist():
            out[nodes[i]][currency] = int(result.pass_through[i])
    return dict(out)


def escrow_to_release() -> list[tuple[str, str, int]]:
    """``[(project key, currency, amount)]``: escrow of verified projects that the next run's
    snapshot would release into the graph (as ``runs._escrow_release`` does, without posting),
    held projects excluded."""
    rows = (
        Posting.objects.filter(
            account__purpose=Account.Purpose.ESCROW,
            account__owner__startswith=project_key(""),
        )
        .values("account__owner", "account__currency")
        .annotate(total=Sum("amount"))
        .filter(total__gt=0)
    )
    slugs = {r["account__owner"].removeprefix(project_key("")) for r in rows}
    verified = {
        project_key(s)
        for s in Project.objects.filter(slug__in=slugs, verified_at__isnull=False).values_list(
            "slug", flat=True
        )
    }
    held = held_recipients() if verified else set()
    return sorted(
        (r["account__owner"], r["account__currency"], int(r["total"]))
        for r in rows
        if r["account__owner"] in verified and r["account__owner"] not in held
    )


def estimate_compute(*, inflows: Iterable[tuple[str, str, int]]) -> Computed:
    """The engine on the tables active now (versions, default tables, claims, verification:
    the same snapshot rules as a run) with ``inflows`` ``(owner key, currency, amount)``
    entering the graph. Pure read; positive amounts only."""
    rows: Sequence[list[Any]] = [
        [i, owner, currency, int(amount)]
        for i, (owner, currency, amount) in enumerate(inflows)
        if amount > 0
    ]
    snapshot: Mapping[str, Any] = _snapshot_at(cutoff=timezone.now(), inflows=list(rows))
    return run_compute(snapshot)
