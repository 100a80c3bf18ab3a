"""The project page's box of company requests (accepted ones for everyone; a count of those
waiting for an answer for its stewards)."""

from __future__ import annotations

from django import template

from projects.models import Project

from .. import selectors
from ..models import FeatureRequest

register = template.Library()


@register.inclusion_tag("asks/_project_box.html", takes_context=True)
def project_asks_box(context: template.Context, project: Project) -> dict[str, object]:
    user = context.get("user")
    shown = list(
        FeatureRequest.objects.filter(project=project, status__in=selectors.PUBLIC_STATUSES)
        .select_related("company")
        .order_by("-updated_at")[:5]
    )
    waiting = 0
    if user is not None and selectors.is_steward(project=project, user=user):
        waiting = FeatureRequest.objects.filter(
            project=project, status=FeatureRequest.Status.OPEN
        ).count()
    return {"project": project, "shown": shown, "waiting": waiting}
