"""Numbers as people read and type them: the Babel locale of a request, and one strict parser.

:mod:`faiross.kernel.money` (amounts) and :mod:`faiross.kernel.shares` (percentages) build on
these two functions, so an amount and a percentage are read by the same rules:

- the locale is the one asked for, else the active Django language (``en-us`` → ``en_US``),
  else English;
- what a person types may use the locale's group separator between thousands and its decimal
  separator (``2,000.50`` or ``2000.50`` in English, ``2.000,50`` or ``2000,50`` in German),
  surrounded by spaces and by a unit the caller names (a currency code or symbol, ``%``);
- nothing else: no exponents (``1e6``), no ``NaN``/``Infinity``, no ``_``, no signs, no digits
  of other scripts, never more decimals than allowed. What is refused is never guessed at
  silently: the message suggests the likely reading, written the locale's way
  (``2000,50`` in English: "Did you mean 2,000.50?"; ``1.000``: "Did you mean 1,000.00?";
  ``1e6``: "Did you mean 1,000,000.00?"), when there is one.

Decimal is used only while parsing; callers turn the result into an integer at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
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
# Characters people use between digits in some habit or other: a likely reading may treat
# any of them as a group or a decimal separator.
_SEPARATORS = frozenset(",.'\u00a0\u202f ")
_EXPONENT = re.compile(r"(\d{1,15})(?:[.,](\d{1,15}))?[eE]([+]?\d{1,2})")


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


def _likely_reading(body: str, decimals: int) -> Decimal | None:
    """What ``body`` (refused as it stands) most likely means, if anything clearly:

    - an exponent (``1e6``, ``2,5E3``): its value;
    - digits grouped by threes (``1.000``, ``1 000 000``): that many thousands, or, when the
      last separator is followed by 1..``decimals`` digits other than three (``2000,50``,
      ``2.000,50``, ``2,000,50``), that separator starts the decimals.

    None when there is no such reading (``2,00.50``, ``0,00001`` in a currency), or it has
    more than ``decimals`` decimals.
    """
    match = _EXPONENT.fullmatch(body)
    if match:
        whole, fraction, exponent = match.groups()
        try:
            value = Decimal(f"{whole}.{fraction or '0'}e{exponent}")
        except InvalidOperation:
            return None
        if value >= 10**18:  # not a reading worth writing out
            return None
        value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value
        return value if _decimals(value.normalize()) <= decimals else None
    if not body or not all(ch in _DIGITS or ch in _SEPARATORS for ch in body):
        return None
    parts = re.split(r"[,.'\u00a0\u202f ]", body)
    if len(parts) < 2 or not all(parts):
        return None
    grouped = 0 < len(parts[0]) <= 3 and not parts[0].startswith("0")
    separators = [ch for ch in body if ch in _SEPARATORS]
    # Three digits after the last separator read as a group, unless that separator differs
    # from the ones before it ('1.000,000' in a three-decimal currency).
    mixed = len(set(separators)) > 1 and separators[-1] not in separators[:-1]
    if 0 < len(parts[-1]) <= decimals and (len(parts[-1]) != 3 or mixed):
        if len(parts) == 2 or (grouped and all(len(p) == 3 for p in parts[1:-1])):
            return Decimal(f"{''.join(parts[:-1])}.{parts[-1]}")
        return None
    if grouped and all(len(p) == 3 for p in parts[1:]):
        return Decimal("".join(parts))
    return None


def parse_number(
    *,
    text: object,
    locale: Locale,
    decimals: int,
    field: str,
    noun: str,
    units: Sequence[str] = (),
    example: str,
    render: Callable[[Decimal], str] | None = None,
) -> Decimal:
    """Read ``text`` (typed by a person) as a non-negative decimal with at most ``decimals``
    decimals, by the rules in the module doc. ``noun`` names the thing in messages ("an
    amount in USD"), ``example`` is a well-formed input for this locale, ``render`` writes a
    suggested reading for this locale (default: Babel's decimal format), so that what is
    suggested is accepted as it is written.

    Raises ``ValidationError({field: message})``; the message quotes the input, names the
    rule and suggests the likely reading when there is one ("Did you mean 2,000.50?").
    """
    write = render or (
        lambda value: format_decimal(value, locale=locale, decimal_quantization=False)
    )
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
    rules = (
        f"here '{group.strip() or 'a space'}' groups thousands (by threes) and '{point}' "
        "starts the decimals"
    )
    if not body or any(ch not in _DIGITS and ch not in (group, point) for ch in body):
        likely = _likely_reading(body, decimals)
        hint = f" Did you mean {write(likely)}?" if likely else ""
        raise ValidationError(
            {
                field: f"'{shown}' is not {noun}: use digits, '{point}' before the decimals "
                f"and, if you like, '{group.strip() or 'a space'}' between thousands, "
                f"e.g. {example}.{hint}"
            }
        )
    try:
        value = parse_decimal(body, locale=locale, strict=True)
    except NumberFormatError:
        # Babel's own suggestions (exc.suggestions) include dropping every separator, the
        # very reading (200,050.00 for 2000,50) that must never be offered as the likely one.
        likely = _likely_reading(body, decimals)
        hint = f" Did you mean {write(likely)}?" if likely is not None else ""
        raise ValidationError({field: f"'{shown}' is not {noun}: {rules}.{hint}"}) from None
    if _decimals(value) > decimals:
        # '2.000' in English, '2,000' in German: maybe the separator of the other habit.
        likely = _likely_reading(body, decimals) if group not in body else None
        hint = f" Did you mean {write(likely)}?" if likely is not None else ""
        raise ValidationError(
            {field: f"'{shown}' has more decimals than {noun} can have ({decimals}).{hint}"}
        )
    return value
