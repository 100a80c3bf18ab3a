"""faiross.kernel.shares: 100% in millibips, and percent <-> millibips (no database)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from faiross.kernel.shares import (
    FULL_SHARE,
    MILLIBIPS_PER_PERCENT,
    format_percent,
    millibips_to_percent,
    percent_to_millibips,
)

LOCALES = ["en", "de", "fr", "de_CH", "en-us"]


def test_constants():
    assert FULL_SHARE == 10_000_000
    assert MILLIBIPS_PER_PERCENT * 100 == FULL_SHARE


@given(millibips=st.integers(0, FULL_SHARE), locale=st.sampled_from(LOCALES))
def test_round_trip(millibips, locale):
    text = millibips_to_percent(millibips=millibips, locale=locale)
    assert percent_to_millibips(text=text, locale=locale) == millibips
    shown = format_percent(millibips=millibips, locale=locale)
    assert percent_to_millibips(text=shown, locale=locale) == millibips


def _reference_percent(millibips: int) -> str:
    """The hand-written formatter faiross.toml used before the kernel's (English)."""
    sign = "-" if millibips < 0 else ""
    whole, fraction = divmod(abs(millibips), 100_000)
    text = f"{whole:,}"
    if fraction:
        text += "." + f"{fraction:05d}".rstrip("0")
    return f"{sign}{text}%"


@given(millibips=st.integers(-(10**13), 10**13))
def test_english_display_is_the_exact_trimmed_percentage(millibips):
    # faiross.toml's comments rely on this staying byte-identical.
    assert format_percent(millibips=millibips, locale="en") == _reference_percent(millibips)


@pytest.mark.parametrize(
    ("millibips", "locale", "number", "shown"),
    [
        (FULL_SHARE, "en", "100", "100%"),
        (1_250_000, "en", "12.5", "12.5%"),
        (1_250_000, "de", "12,5", "12,5\xa0%"),
        (1, "en", "0.00001", "0.00001%"),
        (3_333_333, "de", "33,33333", "33,33333\xa0%"),
        (0, "en", "0", "0%"),
    ],
)
def test_format(millibips, locale, number, shown):
    assert millibips_to_percent(millibips=millibips, locale=locale) == number
    assert format_percent(millibips=millibips, locale=locale) == shown


@pytest.mark.parametrize(
    ("text", "locale", "millibips"),
    [
        ("40", "en", 4_000_000),
        ("12.5", "en", 1_250_000),
        ("12.5%", "en", 1_250_000),
        (" 3.14159 ", "en", 314_159),
        ("0.00001", "en", 1),
        ("100%", "en", FULL_SHARE),
        ("100.00000", "en", FULL_SHARE),
        ("12,5", "de", 1_250_000),
        ("12,5 %", "de", 1_250_000),
        ("0", "en", 0),
    ],
)
def test_parse(text, locale, millibips):
    assert percent_to_millibips(text=text, locale=locale) == millibips


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("abc", "is not a percentage"),
        ("1e2", "is not a percentage"),
        ("NaN", "is not a percentage"),
        ("inf", "is not a percentage"),
        ("", "Enter a percentage"),
        ("0.000001", "more decimals than a percentage can have (5)"),
        ("-1", "negative"),
        ("100.00001", "more than 100%"),
        ("12,5", "Did you mean 12.5%?"),
    ],
)
def test_parse_refuses(text, says):
    with pytest.raises(ValidationError) as exc:
        percent_to_millibips(text=text, locale="en", field="share_millibips")
    assert says in " ".join(exc.value.message_dict["share_millibips"])


def test_active_language():
    with translation.override("de"):
        assert percent_to_millibips(text="12,5") == 1_250_000
        assert format_percent(millibips=1_250_000) == "12,5\xa0%"
    with translation.override("en-us"):
        assert millibips_to_percent(millibips=1_250_000) == "12.5"


@given(text=st.text(max_size=30))
def test_parse_never_fails_otherwise(text):
    try:
        millibips = percent_to_millibips(text=text, locale="en")
    except ValidationError as exc:
        assert set(exc.message_dict) == {"share"}
    else:
        assert 0 <= millibips <= FULL_SHARE
