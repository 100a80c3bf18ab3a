"""Shares: integer millibips (DESIGN.md "Words"), and how people read and type them.

:data:`FULL_SHARE` is the one name for 100%: 10,000,000 millibips (1% = 100,000; one millibip
is 0.00001%). A share table's entries and reserve add up to it; every share is an int in
``0..FULL_SHARE``.

- :func:`percent_to_millibips`: a percentage as typed (``12.5``, ``12,5 %`` in German, up to
  5 decimals) → millibips, exactly, by the same strict rules as amounts
  (:func:`faiross.kernel.numbers.parse_number`);
- :func:`millibips_to_percent`: millibips → the number of percent for the locale, trailing
  zeros trimmed (``12.5``; ``12,5`` in German), e.g. as the value of an input that
  :func:`percent_to_millibips` reads back;
- :func:`format_percent`: millibips → a percentage for display (``12.5%``; ``12,5 %``).
"""

from __future__ import annotations

from decimal import Decimal

from babel import Locale
from babel.numbers import format_decimal
from babel.numbers import format_percent as _babel_format_percent
from django.core.exceptions import ValidationError

from .numbers import babel_locale, parse_number

FULL_SHARE = 10_000_000
"""100% in millibips."""
MILLIBIPS_PER_PERCENT = FULL_SHARE // 100
PERCENT_DECIMALS = 5  # one millibip is 0.00001%


def _locale(locale: str | Locale | None) -> Locale:
    return locale if isinstance(locale, Locale) else babel_locale(locale)


def percent_to_millibips(*, text: str, locale: str | None = None, field: str = "share") -> int:
    """``"12.5"`` (percent, as typed, ``%`` optional) → 1,250,000 millibips, exactly.

    Refuses, with ``ValidationError({field: ...})``, what is not a plain number for the locale
    (exponents, signs, misplaced separators), more than 5 decimals and more than 100%.
    Invariant: ``percent_to_millibips(text=millibips_to_percent(millibips=m, locale=l),
    locale=l) == m`` for every ``m`` in ``0..FULL_SHARE``.
    """
    loc = _locale(locale)
    example = millibips_to_percent(millibips=1_250_000, locale=loc)
    value = parse_number(
        text=text,
        locale=loc,
        decimals=PERCENT_DECIMALS,
        field=field,
        noun="a percentage",
        units=("%", loc.number_symbols["latn"]["percentSign"]),
        example=example,
        # A suggested reading is written as a percentage ("Did you mean 12.5%?"), which
        # this function accepts as it is written.
        render=lambda value: _babel_format_percent(
            value.scaleb(-2), locale=loc, decimal_quantization=False
        ),
    )
    millibips = int(value.scaleb(PERCENT_DECIMALS))
    if millibips > FULL_SHARE:
        raise ValidationError({field: f"'{text.strip()}' is more than 100%."})
    return millibips


def millibips_to_percent(*, millibips: int, locale: str | Locale | None = None) -> str:
    """``millibips`` as a number of percent for the locale, exact, trailing zeros trimmed:
    1_250_000 → ``"12.5"`` (``"12,5"`` in German), 1 → ``"0.00001"``, FULL_SHARE → ``"100"``."""
    value = Decimal(int(millibips)).scaleb(-PERCENT_DECIMALS)
    return format_decimal(value, locale=_locale(locale), decimal_quantization=False)


def format_percent(*, millibips: int, locale: str | Locale | None = None) -> str:
    """``millibips`` as a percentage for display, exact, trailing zeros trimmed:
    1_250_000 → ``"12.5%"`` in English, ``"12,5 %"`` in German."""
    value = Decimal(int(millibips)).scaleb(-PERCENT_DECIMALS - 2)
    return _babel_format_percent(value, locale=_locale(locale), decimal_quantization=False)
