"""Payouts' boxes for pages of lower apps (a project page cannot import payouts):

``{% load payouts_tags %}{% escrow_notice "project:<slug>" %}``: the public notice of money
waiting in escrow: the project's own (until its ownership is verified, or until the next run
after verification) and that of unclaimed identities its table names, with when this table's
part returns to its reserve; for the project's stewards, a link to its reserve grants;
``{% received_box "project:<slug>" title %}``: what a recipient received from recent runs.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from faiross.kernel.recipients import recipient_split
from payouts.connect.escrow import escrow_notices_for_owner
from payouts.distribution.explain import received_lines
from payouts.reserves import reserve_balances, reserve_grant_can_manage

register = template.Library()


@register.inclusion_tag("payouts/_escrow_notice.html", takes_context=True)
def escrow_notice(context: dict[str, Any], owner_key: str) -> dict[str, object]:
    owner_key = str(owner_key)
    notices = escrow_notices_for_owner(owner_key=owner_key)
    out: dict[str, object] = {
        "own": notices["own"],
        "notices": notices["identities"],
        "days": settings.FAIROSS_ESCROW_RETURN_DAYS,
        "owner_key": owner_key,
        "reserve_slug": None,
    }
    request = context.get("request")
    user = getattr(request, "user", None)
    if owner_key.startswith("project:") and user is not None:
        slug = recipient_split(owner_key)[1]
        if reserve_grant_can_manage(slug=slug, user=user):
            out["reserve_slug"] = slug
            out["reserve"] = reserve_balances(slug=slug)
    return out


@register.inclusion_tag("payouts/_received.html", takes_context=True)
def received_box(context: Any, recipient: str, title: str = "Received") -> dict[str, object]:
    # The request names the route's hops as the viewer may see them (masked addresses).
    return {
        "received": received_lines(recipient=str(recipient), limit=5),
        "received_title": title,
        "request": context.get("request"),
    }
