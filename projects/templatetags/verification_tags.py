"""``{% load verification_tags %}{% unverified_projects rows as names %}``: the projects a
table editor's rows name that have not proved their ownership (their money waits)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django import template

from faiross.kernel.recipients import recipient_split

from ..models import Project

register = template.Library()


@register.simple_tag
def unverified_projects(rows: Iterable[Mapping[str, str]] | None) -> list[Project]:
    slugs = []
    for row in rows or []:
        recipient = str(row.get("recipient", "")) if isinstance(row, Mapping) else ""
        if recipient.startswith("project:"):
            slugs.append(recipient_split(recipient)[1])
    if not slugs:
        return []
    return list(Project.objects.filter(slug__in=slugs, verified_at__isnull=True).order_by("slug"))
