"""The open-dispute notice at the top of a project page: how many disputes are open on the
project or its table, since when, and whether its money is on hold. Public facts only: no
title, text or party of a dispute, and nothing about a person's line.

``{% load dispute_notice_tags %}{% open_dispute_notice project %}``
"""

from __future__ import annotations

from django import template
from django.db.models import Count, Min, Q

from faiross.kernel.recipients import project_key
from projects.models import Project

from ..models import Dispute, Hold
from ..selectors import ACTIVE_STATUSES

register = template.Library()


@register.inclusion_tag("disputes/_open_notice.html")
def open_dispute_notice(project: Project) -> dict[str, object]:
    """Two queries whatever the number of disputes: the open ones counted (with the oldest
    filing date) and whether an active hold freezes the project's own money."""
    key = project_key(project.slug)
    summary = Dispute.objects.filter(
        Q(project=project) | Q(table_owner=key), status__in=ACTIVE_STATUSES
    ).aggregate(n=Count("id"), since=Min("created_at"))
    held = Hold.objects.filter(recipient=key, status=Hold.Status.ACTIVE).exists()
    return {"project": project, "count": summary["n"] or 0, "since": summary["since"], "held": held}
