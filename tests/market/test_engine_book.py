"""The matching engine's rules and its conservation laws (pure: no database)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.engine.book import (
    BUY,
    CANCEL,
    DAY,
    GTC,
    HALT,
    LIMIT,
    LIST,
    MARKET,
    PLACE,
    RESUME,
    SELL,
    SESSION_END,
    Closed,
    Engine,
    Rejected,
    Trade,
    fee_for,
)

TICKERS = ("ABC", "XYZ")
INVESTORS = range(1, 6)
START_CASH = 1_000_000
START_UNITS = 500


def engine_with_funds(*, fee_bps: int = 50, journal: list | None = None) -> Engine:
    engine = Engine(
        fee_bps=fee_bps,
        journal=(lambda s, c: journal.append((s, c))) if journal is not None else None,
    )
    for t in TICKERS:
        engine.submit({"k": LIST, "t": t, "cur": "usd", "ref": 100, "band": 2000})
    for inv in INVESTORS:
        engine.credit(investor=inv, asset="usd", amount=START_CASH, kind="cash")
        for t in TICKERS:
            engine.credit(investor=inv, asset=t, amount=START_UNITS, kind="units")
    return engine


def place(
    inv: int, side: str, qty: int, price: int | None = None, *, tif: str = GTC, t: str = "ABC"
) -> dict[str, Any]:
    kind = LIMIT if price is not None else MARKET
    c: dict[str, Any] = {
        "k": PLACE,
        "t": t,
        "inv": inv,
        "side": side,
        "kind": kind,
        "q": qty,
        "tif": tif,
    }
    if price is not None:
        c["p"] = price
    return c


def test_price_time_priority_and_partial_fills():
    e = engine_with_funds(fee_bps=0)
    first = e.submit(place(1, SELL, 10, 101)).order
    second = e.submit(place(2, SELL, 10, 101)).order
    cheaper = e.submit(place(3, SELL, 5, 100)).order
    result = e.submit(place(4, BUY, 12, 101))
    fills = [(t.sell_order, t.price, t.quantity) for t in result.trades]
    # the best price first, then the earliest order at a price; trades at the resting price
    assert fills == [(cheaper.id, 100, 5), (first.id, 101, 7)]
    assert e.orders[first.id].remaining == 3
    assert second.id in e.orders and e.orders[second.id].filled == 0
    assert e.books["ABC"].last_price == 101
    assert e.books["ABC"].asks.depth() == [(101, 13, 2)]


def test_buy_reservation_covers_fees_and_leftover_is_released():
    e = engine_with_funds(fee_bps=50)
    e.submit(place(1, SELL, 10, 95))
    result = e.submit(place(2, BUY, 10, 110))
    (trade,) = result.trades
    assert trade.price == 95 and trade.buyer_fee == fee_for(950, 50) == 4
    closed = [ev for ev in result.events if isinstance(ev, Closed) and ev.order.investor == 2]
    # reserved 1100 + 5 fee; paid 950 + 4: the rest comes back when the order closes
    assert closed[0].released == 1105 - 954
    assert e.cash[(2, "usd")] == START_CASH - 954
    assert e.cash[(1, "usd")] == START_CASH + 950 - 4
    assert e.fees["usd"] == 8


def test_market_order_stays_inside_band_and_rest_is_cancelled():
    e = engine_with_funds(fee_bps=0)
    e.submit(place(1, SELL, 5, 110))
    e.submit(place(1, SELL, 5, 120))
    result = e.submit(place(2, BUY, 20))
    assert [(t.price, t.quantity) for t in result.trades] == [(110, 5), (120, 5)]
    assert result.order.status == "cancelled" and result.order.filled == 10
    assert e.orders == {}


def test_price_band_refuses_out_of_band_limit_orders():
    e = engine_with_funds()
    with pytest.raises(Rejected) as err:
        e.submit(place(1, BUY, 1, 121))
    assert err.value.code == "price"
    assert e.seq == 2  # the two listings only: a refused command is not sequenced


def test_halt_refuses_orders_but_allows_cancels():
    e = engine_with_funds()
    order = e.submit(place(1, BUY, 1, 100)).order
    e.submit({"k": HALT, "t": "ABC", "why": "ownership dispute open"})
    with pytest.raises(Rejected) as err:
        e.submit(place(2, SELL, 1, 100))
    assert err.value.code == "halted"
    e.submit({"k": CANCEL, "id": order.id, "inv": 1})
    e.submit({"k": RESUME, "t": "ABC"})
    assert e.submit(place(2, SELL, 1, 100)).trades == []


def test_day_orders_expire_at_session_end_gtc_stay():
    e = engine_with_funds()
    day = e.submit(place(1, BUY, 3, 99, tif=DAY)).order
    gtc = e.submit(place(1, BUY, 3, 98, tif=GTC)).order
    result = e.submit({"k": SESSION_END, "t": None})
    assert [ev.order.id for ev in result.events if isinstance(ev, Closed)] == [day.id]
    assert day.status == "expired" and gtc.id in e.orders
    assert e.cash[(1, "usd")] == START_CASH - gtc.reserved


def test_funds_and_units_are_checked_before_sequencing():
    e = engine_with_funds()
    with pytest.raises(Rejected) as err:
        e.submit(place(1, SELL, START_UNITS + 1, 100))
    assert err.value.code == "units"
    with pytest.raises(Rejected) as err:
        e.submit(place(1, BUY, START_CASH // 100, 100))  # the fee makes it one cent short
    assert err.value.code == "funds"
    # a reservation is gone from what may be reserved: no double spend
    e.submit(place(1, SELL, START_UNITS, 110))
    with pytest.raises(Rejected):
        e.submit(place(1, SELL, 1, 111))


def test_self_trade_cancels_the_resting_order():
    e = engine_with_funds()
    mine = e.submit(place(1, SELL, 5, 100)).order
    other = e.submit(place(2, SELL, 5, 101)).order
    result = e.submit(place(1, BUY, 5, 101))
    assert mine.status == "cancelled"
    assert [t.sell_order for t in result.trades] == [other.id]


def test_cancel_needs_the_owner():
    e = engine_with_funds()
    order = e.submit(place(1, BUY, 1, 100)).order
    with pytest.raises(Rejected):
        e.submit({"k": CANCEL, "id": order.id, "inv": 2})
    assert order.id in e.orders


# --- random streams -----------------------------------------------------------------------

place_step = st.tuples(
    st.just("place"),
    st.sampled_from(INVESTORS),
    st.sampled_from(TICKERS),
    st.sampled_from((BUY, SELL)),
    st.sampled_from((LIMIT, LIMIT, LIMIT, MARKET)),
    st.sampled_from((GTC, DAY)),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=75, max_value=130),
)
others = st.one_of(
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("halt"), st.sampled_from(TICKERS), st.integers(0, 3).map(lambda n: n == 0)),
    st.tuples(st.just("session")),
)
# Mostly orders, so books fill and cross; now and then a cancel, a halt or a session end.
command = st.integers(min_value=0, max_value=99).flatmap(lambda n: place_step if n < 85 else others)


def run_stream(steps: list[tuple], journal: list | None = None) -> tuple[Engine, list[Trade]]:
    engine = engine_with_funds(journal=journal)
    trades: list[Trade] = []
    for step in steps:
        if step[0] == "place":
            _, inv, t, side, kind, tif, qty, price = step
            c: dict[str, Any] = {
                "k": PLACE,
                "t": t,
                "inv": inv,
                "side": side,
                "kind": kind,
                "tif": tif,
                "q": qty,
            }
            if kind == LIMIT:
                c["p"] = price
        elif step[0] == "cancel":
            open_ids = sorted(engine.orders)
            if not open_ids:
                continue
            order = engine.orders[open_ids[step[1] % len(open_ids)]]
            c = {"k": CANCEL, "id": order.id, "inv": order.investor}
        elif step[0] == "halt":
            c = {"k": HALT if step[2] else RESUME, "t": step[1], "why": "test"}
        else:
            c = {"k": SESSION_END, "t": None}
        try:
            result = engine.submit(c)
        except Rejected:
            continue
        trades.extend(result.trades)
        check_invariants(engine)
    return engine, trades


def check_invariants(engine: Engine) -> None:
    reserved_cash = engine.reserved_cash()
    total_cash = sum(engine.cash.values()) + sum(reserved_cash.values()) + engine.fees.get("usd", 0)
    assert total_cash == START_CASH * len(INVESTORS)
    reserved_units = engine.reserved_units()
    assert {k: v for k, v in engine.units_reserved.items() if v} == {
        k: v for k, v in reserved_units.items() if v
    }
    for t in TICKERS:
        held = sum(v for (_, tk), v in engine.units.items() if tk == t)
        held += sum(v for (_, tk), v in reserved_units.items() if tk == t)
        assert held == START_UNITS * len(INVESTORS)
    assert all(v >= 0 for v in engine.cash.values()) and all(v >= 0 for v in engine.units.values())
    for book in engine.books.values():
        bid, ask = book.bids.best_price(), book.asks.best_price()
        assert bid is None or ask is None or bid < ask, "the book is crossed"
        for order in book.bids.orders() + book.asks.orders():
            assert order.kind == LIMIT and order.remaining > 0 and order.status == "open"
            if order.side == BUY:
                assert order.price is not None
                notional = order.price * order.remaining
                assert order.reserved >= notional + fee_for(notional, engine.fee_bps)
            else:
                assert order.reserved == order.remaining
    resting = {o.id for b in engine.books.values() for o in b.bids.orders() + b.asks.orders()}
    assert resting == set(engine.orders)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(command, min_size=1, max_size=120))
def test_random_streams_conserve_cash_and_units(steps):
    engine, trades = run_stream(steps)
    for trade in trades:
        assert trade.quantity > 0 and trade.buyer != trade.seller
        assert trade.buyer_fee == fee_for(trade.notional, engine.fee_bps)
    bought = sum(t.quantity for t in trades)
    assert engine.trades_total == len(trades) and bought >= 0
