"""The money boxes of a project page (projects cannot import payouts, so the page reaches
them through these tags):

``{% load project_money_tags %}{% project_funders project %}``: who funds the project, by
period, companies directly and through other projects;
``{% project_money_chart project %}``: money in, passed on, kept and paid to people per run,
as an inline SVG chart with the same figures as a table.

Both read :func:`payouts.project_money.project_money` (project-level, public, cached).
"""

from __future__ import annotations

from typing import Any

from django import template

from faiross.kernel.money import money_format
from faiross.kernel.recipients import recipient_split
from payouts import project_money as pm
from projects.models import Project

register = template.Library()

SERIES = (
    ("money_in", "Money in", "in"),
    ("passed_on", "Passed on to dependencies", "passed"),
    ("kept", "Kept (reserve or escrow)", "kept"),
    ("to_people", "Paid to people", "people"),
)
CHART_HEIGHT = 120
BAR_WIDTH = 7
GROUP_GAP = 10
LEFT = 4
TOP = 8
FUNDER_LINES_PER_PERIOD = 10
PERIODS_SHOWN = 6
MIN_GROUPS = 8


def _origin_label(origin: str) -> str:
    if origin == pm.ESCROW_RELEASED:
        return "Released from its escrow (money of earlier runs)"
    if origin == pm.UNTRACED:
        return "Further upstream (not traced on this page)"
    if origin == pm.PAYMENTS:
        return "Payments received directly"
    return recipient_split(origin)[1] if ":" in origin else origin


@register.inclusion_tag("payouts/_project_funders.html")
def project_funders(project: Project) -> dict[str, object]:
    """Who funds ``project``: per period (month of the run's cutoff), the companies whose
    money reached it, straight from their tables and through other projects' tables."""
    money = pm.project_money(owner_key=project.owner_key)
    periods = money.periods[:PERIODS_SHOWN]
    via_keys = {k for p in periods for line in p.lines for k, _ in line.via}
    names = dict(
        Project.objects.filter(
            slug__in=[recipient_split(k)[1] for k in via_keys if k.startswith("project:")]
        ).values_list("slug", "name")
    )

    def via_name(key: str) -> str:
        return names.get(recipient_split(key)[1], key) if key.startswith("project:") else key

    shown: list[dict[str, Any]] = []
    for period in periods:
        lines = []
        for line in period.lines[:FUNDER_LINES_PER_PERIOD]:
            lines.append(
                {
                    "origin": line.origin,
                    "label": _origin_label(line.origin),
                    "is_company": line.is_company,
                    "currency": line.currency,
                    "direct": line.direct,
                    "via": [
                        {"key": k, "slug": recipient_split(k)[1], "name": via_name(k), "amount": v}
                        for k, v in line.via[:5]
                    ],
                    "via_more": max(len(line.via) - 5, 0),
                    "total": line.total,
                }
            )
        shown.append(
            {
                "period": period.period,
                "lines": lines,
                "more": max(len(period.lines) - FUNDER_LINES_PER_PERIOD, 0),
                "totals": period.totals,
            }
        )
    return {"project": project, "periods": shown}


def _chart(points: list[pm.RunMoney]) -> dict[str, object]:
    """Bar geometry for one currency (oldest run on the left), computed here so the page
    needs no script; the figures are also returned as rows for the text alternative."""
    top = max((getattr(p, s) for p in points for s, _, _ in SERIES), default=0) or 1
    group = BAR_WIDTH * len(SERIES) + GROUP_GAP
    groups = []
    for i, point in enumerate(points):
        x0 = LEFT + i * group
        bars = []
        for j, (attr, label, css) in enumerate(SERIES):
            value = int(getattr(point, attr))
            height = round(CHART_HEIGHT * value / top, 1)
            bars.append(
                {
                    "x": x0 + j * BAR_WIDTH,
                    "y": round(TOP + CHART_HEIGHT - height, 1),
                    "h": height,
                    "css": css,
                    "title": f"{label}: " + money_format(amount=value, currency=point.currency),
                }
            )
        groups.append(
            {
                "label": point.period,
                "run_id": point.run_id,
                "x": x0 + (BAR_WIDTH * len(SERIES)) / 2,
                "bars": bars,
            }
        )
    return {
        "groups": groups,
        # At least MIN_GROUPS wide, so one run draws slim bars rather than a wall.
        "width": LEFT * 2 + group * max(len(points), MIN_GROUPS),
        "height": TOP + CHART_HEIGHT + 18,
        "baseline": TOP + CHART_HEIGHT,
        "label_y": TOP + CHART_HEIGHT + 13,
        "bar_width": BAR_WIDTH - 1,
        "top": top,
    }


@register.inclusion_tag("payouts/_project_money_chart.html")
def project_money_chart(project: Project) -> dict[str, object]:
    """Money in / passed on / kept / paid to people of ``project`` per run, per currency."""
    money = pm.project_money(owner_key=project.owner_key)
    by_currency: dict[str, list[pm.RunMoney]] = {}
    for point in money.runs:
        by_currency.setdefault(point.currency, []).append(point)
    charts = []
    for currency, points in sorted(by_currency.items()):
        points.sort(key=lambda p: p.run_id)
        charts.append(
            {
                "currency": currency,
                "chart": _chart(points),
                "rows": list(reversed(points)),
            }
        )
    return {
        "project": project,
        "charts": charts,
        "series": [{"css": css, "label": label} for _, label, css in SERIES],
        "totals": sorted(money.totals_in.items()),
    }
