"""A distribution run's report: the figures stored with the run (totals, the largest
recipients, the nodes money passes through, the largest flows) and the server-side Sankey
diagram (SVG) of those flows on the run's page."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np
from django.core.cache import cache
from django.db import connection

from faiross.kernel.money import money_format
from payouts.distribution.graph import FlowGraph
from payouts.distribution.solve import Distribution

TOP_N = 50


def run_table_count(*, run_id: int) -> int:
    """How many tables run ``run_id``'s snapshot holds, without loading the snapshot (a few MB
    at 100,000 projects) into Python; cached for good once the snapshot exists (it never
    changes). 0 for a run without a snapshot yet."""
    key = f"run-tables:{run_id}"
    count = cache.get(key)
    if count is None and connection.vendor != "postgresql":
        # The embedded database (SQLite, demo sizes) has no jsonb: read the snapshot whole.
        from payouts.models import DistributionRun

        found = DistributionRun.objects.filter(pk=run_id).values_list("snapshot", flat=True)
        snapshot = found.first()
        if not snapshot:
            return 0
        count = len(snapshot.get("versions", {}))
        cache.set(key, count, timeout=None)
    elif count is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT snapshot IS NOT NULL, (SELECT count(*) FROM jsonb_object_keys("
                "COALESCE(snapshot -> 'versions', '{}'::jsonb))) "
                "FROM payouts_distributionrun WHERE id = %s",
                [run_id],
            )
            row = cursor.fetchone()
        if row is None or not row[0]:
            return 0
        count = int(row[1])
        cache.set(key, count, timeout=None)
    return int(count)


def run_report(
    *,
    graph: FlowGraph,
    distribution: Distribution,
    allocations: Mapping[tuple[str, str, str], int],
) -> dict[str, object]:
    """A run's report per currency (stored with the run): total, recipients, error bound,
    the largest recipients, the nodes with the most money passing through, the largest flows."""
    ids = graph.node_ids or ()
    report: dict[str, object] = {}
    for currency, result in distribution.currencies.items():
        largest = getattr(allocations, "largest", None)  # runs.Allocations: arrays, no list
        if largest is not None:
            top_recipients = largest(currency, TOP_N)
            recipients = allocations.count(currency)  # type: ignore[attr-defined]
        else:
            mine = [(v, o, p) for (o, p, c), v in allocations.items() if c == currency]
            top_recipients, recipients = heapq.nlargest(TOP_N, mine), len(mine)
        # Node indices follow sorted ids, so a stable sort breaks ties by id.
        order = np.argsort(-result.pass_through, kind="stable")[:TOP_N].tolist()
        nodes = [
            {
                "node": ids[i],
                "inflow": int(result.inflow[i]),
                "pass_through": int(result.pass_through[i]),
                "kept": int(result.kept[i]),
            }
            for i in order[:TOP_N]
            if result.pass_through[i] > 0
        ]
        report[currency] = {
            "total": result.total_cents,
            "recipients": recipients,
            "error_bound_cents": result.error_bound_cents,
            "top_recipients": [
                {"recipient": o, "purpose": p, "amount": v} for v, o, p in top_recipients
            ],
            "nodes": nodes,
            "flows": _top_flows(graph, result.pass_through, ids),
        }
    return report


def _top_flows(graph: FlowGraph, pass_through, ids) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """The largest edges (node → node or node → terminal) by money, for the Sankey diagram."""
    flows: list[tuple[float, str, str]] = []
    x = pass_through.astype(np.float64)
    terms = graph.terminal_ids or ()
    for i in np.argsort(-x, kind="stable")[: 4 * TOP_N]:
        if x[i] <= 0:
            break
        s, e = graph.node_indptr[i], graph.node_indptr[i + 1]
        for t, m in zip(
            graph.node_targets[s:e].tolist(), graph.node_millibips[s:e].tolist(), strict=True
        ):
            flows.append((x[i] * m / 1e7, ids[i], ids[t]))
        s, e = graph.terminal_indptr[i], graph.terminal_indptr[i + 1]
        for t, m in zip(
            graph.terminal_targets[s:e].tolist(),
            graph.terminal_millibips[s:e].tolist(),
            strict=True,
        ):
            flows.append((x[i] * m / 1e7, ids[i], terms[t]))
        reserve = graph.reserve_millibips[i]
        if reserve > 0:
            flows.append((x[i] * int(reserve) / 1e7, ids[i], f"{ids[i]} (reserve)"))
    flows.sort(key=lambda f: (-f[0], f[1], f[2]))
    return [{"source": s, "target": t, "amount": round(v)} for v, s, t in flows[:TOP_N] if v >= 0.5]


# --- the Sankey diagram ----------------------------------------------------------------------

WIDTH, NODE_W, PAD, ROW = 960, 14, 8, 16
MIN_HEIGHT = 420
LABEL_CHARS = 30  # names in the last column; inner columns' labels are shorter (next column)
INNER_CHARS = 20
PALETTE = ["#1f6f5c", "#2e8b72", "#7cc4ae", "#b9e0d2"]
OTHERS = "smaller flows"


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def sankey_svg(
    *,
    flows: Sequence[dict[str, object]],
    currency: str,
    names: Mapping[str, str] | None = None,
    through: Mapping[str, int] | None = None,
) -> str:
    """The run's largest flows as a Sankey diagram (SVG), amounts in money.

    ``names`` maps a key to what the page calls it (a project's name, "People paid by …");
    a key without one is shown as it is. ``through`` (node → money passed through, from the
    report's nodes) draws each of those nodes at its true width: what its drawn bands do not
    cover goes to one "smaller flows" band. Columns by distance from the companies; flows
    that go back (cycles) are left out of the drawing (the tables next to it list them).
    Labels are shortened to fit, with the full name and amount in the tooltip; the drawing
    is as tall as its columns need, so no label is cut off or drawn over another.
    """
    if not flows:
        return ""
    names = names or {}
    edges = [(str(f["source"]), str(f["target"]), float(f["amount"])) for f in flows]  # type: ignore[arg-type]
    nodes = {n for s, t, _ in edges for n in (s, t)}
    depth: dict[str, int] = {n: 0 for n in nodes if n.startswith("company:")}
    if not depth:
        depth = {edges[0][0]: 0}
    frontier = list(depth)
    while frontier:
        nxt = []
        for s, t, _ in edges:
            if s in frontier and t not in depth:
                depth[t] = depth[s] + 1
                nxt.append(t)
        frontier = nxt
    for n in nodes:
        depth.setdefault(n, 1)
    drawn = [(s, t, v) for s, t, v in edges if depth[t] > depth[s]]
    outgoing: dict[str, float] = defaultdict(float)
    for s, _, v in drawn:
        outgoing[s] += v
    for n, total in sorted((through or {}).items()):
        rest = float(total) - outgoing.get(n, 0.0)
        if n in depth and rest >= 1:  # a node of the drawing with money beyond its bands
            others = f"{n}\x00{OTHERS}"
            depth[others] = depth[n] + 1
            nodes.add(others)
            drawn.append((n, others, rest))
            outgoing[n] += rest
    incoming: dict[str, float] = defaultdict(float)
    for _, t, v in drawn:
        incoming[t] += v
    size = {n: max(outgoing[n], incoming[n]) for n in nodes}
    columns: dict[int, list[str]] = defaultdict(list)
    for n in sorted(nodes, key=lambda n: (depth[n], -size[n], n)):
        columns[depth[n]].append(n)
    height = max(MIN_HEIGHT, PAD + max(len(col) for col in columns.values()) * (ROW + PAD))
    n_cols = max(columns) + 1
    # Room for labels right of the last column; inner columns' labels sit over the bands.
    label_room = 7 * (LABEL_CHARS + 14)  # name · amount at 12px
    scale = min(
        (height - PAD * (len(col) + 1) - ROW * len(col)) / max(sum(size[n] for n in col), 1)
        for col in columns.values()
    )
    scale = max(scale, 0.0)
    x_of = {c: 10 + c * (WIDTH - label_room - NODE_W - 10) / max(n_cols - 1, 1) for c in columns}
    y_top: dict[str, float] = {}
    for col in columns.values():
        y: float = PAD
        for n in col:
            y_top[n] = y
            # Each node is at least one label row tall, so labels never overlap.
            y += max(size[n] * scale, ROW) + PAD
    out_off: dict[str, float] = defaultdict(float)
    in_off: dict[str, float] = defaultdict(float)

    def label(n: str) -> str:
        if "\x00" in n:
            return OTHERS
        return names.get(n, n)

    def money(v: float) -> str:
        return money_format(amount=round(v), currency=currency)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="Flow of {escape(currency.upper())} from companies to people" '
        f'class="sankey" style="width:100%;min-width:{WIDTH * 3 // 4}px;height:auto;'
        'font:12px system-ui,sans-serif">'
    ]
    for s, t, v in sorted(drawn, key=lambda e: (-e[2], e[0], e[1])):
        h = max(v * scale, 1.0)
        x0, x1 = x_of[depth[s]] + NODE_W, x_of[depth[t]]
        y0 = y_top[s] + out_off[s] + h / 2
        y1 = y_top[t] + in_off[t] + h / 2
        out_off[s] += h
        in_off[t] += h
        mid = (x0 + x1) / 2
        title = f"{escape(label(s))} → {escape(label(t))}: {escape(money(v))}"
        curve = f"M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        colour = "#c9ccd1" if "\x00" in t else PALETTE[min(depth[s], 3)]
        parts.append(
            f'<path d="{curve}" stroke="{colour}" stroke-opacity="0.45" '
            f'stroke-width="{h:.1f}" fill="none"><title>{title}</title></path>'
        )
    for n in sorted(nodes):
        x, y = x_of[depth[n]], y_top[n]
        h = max(size[n] * scale, 2)
        name = label(n)
        title = f"{escape(name)}: {escape(money(size[n]))}"
        chars = LABEL_CHARS if depth[n] == n_cols - 1 else INNER_CHARS
        text = f"{escape(_short(name, chars))} · {escape(money(size[n]))}"
        parts.append(
            f'<g><title>{title}</title><rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" '
            f'height="{h:.1f}" fill="{"#9aa0a6" if chr(0) in n else "#155245"}"/>'
            f'<text x="{x + NODE_W + 4:.1f}" y="{y + min(h, ROW) / 2 + 4:.1f}" '
            'paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round">'
            f"{text}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
