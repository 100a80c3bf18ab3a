"""Property tests (hypothesis): the auction's allocation and the holders' distribution
conserve exactly what they split, and keep the uniform-price rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from market.auction import Bid, auction_clear, split_by_units

bids_strategy = st.lists(
    st.tuples(st.integers(1, 500), st.integers(10, 30)), min_size=0, max_size=25
).map(lambda rows: [Bid(i, units, limit) for i, (units, limit) in enumerate(rows)])


@settings(max_examples=300, deadline=None)
@given(bids=bids_strategy, supply=st.integers(1, 3_000))
def test_auction_conserves_units_and_keeps_one_price(bids, supply):
    result = auction_clear(bids=bids, supply=supply, floor=10)
    demand = sum(b.units for b in bids)
    assert result.units_sold == min(supply, demand)
    assert set(result.units) == {b.key for b in bids}
    for bid in bids:
        got = result.units[bid.key]
        assert 0 <= got <= bid.units
        if bid.limit > result.price:
            assert got == bid.units  # above the clearing price: filled
        if bid.limit < result.price:
            assert got == 0  # below it: nothing
    at_price = [b for b in bids if b.limit == result.price]
    if at_price and demand > supply:
        # The margin is shared pro rata: each within one unit of its exact share.
        left = supply - sum(b.units for b in bids if b.limit > result.price)
        wanted = sum(b.units for b in at_price)
        for bid in at_price:
            exact = left * bid.units / wanted
            assert abs(result.units[bid.key] - exact) < 1
    if bids:
        assert result.price >= min(b.limit for b in bids)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(0, 10**9),
    units=st.lists(st.integers(0, 10**6), min_size=1, max_size=40).filter(lambda u: sum(u) > 0),
)
def test_distribution_to_holders_is_exact_to_the_cent(amount, units):
    holders = list(enumerate(units))
    parts = split_by_units(amount=amount, holders=holders)
    assert sum(parts.values()) == amount
    total = sum(units)
    for holder, u in holders:
        exact = amount * u / total
        assert parts[holder] in (int(exact), int(exact) + 1) or abs(parts[holder] - exact) < 1
        if u == 0:
            assert parts[holder] == 0
