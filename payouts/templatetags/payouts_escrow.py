"""``{% load payouts_escrow %}{% escrow_notice "project:<slug>" %}``: the public notice of
unclaimed money named by a table, and when it returns to the table owner's reserve."""

from __future__ import annotations

from django import template
from django.conf import settings

from payouts.selectors import escrow_notices

register = template.Library()


@register.inclusion_tag("payouts/_escrow_notice.html")
def escrow_notice(owner_key: str) -> dict[str, object]:
    return {
        "notices": escrow_notices(owner_key=str(owner_key)),
        "days": settings.FAIROSS_ESCROW_RETURN_DAYS,
        "owner_key": owner_key,
    }
