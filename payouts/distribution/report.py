"""A distribution run's report: the figures stored with the run (totals, the largest
recipients, the nodes money passes through, the largest flows) and the server-side Sankey
diagram (SVG) of those flows on the run's page."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

from faiross.kernel.money import money_format
from payouts.distribution.graph import FlowGraph
from payouts.distribution.solve import Distribution

TOP_N = 50


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
        mine = [(v, o, p) for (o, p, c), v in allocations.items() if c == currency]
        top_recipients = heapq.nlargest(TOP_N, mine)
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
            "recipients": len(mine),
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

WIDTH, HEIGHT, NODE_W, PAD = 900, 420, 14, 8
PALETTE = ["#1f6f5c", "#2e8b72", "#7cc4ae", "#b9e0d2"]


def sankey_svg(*, flows: Sequence[dict[str, object]], currency: str) -> str:
    """Columns by distance from the companies; flows that go back (cycles) are left out of
    the drawing (the table next to it lists them)."""
    if not flows:
        return ""
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
    columns: dict[int, list[str]] = defaultdict(list)
    for n in sorted(nodes, key=lambda n: (depth[n], n)):
        columns[depth[n]].append(n)
    size = defaultdict(float)
    outgoing: dict[str, float] = defaultdict(float)
    incoming: dict[str, float] = defaultdict(float)
    for s, t, v in drawn:
        outgoing[s] += v
        incoming[t] += v
    for n in nodes:
        size[n] = max(outgoing[n], incoming[n])
    n_cols = max(columns) + 1
    scale = min(
        (HEIGHT - PAD * (len(col) + 1)) / max(sum(size[n] for n in col), 1)
        for col in columns.values()
    )
    x_of = {c: 10 + c * (WIDTH - 220 - NODE_W) / max(n_cols - 1, 1) for c in columns}
    y_top: dict[str, float] = {}
    for col in columns.values():
        y: float = PAD
        for n in col:
            y_top[n] = y
            y += max(size[n] * scale, 2) + PAD
    out_off: dict[str, float] = defaultdict(float)
    in_off: dict[str, float] = defaultdict(float)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="Flow of {escape(currency.upper())} from companies to people" '
        'class="sankey" style="width:100%;height:auto;font:11px system-ui,sans-serif">'
    ]
    for s, t, v in sorted(drawn, key=lambda e: (-e[2], e[0], e[1])):
        h = max(v * scale, 0.5)
        x0, x1 = x_of[depth[s]] + NODE_W, x_of[depth[t]]
        y0 = y_top[s] + out_off[s] + h / 2
        y1 = y_top[t] + in_off[t] + h / 2
        out_off[s] += h
        in_off[t] += h
        mid = (x0 + x1) / 2
        amount = escape(money_format(amount=int(v), currency=currency))
        title = f"{escape(s)} → {escape(t)}: {amount}"
        curve = f"M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        parts.append(
            f'<path d="{curve}" stroke="{PALETTE[min(depth[s], 3)]}" stroke-opacity="0.35" '
            f'stroke-width="{h:.1f}" fill="none"><title>{title}</title></path>'
        )
    for n in nodes:
        x, y = x_of[depth[n]], y_top[n]
        h = max(size[n] * scale, 2)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{h:.1f}" fill="#155245">'
            f"<title>{escape(n)}</title></rect>"
            f'<text x="{x + NODE_W + 4:.1f}" y="{y + h / 2 + 4:.1f}">{escape(n[:40])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
