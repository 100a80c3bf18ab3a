"""Admin columns that show money and shares the way people read them (DESIGN.md: users see
formatted money and percent, never cents or millibips): ``€2,000.50``, ``12.5%``.

``money_column("amount")`` and ``percent_column("share_millibips")`` make admin methods: set
one as an attribute of a ``ModelAdmin`` (``amount_shown = money_column("amount")``) and name
it in ``list_display`` / ``readonly_fields``; :func:`shown_fields` swaps such names in for the
raw fields of a model's field list (list the raw ones in ``exclude``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin

from .money import money_format
from .shares import format_percent

Column = Callable[[Any, Any], str]


def money_column(
    field: str, *, currency_field: str = "currency", description: str | None = None
) -> Column:
    """An admin method showing ``obj.<field>`` (minor units) as money of
    ``obj.<currency_field>``."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(modeladmin: Any, obj: Any) -> str:
        amount = getattr(obj, field)
        currency = getattr(obj, currency_field, "") or ""
        if amount is None or not currency:
            return "—" if amount is None else str(amount)
        return money_format(amount=int(amount), currency=currency)

    return column


def percent_column(field: str, *, description: str | None = None) -> Column:
    """An admin method showing ``obj.<field>`` (millibips) as a percentage."""
    label = description or field.removesuffix("_millibips").replace("_", " ") or "share"

    @admin.display(description=label, ordering=field)
    def column(modeladmin: Any, obj: Any) -> str:
        millibips = getattr(obj, field)
        return "—" if millibips is None else format_percent(millibips=int(millibips))

    return column


def shown_fields(names: Sequence[str], **shown: str) -> list[str]:
    """``names`` with each raw field that ``shown`` names replaced by its column's name, e.g.
    ``shown_fields([f.name for f in Invoice._meta.fields], amount="amount_shown")``."""
    return [shown.get(name, name) for name in names]
