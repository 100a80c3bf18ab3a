"""faiross.kernel.money: the one money formatter and the one amount parser (no database)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from faiross.kernel.money import (
    MAX_AMOUNT,
    amount_parse,
    minor_to_decimal_str,
    minor_units,
    money_format,
)

CURRENCIES = [*settings.FAIROSS_CURRENCIES, "jpy", "bhd"]  # configured, plus 0 and 3 decimals
LOCALES = ["en", "de"]


def messages(exc: pytest.ExceptionInfo[ValidationError], field: str = "amount") -> str:
    return " ".join(exc.value.message_dict[field])


@given(
    amount=st.integers(1, MAX_AMOUNT),
    currency=st.sampled_from(CURRENCIES),
    locale=st.sampled_from(LOCALES),
    symbol=st.booleans(),
)
def test_parse_reads_back_what_format_writes(amount, currency, locale, symbol):
    text = money_format(amount=amount, currency=currency, locale=locale, symbol=symbol)
    assert amount_parse(text=text, currency=currency, locale=locale) == amount


@given(
    amount=st.integers(1, MAX_AMOUNT),
    currency=st.sampled_from(CURRENCIES),
    locale=st.sampled_from(["fr", "de_CH", "hi", "en_GB", "pt-br"]),
)
def test_round_trip_in_other_locales(amount, currency, locale):
    text = money_format(amount=amount, currency=currency, locale=locale)
    assert amount_parse(text=text, currency=currency, locale=locale) == amount


@given(amount=st.integers(-MAX_AMOUNT, MAX_AMOUNT), currency=st.sampled_from(CURRENCIES))
def test_decimal_string_is_exact(amount, currency):
    text = minor_to_decimal_str(amount, currency)
    digits = minor_units(currency)
    whole, _, fraction = text.lstrip("-").partition(".")
    assert len(fraction) == digits
    assert int(whole + fraction) * (-1 if text.startswith("-") else 1) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (123456, "usd", "en", "$1,234.56"),
        (123456, "eur", "de", "1.234,56\xa0€"),
        (123456, "chf", "de", "1.234,56\xa0CHF"),
        (1000, "jpy", "en", "¥1,000"),
        (1000, "jpy", "de", "1.000\xa0¥"),
        (-5, "usd", "en", "-$0.05"),
        (0, "gbp", "en", "£0.00"),
        (1234, "bhd", "en", "BHD1.234"),
    ],
)
def test_format(amount, currency, locale, text):
    assert money_format(amount=amount, currency=currency, locale=locale) == text


def test_format_follows_the_active_language():
    with translation.override("de"):
        assert money_format(amount=200050, currency="eur") == "2.000,50\xa0€"
    with translation.override("en-us"):
        assert money_format(amount=200050, currency="eur") == "€2,000.50"
    with translation.override(None):
        assert money_format(amount=200050, currency="usd") == "$2,000.50"
    assert money_format(amount=200050, currency="usd", locale="xx-unknown") == "$2,000.50"


def test_format_without_symbol_is_an_input_value():
    assert money_format(amount=200050, currency="usd", locale="en", symbol=False) == "2,000.50"
    assert money_format(amount=200050, currency="usd", locale="de", symbol=False) == "2.000,50"
    assert money_format(amount=2000, currency="jpy", locale="en", symbol=False) == "2,000"


def test_decimal_string_examples():
    assert minor_to_decimal_str(123456, "usd") == "1234.56"
    assert minor_to_decimal_str(-5, "USD") == "-0.05"
    assert minor_to_decimal_str(0, "eur") == "0.00"
    assert minor_to_decimal_str(1000, "jpy") == "1000"
    assert minor_to_decimal_str(1, "bhd") == "0.001"


@pytest.mark.parametrize(
    ("text", "locale", "currency", "minor"),
    [
        ("2,000.50", "en", "usd", 200050),
        ("2000.50", "en", "usd", 200050),
        ("2000.5", "en", "usd", 200050),
        ("  2000 ", "en", "usd", 200000),
        ("2.000,50", "de", "eur", 200050),
        ("2000,50", "de", "eur", 200050),
        ("2.000", "de", "eur", 200000),
        ("$25", "en", "usd", 2500),
        ("25 USD", "en", "usd", 2500),
        ("usd 25", "en", "usd", 2500),
        ("25,00 €", "de", "eur", 2500),
        ("1,000", "en", "jpy", 1000),
        ("1 000,50", "fr", "eur", 100050),
        ("0.01", "en", "usd", 1),
        ("10,000,000,000", "en", "usd", MAX_AMOUNT),
    ],
)
def test_parse(text, locale, currency, minor):
    assert amount_parse(text=text, currency=currency, locale=locale) == minor


@pytest.mark.parametrize(
    ("text", "locale", "currency", "says"),
    [
        ("1e6", "en", "usd", "is not an amount in USD"),
        ("1E6", "en", "usd", "is not an amount in USD"),
        ("NaN", "en", "usd", "is not an amount in USD"),
        ("Infinity", "en", "usd", "is not an amount in USD"),
        ("1_000", "en", "usd", "is not an amount in USD"),
        ("٣", "en", "usd", "is not an amount in USD"),
        ("12 34", "en", "usd", "is not an amount in USD"),
        ("€5", "en", "usd", "is not an amount in USD"),
        ("0x10", "en", "usd", "is not an amount in USD"),
        ("+5", "en", "usd", "is not an amount in USD"),
        ("-5", "en", "usd", "negative"),
        ("\u22125", "en", "usd", "negative"),
        ("0", "en", "usd", "above zero"),
        ("0.00", "en", "usd", "above zero"),
        ("0.001", "en", "usd", "more decimals than an amount in USD can have (2)"),
        ("25.500", "en", "usd", "more decimals"),
        ("1.5", "en", "jpy", "more decimals than an amount in JPY can have (0)"),
        ("10,000,000,000.01", "en", "usd", "at most $10,000,000,000.00"),
        ("", "en", "usd", "Enter an amount in USD"),
        ("   ", "en", "usd", "Enter an amount in USD"),
        ("1" * 41, "en", "usd", "at most 40 characters"),
        # the likely reading of the other habit of separators is suggested, written so that
        # it is accepted as it stands
        ("2,5", "en", "usd", "Did you mean 2.50?"),
        ("2.5", "de", "eur", "Did you mean 2,50?"),
        ("2000,50", "en", "usd", "Did you mean 2,000.50?"),
        ("2.000,50", "en", "eur", "Did you mean 2,000.50?"),
        ("2,000,50", "en", "usd", "Did you mean 2,000.50?"),
        ("2000.50", "de", "eur", "Did you mean 2.000,50?"),
        ("2,000.50", "de", "eur", "Did you mean 2.000,50?"),
        ("2 000,50", "en", "usd", "Did you mean 2,000.50?"),
        ("1e6", "en", "eur", "Did you mean 1,000,000.00?"),
        ("1,5E3", "de", "eur", "Did you mean 1.500,00?"),
        # '2.000' is 2,000 to a German, 2.000 to an American: with 3 decimals it is refused,
        # and the thousands are suggested
        ("2.000", "en", "usd", "Did you mean 2,000.00?"),
        ("1.000", "en", "eur", "Did you mean 1,000.00?"),
        ("2,000", "de", "eur", "Did you mean 2.000,00?"),
        ("1.000.000", "en", "usd", "Did you mean 1,000,000.00?"),
    ],
)
def test_parse_refuses(text, locale, currency, says):
    with pytest.raises(ValidationError) as exc:
        amount_parse(text=text, currency=currency, locale=locale)
    assert says in messages(exc)
    assert f"'{text.strip()}'" in messages(exc) or not text.strip() or len(text) > 40


def test_parse_names_the_field_and_follows_the_active_language():
    with pytest.raises(ValidationError) as exc:
        amount_parse(text="abc", currency="usd", field="threshold")
    assert set(exc.value.message_dict) == {"threshold"}
    with translation.override("de"):
        assert amount_parse(text="2.000,50", currency="eur") == 200050


@given(text=st.text(max_size=45))
def test_parse_never_fails_otherwise(text):
    try:
        minor = amount_parse(text=text, currency="usd", locale="en")
    except ValidationError as exc:
        assert set(exc.message_dict) == {"amount"}
    else:
        assert isinstance(minor, int) and 0 < minor <= MAX_AMOUNT


@pytest.mark.parametrize(
    ("text", "locale", "currency"),
    [
        ("2,00.50", "en", "usd"),  # no clear reading: the rules are explained instead
        ("0,00001", "en", "usd"),
        ("12,5", "en", "jpy"),
        ("1e-3", "en", "usd"),
        ("1,000,000.5,0", "en", "usd"),
    ],
)
def test_parse_suggests_nothing_it_cannot_read_clearly(text, locale, currency):
    with pytest.raises(ValidationError) as exc:
        amount_parse(text=text, currency=currency, locale=locale)
    assert "Did you mean" not in messages(exc)
    assert "groups thousands" in messages(exc) or "use digits" in messages(exc)


@pytest.mark.parametrize(
    ("text", "locale"),
    [("2000,50", "en"), ("2.000,50", "en"), ("2000.50", "de"), ("2,000.50", "de")],
)
def test_the_other_habit_is_never_read_as_two_hundred_thousand(text, locale):
    """The issue's example: 2000,50 typed in English is refused, never 200,050.00."""
    with pytest.raises(ValidationError) as exc:
        amount_parse(text=text, currency="eur", locale=locale)
    assert "200,050" not in messages(exc) and "200.050" not in messages(exc)


@given(
    amount=st.integers(1, MAX_AMOUNT),
    currency=st.sampled_from(CURRENCIES),
    locale=st.sampled_from(LOCALES),
)
def test_a_suggested_reading_is_accepted_as_written(amount, currency, locale):
    """Whatever is suggested for an amount written in the other locale's habit parses, as
    written, to that amount (or the input was already valid in both habits)."""
    other = "de" if locale == "en" else "en"
    text = money_format(amount=amount, currency=currency, locale=other, symbol=False)
    try:
        amount_parse(text=text, currency=currency, locale=locale)
    except ValidationError as exc:
        message = " ".join(exc.message_dict["amount"])
        if "Did you mean " in message:
            reading = message.split("Did you mean ", 1)[1].rstrip("?")
            assert amount_parse(text=reading, currency=currency, locale=locale) == amount


@given(
    amount=st.integers(1, MAX_AMOUNT),
    currency=st.sampled_from(settings.FAIROSS_CURRENCIES),
)
def test_english_and_german_round_trip_with_and_without_grouping(amount, currency):
    for locale in LOCALES:
        grouped = money_format(amount=amount, currency=currency, locale=locale, symbol=False)
        plain = grouped.replace("," if locale == "en" else ".", "")
        assert amount_parse(text=grouped, currency=currency, locale=locale) == amount
        assert amount_parse(text=plain, currency=currency, locale=locale) == amount
