"""Dispute boxes for the project and table pages (public facts only, never content)."""

from __future__ import annotations

from django import template

from faiross.kernel.money import money_format
from faiross.kernel.recipients import project_key
from projects.models import Project, TableVersion

from .. import selectors

register = template.Library()


@register.inclusion_tag("disputes/_project_box.html", takes_context=True)
def project_dispute_box(context: template.Context, project: Project) -> dict[str, object]:
    """'A dispute is open on this table' (a count, no content) and links to file one."""
    owner_key = project_key(project.slug)
    table = context.get("table")
    version = getattr(table, "version", None)
    return {
        "project": project,
        "user": context.get("user"),
        "open_on_table": selectors.open_dispute_count_on_table(owner_key=owner_key),
        "open_on_project": selectors.open_dispute_count_on_project(project=project),
        "version": version,
    }


@register.inclusion_tag("disputes/_version_box.html", takes_context=True)
def version_dispute_box(context: template.Context, version: TableVersion) -> dict[str, object]:
    """A picker to dispute one entry (or the whole version) of a table version."""
    source = version.source or ""
    dispute_id = (
        source.removeprefix("ombudsman:dispute-") if source.startswith("ombudsman:") else ""
    )
    return {
        "version": version,
        "user": context.get("user"),
        "entries": list(version.entries.order_by("position")),
        "open_on_table": selectors.open_dispute_count_on_table(owner_key=version.table.owner_key),
        "correction_of": dispute_id if dispute_id.isdigit() else "",
    }


@register.filter
def money(amount: int | None, currency: str = "usd") -> str:
    """The kernel's money formatter (same as the ``cents`` filter of ``{% load faiross %}``)."""
    if amount is None:
        return "—"
    return money_format(amount=int(amount), currency=currency or "")
