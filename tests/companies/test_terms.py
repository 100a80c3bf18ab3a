"""The pure arithmetic of agreement terms (no database)."""

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companies import terms
from faiross.kernel.shares import FULL_SHARE

D = dt.date


@given(amount=st.integers(0, 10**15), millibips=st.integers(0, FULL_SHARE))
def test_share_of_is_the_exact_share_rounded_down(amount, millibips):
    exact = Fraction(amount * millibips, FULL_SHARE)
    got = terms.share_of(amount=amount, millibips=millibips)
    assert got <= exact < got + 1


@given(
    amount=st.integers(0, 10**15),
    millibips=st.integers(0, FULL_SHARE),
    portion=st.integers(0, FULL_SHARE),
)
def test_share_of_share_rounds_once(amount, millibips, portion):
    exact = Fraction(amount * millibips * portion, FULL_SHARE**2)
    got = terms.share_of_share(amount=amount, millibips=millibips, portion_millibips=portion)
    assert got <= exact < got + 1


def test_rounding_examples_in_faiross_disfavour():
    # 1% of 12,345.67 is 123.4567: FairOSS gets 123.45, never 123.46.
    assert terms.share_of(amount=1_234_567, millibips=100_000) == 12_345
    assert terms.share_of(amount=99, millibips=100_000) == 0
    assert terms.share_of(amount=10_000_000, millibips=1) == 1
    with pytest.raises(ValueError):
        terms.share_of(amount=-1, millibips=1)
    with pytest.raises(ValueError):
        terms.share_of(amount=1, millibips=FULL_SHARE + 1)


def test_add_months_clamps_to_the_end_of_the_month():
    assert terms.add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert terms.add_months(D(2028, 1, 31), 1) == D(2028, 2, 29)
    assert terms.add_months(D(2026, 1, 31), 2) == D(2026, 3, 31)
    assert terms.add_months(D(2026, 11, 15), 14) == D(2028, 1, 15)


def test_months_elapsed_counts_whole_months():
    assert terms.months_elapsed(D(2026, 1, 31), D(2026, 2, 27)) == 0
    assert terms.months_elapsed(D(2026, 1, 31), D(2026, 2, 28)) == 1
    assert terms.months_elapsed(D(2025, 3, 10), D(2026, 3, 9)) == 11
    assert terms.months_elapsed(D(2025, 3, 10), D(2026, 3, 10)) == 12
    assert terms.months_elapsed(D(2026, 3, 10), D(2025, 3, 10)) == 0


def vested(on, **kw):
    args = {
        "start": D(2024, 1, 15),
        "cliff_months": 12,
        "vesting_months": 48,
        "time_millibips": FULL_SHARE,
    }
    args.update(kw)
    return terms.time_vested_millibips(on=on, **args)


def test_time_vesting_cliff_then_monthly_then_all():
    assert vested(D(2024, 1, 14)) == 0
    assert vested(D(2025, 1, 14)) == 0  # one day before the cliff
    assert vested(D(2025, 1, 15)) == 2_500_000  # 12/48 at the cliff
    assert vested(D(2025, 2, 15)) == 10_000_000 * 13 // 48  # rounded down
    assert vested(D(2028, 1, 15)) == FULL_SHARE
    assert vested(D(2040, 1, 1)) == FULL_SHARE
    assert vested(D(2024, 1, 15), vesting_months=0, cliff_months=0) == FULL_SHARE
    assert vested(D(2030, 1, 1), time_millibips=0) == 0


@given(day=st.dates(D(2023, 1, 1), D(2030, 1, 1)), extra=st.integers(1, 400))
def test_time_vesting_never_decreases(day, extra):
    later = day + dt.timedelta(days=extra)
    assert vested(day) <= vested(later) <= FULL_SHARE


def test_pledge_periods_never_drift_and_stop_at_the_end():
    periods = terms.pledge_periods(start=D(2026, 1, 31), period="monthly", until=D(2026, 4, 29))
    assert periods == [
        (D(2026, 1, 31), D(2026, 2, 27)),
        (D(2026, 2, 28), D(2026, 3, 30)),
        (D(2026, 3, 31), D(2026, 4, 29)),
    ]
    yearly = terms.pledge_periods(start=D(2024, 1, 1), period="yearly", until=D(2026, 11, 22))
    assert [p[0] for p in yearly] == [D(2024, 1, 1), D(2025, 1, 1), D(2026, 1, 1)]
    assert yearly[0][1] == D(2024, 12, 31)
    ended = terms.pledge_periods(
        start=D(2026, 1, 1), period="quarterly", until=D(2026, 12, 31), end=D(2026, 7, 1)
    )
    assert [p[0] for p in ended] == [D(2026, 1, 1), D(2026, 4, 1)]
    assert terms.pledge_periods(start=D(2027, 1, 1), period="monthly", until=D(2026, 1, 1)) == []
