"""Payouts' boxes for pages of lower apps (a project page cannot import payouts):

``{% load payouts_tags %}{% escrow_notice "project:<slug>" %}``: the public notice of unclaimed
money named by a table, and when it returns to the table owner's reserve;
``{% received_box "project:<slug>" title %}``: what a recipient received from recent runs.
"""

from __future__ import annotations

from django import template
from django.conf import settings

from payouts.distribution.explain import received_lines
from payouts.selectors import escrow_notices

register = template.Library()


@register.inclusion_tag("payouts/_escrow_notice.html")
def escrow_notice(owner_key: str) -> dict[str, object]:
    return {
        "notices": escrow_notices(owner_key=str(owner_key)),
        "days": settings.FAIROSS_ESCROW_RETURN_DAYS,
        "owner_key": owner_key,
    }


@register.inclusion_tag("payouts/_received.html")
def received_box(recipient: str, title: str = "Received") -> dict[str, object]:
    return {"received": received_lines(recipient=str(recipient), limit=5), "received_title": title}
