"""How the active language writes numbers, for scripts that read what people type (the
share-table editor's live totals); the server reads the same text again and decides."""

from __future__ import annotations

from babel.numbers import get_decimal_symbol, get_group_symbol
from django import template

from faiross.kernel.numbers import babel_locale
from faiross.kernel.shares import MILLIBIPS_PER_PERCENT, format_percent

register = template.Library()


@register.simple_tag
def number_symbols() -> dict[str, str]:
    """``{"decimal", "group", "percent"}`` of the active language: ``"."``, ``","``, ``"%"``
    in English; ``","``, ``"."``, ``"\u00a0%"`` in German (``percent`` is what follows the
    number in a percentage)."""
    loc = babel_locale()
    one = format_percent(millibips=MILLIBIPS_PER_PERCENT, locale=loc)
    return {
        "decimal": get_decimal_symbol(loc),
        "group": get_group_symbol(loc),
        "percent": one.split("1", 1)[1] if "1" in one else "%",
    }
