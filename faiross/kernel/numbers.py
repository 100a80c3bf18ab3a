"""Numbers as people read and type them: the Babel locale of a request, and one strict parser.

:mod:`faiross.kernel.money` (amounts) and :mod:`faiross.kernel.shares` (percentages) build on
these two functions, so an amount and a percentage are read by the same rules:

- the locale is the one asked for, else the active Django language (``en-us`` → ``en_US``),
  else English;
- what a person types may use the locale's group separator between thousands and its decimal
  separator (``2,000.50`` or ``2000.50`` in English, ``2.000,50`` or ``2000,50`` in German),
  surrounded by spaces and by a unit the caller names (a currency code or symbol, ``%``);
- nothing else: no exponents (``1e6``), no ``NaN``/``Infinity``, no ``_``, no signs, no digits
  of other scripts, never more decimals than allowed. Malformed grouping (``2,00.50``) is
  refused with the readings Babel's strict mode suggests.

Decimal is used only while parsing; callers turn the result into an integer at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    NumberFormatError,
    format_decimal,
    get_decimal_symbol,
    get_group_symbol,
    parse_decimal,
)
from django.core.exceptions import ValidationError

DEFAULT_LOCALE = "en"
MAX_INPUT_LENGTH = 40
_DIGITS = frozenset("0123456789")
_MINUS_SIGNS = ("-", "\u2212", "\u2012", "\u2013")


@lru_cache(maxsize=64)
def _parse_locale(identifier: str) -> Locale:
    for sep in ("-", "_"):
        try:
            return Locale.parse(identifier, sep=sep)
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return Locale.parse(DEFAULT_LOCALE)


def babel_locale(locale: str | None = None) -> Locale:
    """The Babel locale for ``locale`` (``"de"``, ``"en-us"``, ``"pt_BR"``), or, when ``None``,
    for the active Django language; English when there is none or it is unknown to Babel."""
    if locale is None:
        try:
            from django.utils.translation import get_language

            locale = get_language()
        except Exception:  # settings not configured (pure scripts): English
            locale = None
    return _parse_locale(locale or DEFAULT_LOCALE)


def _strip_units(text: str, units: Sequence[str]) -> str:
    """``text`` without surrounding spaces and at most one leading or trailing unit."""
    text = text.strip()
    folded = text.casefold()
    for unit in sorted((u for u in units if u), key=len, reverse=True):
        u = unit.casefold()
        if folded.startswith(u):
            return text[len(unit) :].strip()
        if folded.endswith(u):
            return text[: -len(unit)].strip()
    return text


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: only digits and separators got this far
    return max(0, -exponent)


def parse_number(
    *,
    text: object,
    locale: Locale,
    decimals: int,
    field: str,
    noun: str,
    units: Sequence[str] = (),
    example: str,
) -> Decimal:
    """Read ``text`` (typed by a person) as a non-negative decimal with at most ``decimals``
    decimals, by the rules in the module doc. ``noun`` names the thing in messages ("an
    amount in USD"), ``example`` is a well-formed input for this locale.

    Raises ``ValidationError({field: message})``; the message quotes the input, names the
    rule and, when Babel's strict mode offers readings, suggests them.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({field: f"Enter {noun}, e.g. {example}."})
    if len(text) > MAX_INPUT_LENGTH:
        raise ValidationError({field: f"Enter {noun} of at most {MAX_INPUT_LENGTH} characters."})
    shown = text.strip()
    body = _strip_units(text, units)
    group = get_group_symbol(locale)
    point = get_decimal_symbol(locale)
    if body.startswith(_MINUS_SIGNS):
        raise ValidationError({field: f"'{shown}' is negative; enter {noun}, e.g. {example}."})
    if group.isspace():
        # Locales that group with a (narrow) no-break space: any space typed there is one.
        body = "".join(group if ch.isspace() else ch for ch in body)
    if not body or any(ch not in _DIGITS and ch not in (group, point) for ch in body):
        raise ValidationError(
            {
                field: f"'{shown}' is not {noun}: use digits, '{point}' before the decimals "
                f"and, if you like, '{group.strip() or 'a space'}' between thousands, "
                f"e.g. {example}."
            }
        )
    try:
        value = parse_decimal(body, locale=locale, strict=True)
    except NumberFormatError as exc:
        readings = [s for s in exc.suggestions or () if _fits(s, locale, decimals)]
        hint = " or ".join(f"'{s}'" for s in readings)
        hint = f" Did you mean {hint}?" if hint else ""
        raise ValidationError(
            {
                field: f"'{shown}' is not {noun}: here '{group}' groups thousands (by threes) "
                f"and '{point}' starts the decimals.{hint}"
            }
        ) from None
    if _decimals(value) > decimals:
        hint = ""
        whole, sep, fraction = body.partition(point)
        ambiguous = len(fraction) == 3 and 0 < len(whole) <= 3 and whole[0] != "0"
        if sep and group not in body and ambiguous:
            # '2.000' in English, '2,000' in German: maybe the separator of the other habit.
            reading = format_decimal(Decimal(whole + fraction), locale=locale)
            hint = f" If you meant {reading}, write it so (or without separators)."
        raise ValidationError(
            {field: f"'{shown}' has more decimals than {noun} can have ({decimals}).{hint}"}
        )
    return value


def _fits(reading: str, locale: Locale, decimals: int) -> bool:
    try:
        value = parse_decimal(reading, locale=locale, strict=True)
    except NumberFormatError:
        return False
    return value.is_finite() and _decimals(value) <= decimals
