"""Site-wide totals for pages of lower apps (the home page is the projects app's):
``{% load totals_tags %}{% site_totals as totals %}``. Read from the cache, see payouts.totals."""

from __future__ import annotations

from django import template

from payouts.totals import SiteTotals
from payouts.totals import site_totals as site_totals_read

register = template.Library()


@register.simple_tag
def site_totals() -> SiteTotals:
    """The cached ``SiteTotals`` (money per currency in minor units; ``formatted()`` for
    display; ``people_shown`` is None while too few people to show a number)."""
    return site_totals_read()
