"""Orders through the sequencer with PostgreSQL: reservations, trades as balanced ledger
transactions, halts, cancels, and recovery from the journal."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import Sum

from market.engine import sequencer as seqmod
from market.engine.services import order_cancel, order_place
from market.engine.world import world_build
from market.models import Holding, JournalEntry, Order, Ticker, Trade, UnitMovement
from payouts.models import LedgerTransaction, Posting

pytestmark = pytest.mark.django_db

CASH0 = 100_000
UNITS0 = 50


@pytest.fixture(autouse=True)
def fresh_sequencer():
    seqmod.sequencer_reset()
    yield
    seqmod.sequencer_reset()


@pytest.fixture
def world():
    w = world_build(prefix="TS", tickers=1, investors=3, cash=CASH0, units=UNITS0, price=1000)
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk(w.investors)
    return w, Ticker.objects.get(symbol=w.tickers[0]), [users[i] for i in w.investors]


def balance(owner: str, purpose: str) -> int:
    return (
        Posting.objects.filter(account__owner=owner, account__purpose=purpose).aggregate(
            t=Sum("amount")
        )["t"]
        or 0
    )


def test_a_cross_is_one_balanced_transaction_moving_cash_units_and_fees(world):
    _, ticker, (ann, bob, _) = world
    sell = order_place(user=ann, ticker=ticker, side="sell", units=10, price=1100)
    assert sell.reserved_units == 10 and sell.status == "open"
    assert Holding.objects.get(investor=ann, ticker=ticker).reserved_units == 10
    buy = order_place(user=bob, ticker=ticker, side="buy", units=4, price=1150)
    (trade,) = Trade.objects.all()
    assert (trade.price, trade.units, trade.buyer_fee, trade.seller_fee) == (1100, 4, 22, 22)
    assert (trade.buyer_id, trade.seller_id) == (bob.pk, ann.pk)
    txn = trade.transaction
    assert txn.kind == "market_trade"
    assert sum(p.amount for p in txn.postings.all()) == 0
    assert balance(f"user:{bob.username}", "cash") == CASH0 - (4400 + 22)  # the fill and its fee
    assert balance(f"user:{bob.username}", "cash_held") == 0  # filled: the rest came back
    assert balance(f"user:{ann.username}", "cash") == CASH0 + 4400 - 22
    assert balance("platform", "fees") == 44
    buy.refresh_from_db()
    sell.refresh_from_db()
    assert buy.status == "filled" and buy.remaining == 0 and buy.reserved_cash == 0
    assert sell.status == "open" and sell.remaining == 6 and sell.reserved_units == 6
    assert Holding.objects.get(investor=bob, ticker=ticker).units == UNITS0 + 4
    ann_holding = Holding.objects.get(investor=ann, ticker=ticker)
    assert (ann_holding.units, ann_holding.reserved_units) == (UNITS0 - 4, 6)
    move = UnitMovement.objects.get(kind="trade")
    assert (move.from_investor_id, move.to_investor_id, move.units) == (ann.pk, bob.pk, 4)
    assert move.reference == f"trade:{trade.sequence}"
    call_command("ledger_check")


def test_reservation_prevents_double_spend_and_cancel_releases(world):
    _, ticker, (ann, _, _) = world
    first = order_place(user=ann, ticker=ticker, side="buy", units=80, price=1000)
    assert balance(f"user:{ann.username}", "cash_held") == 80_000 + 400
    with pytest.raises(ValidationError) as err:
        order_place(user=ann, ticker=ticker, side="buy", units=20, price=1000)
    assert "price" in err.value.message_dict
    with pytest.raises(ValidationError):
        order_place(user=ann, ticker=ticker, side="sell", units=UNITS0 + 1, price=1000)
    cancelled = order_cancel(user=ann, order=first)
    assert cancelled.status == "cancelled" and cancelled.reserved_cash == 0
    assert balance(f"user:{ann.username}", "cash") == CASH0
    # one reservation transaction per batch that reserved or released: the order, its cancel
    assert LedgerTransaction.objects.filter(kind="market_reserve").count() == 2
    with pytest.raises(ValidationError):
        order_cancel(user=ann, order=cancelled)
    call_command("ledger_check")


def test_band_refusal_names_the_price_and_sequences_nothing(world):
    _, ticker, (ann, _, _) = world
    order_place(user=ann, ticker=ticker, side="buy", units=1, price=1000)
    before = JournalEntry.objects.count()
    with pytest.raises(ValidationError) as err:
        order_place(user=ann, ticker=ticker, side="buy", units=1, price=1201)
    assert "band" in err.value.message_dict["price"][0]
    assert JournalEntry.objects.count() == before
    seqs = list(JournalEntry.objects.values_list("sequence", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_an_open_ownership_dispute_halts_the_ticker_cancels_still_work(world):
    from tests.factories import DisputeFactory

    _, ticker, (ann, bob, _) = world
    order = order_place(user=ann, ticker=ticker, side="sell", units=2, price=1000)
    DisputeFactory(target=f"project:{ticker.project.slug}", kind="ownership")
    with pytest.raises(ValidationError) as err:
        order_place(user=bob, ticker=ticker, side="buy", units=2, price=1000)
    assert "dispute" in err.value.message_dict["ticker"][0]
    assert order_cancel(user=ann, order=order).status == "cancelled"
    assert JournalEntry.objects.filter(command__k="halt").count() == 1


def test_broker_dealer_halt_and_resume(world):
    _, ticker, (ann, _, _) = world
    order_place(user=ann, ticker=ticker, side="sell", units=1, price=1000)
    Ticker.objects.filter(pk=ticker.pk).update(status="halted", halt_reason="news pending")
    with pytest.raises(ValidationError, match="news pending"):
        order_place(user=ann, ticker=ticker, side="sell", units=1, price=1000)
    Ticker.objects.filter(pk=ticker.pk).update(status="approved", halt_reason="")
    assert order_place(user=ann, ticker=ticker, side="sell", units=1, price=1000).status == "open"


def test_client_order_id_makes_a_repeat_return_the_first_order(world):
    _, ticker, (ann, _, _) = world
    one = order_place(
        user=ann, ticker=ticker, side="sell", units=1, price=1000, client_order_id="a1"
    )
    two = order_place(
        user=ann, ticker=ticker, side="sell", units=1, price=1000, client_order_id="a1"
    )
    assert one.pk == two.pk and Order.objects.count() == 1


def test_a_fresh_process_recovers_the_same_book_from_the_journal(world):
    _, ticker, (ann, bob, cid) = world
    order_place(user=ann, ticker=ticker, side="sell", units=5, price=1010)
    order_place(user=ann, ticker=ticker, side="sell", units=5, price=1000)
    order_place(user=bob, ticker=ticker, side="buy", units=7, price=1010)
    order_place(user=cid, ticker=ticker, side="buy", units=3, price=990, time_in_force="day")
    live = seqmod.sequencer().engine
    state, trades = live.state()[:3], live.trades_total
    seqmod.sequencer_reset()
    fresh = seqmod.sequencer()
    fresh.recover()
    assert fresh.engine.state()[:3] == state and fresh.engine.trades_total == trades == 2
    # the recovered engine keeps trading where the other stopped, against the same rows
    order_place(user=cid, ticker=ticker, side="buy", units=3, price=1010)
    assert Trade.objects.count() == 3
    assert sorted(Trade.objects.values_list("sequence", flat=True)) == [1, 2, 3]
    call_command("ledger_check")


def test_a_second_process_catches_up_from_the_journal(world):
    _, ticker, (ann, bob, _) = world
    order_place(user=ann, ticker=ticker, side="sell", units=5, price=1000)
    other = seqmod.Sequencer()  # another web worker with its own engine
    (outcome,) = other.submit(
        [
            {
                "k": "place",
                "t": ticker.symbol,
                "inv": bob.pk,
                "side": "buy",
                "kind": "limit",
                "q": 5,
                "p": 1000,
            }
        ]
    )
    assert outcome.accepted and len(outcome.result.trades) == 1
    # this process's engine has not seen it, and catches up before its next command
    order = order_place(user=ann, ticker=ticker, side="sell", units=1, price=1000)
    assert order.status == "open"
    other.submit([])  # and the other catches up with that one
    assert seqmod.sequencer().engine.state()[:3] == other.engine.state()[:3]


def test_engine_checks_pass_after_trading_and_find_a_broken_reservation(world):
    from market.engine.checks import engine_problems

    _, ticker, (ann, bob, cid) = world
    order_place(user=ann, ticker=ticker, side="sell", units=5, price=1000)
    order_place(user=bob, ticker=ticker, side="buy", units=3, price=1000)
    order_place(user=cid, ticker=ticker, side="buy", units=3, price=990)
    assert all(not found for _, found in engine_problems())
    Order.objects.filter(investor=cid).update(reserved_cash=1)  # as if memory and rows drifted
    problems = dict(engine_problems())
    assert problems["reserved cash equals what open buy orders still reserve"]
