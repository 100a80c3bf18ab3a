"""Template filters for money and shares; they call the kernel, the one formatter of each."""

from django import template

from faiross.kernel.money import money_format
from faiross.kernel.shares import format_percent

register = template.Library()


@register.filter
def percent(millibips: int | None) -> str:
    """Millibips as a percentage for the active language, exact: 1,250,000 → 12.5%."""
    if millibips is None:
        return "—"
    return format_percent(millibips=int(millibips))


@register.filter
def cents(amount: int | None, currency: str = "usd") -> str:
    """Integer minor units as money for the active language: 123456 usd → $1,234.56."""
    if amount is None:
        return "—"
    return money_format(amount=int(amount), currency=currency or "")


@register.filter
def money_input(amount: int | None, currency: str = "usd") -> str:
    """Minor units as the value of an amount input, without the currency: 2500 usd → 25.00
    (what ``amount_parse`` reads back)."""
    if amount is None:
        return ""
    return money_format(amount=int(amount), currency=currency or "", symbol=False)
