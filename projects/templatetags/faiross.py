from django import template

register = template.Library()


@register.filter
def percent(millibips: int | None) -> str:
    """10,000,000 millibips = 100%; shown exactly, without trailing zeros."""
    if millibips is None:
        return "—"
    whole, rest = divmod(int(millibips), 100_000)
    if rest == 0:
        return f"{whole}%"
    return f"{whole}.{rest:05d}".rstrip("0") + "%"


@register.filter
def cents(amount: int | None, currency: str = "usd") -> str:
    """Integer minor units shown as money, e.g. 123456 usd → 1,234.56 USD."""
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    whole, rest = divmod(abs(int(amount)), 100)
    return f"{sign}{whole:,}.{rest:02d} {currency.upper()}"
