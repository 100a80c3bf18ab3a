"""Template filters for money, shares and recipients; they call the kernel, the one formatter
of each, and ``projects.privacy`` for who may read an email address."""

from typing import Any

from django import template

from faiross.kernel.money import money_format
from faiross.kernel.shares import format_percent
from projects.privacy import email_shown, recipient_label_shown

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


@register.filter
def recipient(key: object, viewer: Any = None) -> str:
    """A recipient named for a page as ``viewer`` may see it:
    ``{{ e.recipient|recipient:request.user }}`` gives ``bob``, ``octocat (GitHub)``,
    ``z***@example.org`` (addresses masked unless the viewer is staff or owns the address;
    without a viewer always masked), never the raw key."""
    if key is None:
        return ""
    return recipient_label_shown(key=str(key), user=viewer or None)


@register.filter
def email_address(address: object, viewer: Any = None) -> str:
    """A bare email address as ``viewer`` may see it (masked for everyone but its owner and
    staff): ``{{ party.email|email_address:request.user }}``."""
    if not address:
        return ""
    return email_shown(address=str(address), user=viewer or None)
