"""Money values: integer minor units plus a lower-case ISO 4217 code (money rule 1).

The one place that says what a valid amount and currency are, and how an amount is shown
and read: forms, API serializers, templates and services all call these, so a rule accepted
in one place is accepted everywhere.

- :func:`money_format`: minor units → text for people, in the active (or given) locale, with
  the currency's real number of decimals (``$1,234.56``, ``1.234,56 €``, ``¥1,235``);
- :func:`amount_parse`: what a person typed in currency units → minor units, strictly
  (:func:`faiross.kernel.numbers.parse_number`);
- :func:`minor_to_decimal_str`: minor units → a plain decimal string for machine formats
  (``"1234.56"``, OCF JSON), independent of any locale;
- :func:`amount_clean` / :func:`currency_clean`: validation of API values (already minor units).

Decimal appears only inside these functions, never in what they return or store.
"""

from __future__ import annotations

from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol
from django.conf import settings
from django.core.exceptions import ValidationError

from .numbers import babel_locale, parse_number

MAX_AMOUNT = 10**12  # minor units; 10 billion in a 2-decimal currency


def currency_clean(*, currency: object, field: str = "currency") -> str:
    if not isinstance(currency, str) or currency.lower() not in settings.FAIROSS_CURRENCIES:
        supported = ", ".join(settings.FAIROSS_CURRENCIES)
        raise ValidationError({field: f"Use one of the supported currencies: {supported}."})
    return currency.lower()


def amount_clean(*, amount: object, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError({field: "Give a whole number of minor units (cents), e.g. 250000."})
    if not 0 < amount <= MAX_AMOUNT:
        raise ValidationError({field: f"The amount must be from 1 to {MAX_AMOUNT:,} minor units."})
    return amount


def minor_units(currency: str) -> int:
    """How many decimals ``currency`` has (its ISO 4217 exponent): USD 2, JPY 0, BHD 3."""
    return int(get_currency_precision(currency.upper()))


def _major(amount: int, currency: str) -> Decimal:
    return Decimal(int(amount)).scaleb(-minor_units(currency))


def minor_to_decimal_str(amount: int, currency: str) -> str:
    """``amount`` minor units as a plain decimal string with exactly the currency's decimals:
    ``(123456, "usd")`` → ``"1234.56"``, ``(-5, "usd")`` → ``"-0.05"``, ``(1000, "jpy")`` →
    ``"1000"``. No grouping, ``.`` as the separator: for files and APIs, not for people."""
    digits = minor_units(currency)
    sign = "-" if amount < 0 else ""
    whole, rest = divmod(abs(int(amount)), 10**digits)
    return f"{sign}{whole}.{rest:0{digits}d}" if digits else f"{sign}{whole}"


def money_format(
    *, amount: int, currency: str, locale: str | None = None, symbol: bool = True
) -> str:
    """``amount`` minor units of ``currency`` as people of ``locale`` write money.

    ``locale`` defaults to the active Django language (English when none). With
    ``symbol=False`` only the number is written (``1,234.56``), e.g. as the value of an input
    that :func:`amount_parse` reads back. Invariant: for every amount in 1..MAX_AMOUNT,
    ``amount_parse(text=money_format(...), currency, locale) == amount`` (same locale).
    """
    return _format(amount, (currency or "").upper(), babel_locale(locale), symbol=symbol)


def _format(amount: int, code: str, loc: Locale, *, symbol: bool = True) -> str:
    value = _major(amount, code)
    if not symbol:
        return format_currency(value, code, locale=loc, format=loc.decimal_formats[None].pattern)
    return format_currency(value, code, locale=loc)


def amount_parse(
    *, text: str, currency: str, locale: str | None = None, field: str = "amount"
) -> int:
    """What a person typed, in units of ``currency`` (``"2,000.50"``), as minor units (200050).

    Accepts the locale's grouping and decimal separators, surrounding spaces and the
    currency's code or symbol (``$25``, ``25 USD``, ``25,00 €``). Refuses, with
    ``ValidationError({field: ...})`` naming the rule and suggesting a reading where there is
    one: exponents, NaN, signs, misplaced separators, more decimals than the currency has,
    zero and amounts above :data:`MAX_AMOUNT`.
    """
    code = (currency or "").upper()
    loc = babel_locale(locale)
    digits = minor_units(code)
    example = _format(2000 * 10**digits + 10**digits // 2, code, loc, symbol=False)
    value = parse_number(
        text=text,
        locale=loc,
        decimals=digits,
        field=field,
        noun=f"an amount in {code}",
        units=(code, get_currency_symbol(code, locale=loc)),
        example=example,
        render=lambda value: _format(int(value.scaleb(digits)), code, loc, symbol=False),
    )
    minor = int(value.scaleb(digits))
    if minor == 0:
        raise ValidationError(
            {field: f"'{text.strip()}' is zero; enter an amount in {code} above zero."}
        )
    if minor > MAX_AMOUNT:
        limit = _format(MAX_AMOUNT, code, loc)
        raise ValidationError({field: f"'{text.strip()}' is too large: at most {limit}."})
    return minor
