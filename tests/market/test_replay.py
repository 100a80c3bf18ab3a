"""Replaying the journal into an empty engine reproduces the exact books and trades."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.engine.book import Rejected

from .test_engine_book import command, engine_with_funds, run_stream


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(command, min_size=1, max_size=150))
def test_replay_reproduces_books_reservations_and_trades(steps):
    journal: list = []
    live, trades = run_stream(steps, journal=journal)
    assert [seq for seq, _ in journal] == list(range(1, len(journal) + 1)), "sequence has a gap"
    replayed = engine_with_funds()  # the same outside funds, then only the journal
    replayed.seq = 0
    replayed.books.clear()
    results = replayed.replay(journal)
    assert replayed.state() == live.state()
    assert [t for r in results for t in r.trades] == trades


@settings(max_examples=30, deadline=None)
@given(st.lists(command, min_size=5, max_size=80), st.integers(min_value=0, max_value=79))
def test_replay_of_a_prefix_then_the_rest_equals_the_whole(steps, cut):
    journal: list = []
    live, _ = run_stream(steps, journal=journal)
    cut = min(cut, len(journal))
    engine = engine_with_funds()
    engine.seq = 0
    engine.books.clear()
    engine.replay(journal[:cut])
    engine.replay(journal[cut:])
    assert engine.state() == live.state()


def test_replay_refuses_a_gap():
    journal: list = []
    run_stream([("session",), ("session",)], journal=journal)
    engine = engine_with_funds()
    engine.seq = 0
    engine.books.clear()
    try:
        engine.replay([journal[0], journal[2]])
    except ValueError as err:
        assert "gap" in str(err)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("a gap in the journal was accepted")
    assert not isinstance(Rejected("x", "y"), KeyError)
