"""The matching engine: order books in memory, sequenced commands, no Django.

One :class:`Engine` holds the books of a set of tickers and the reservations of the investors
trading them. Every command it accepts gets the next sequence number (gap-free, starting at 1)
and is handed to the journal callback *before* it takes effect, so the journal is the exact
history: :meth:`Engine.replay` of the journal into an empty engine rebuilds the same books,
the same reservations and the same trades. What depends on the outside world (an investor's
cash and units, per-investor limits) is checked before a command is sequenced and never again;
everything else (halts, price bands, sessions) is engine state and so replays identically.

Rules:

- Prices are integer minor units of the ticker's currency per unit; quantities are whole units.
- Price-time priority: the best price first, and at one price the earliest order first. A trade
  happens at the resting order's price.
- A limit order rests for what it cannot fill at once (``gtc`` until cancelled, ``day`` until
  the next session end); a market order fills what it can within the price band and the rest is
  cancelled at once.
- Price band: a limit price must lie within ±``band_bps`` of the reference price (the last trade,
  or the listing's reference price before the first trade); a market order never trades outside
  it.
- Halts stop new orders on a ticker; cancels still work.
- An order reserves when accepted: a buy reserves ``price * quantity`` plus the most fee that
  quantity can cost (a market buy at the band's ceiling); a sell reserves its units. Fills draw on
  the reservation; what is left is released when the order closes. Fees are ``fee_bps`` of the
  notional per side, rounded down; floor is superadditive, so the fee of the whole reservation
  always covers the fees of its fills.
- Self-trade prevention: an incoming order that would meet a resting order of the same investor
  cancels that resting order (and goes on matching), so nobody trades with themselves.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

BUY, SELL = "buy", "sell"
LIMIT, MARKET = "limit", "market"
GTC, DAY = "gtc", "day"

OPEN, FILLED, CANCELLED, EXPIRED = "open", "filled", "cancelled", "expired"

# Command kinds as journaled.
LIST, PLACE, CANCEL, HALT, RESUME, SESSION_END = (
    "list",
    "place",
    "cancel",
    "halt",
    "resume",
    "session",
)

MAX_QUANTITY = 10**12
MAX_PRICE = 10**12
BPS = 10_000


class Rejected(ValueError):
    """A command the engine refuses; nothing was sequenced or changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fee_for(notional: int, fee_bps: int) -> int:
    return notional * fee_bps // BPS


@dataclass(slots=True)
class Order:
    id: int
    ticker: str
    investor: int
    side: str
    kind: str
    tif: str
    price: int | None
    quantity: int
    filled: int = 0
    reserved: int = 0  # cash (buys) or units (sells) still reserved
    status: str = OPEN
    client_key: str = ""
    ref: int = 0  # the database row's id, once written (not engine state)

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    def state(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.ticker,
            self.investor,
            self.side,
            self.kind,
            self.tif,
            self.price,
            self.quantity,
            self.filled,
            self.reserved,
            self.status,
        )


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    seq: int
    ticker: str
    currency: str
    price: int
    quantity: int
    buy_order: int
    sell_order: int
    buyer: int
    seller: int
    buyer_fee: int
    seller_fee: int
    aggressor: str  # the side of the incoming order

    @property
    def notional(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Closed:
    """An order left the book; ``released`` (cash or units) went back to the investor."""

    order: Order
    status: str
    released: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Accepted:
    order: Order
    reserved: int


@dataclass(frozen=True, slots=True)
class TickerState:
    ticker: str
    halted: bool
    reason: str


Event = Accepted | Trade | Closed | TickerState


@dataclass(slots=True)
class Result:
    seq: int
    command: dict[str, Any]
    events: list[Event] = field(default_factory=list)

    @property
    def trades(self) -> list[Trade]:
        return [e for e in self.events if isinstance(e, Trade)]

    @property
    def order(self) -> Order | None:
        for e in self.events:
            if isinstance(e, Accepted):
                return e.order
        return None


class Side:
    """One side of a book: price levels, each a FIFO of orders (dicts keep insertion order)."""

    __slots__ = ("is_bid", "levels", "prices")

    def __init__(self, *, is_bid: bool) -> None:
        self.levels: dict[int, dict[int, Order]] = {}
        self.prices: list[int] = []  # ascending; the best is the last for bids, the first for asks
        self.is_bid = is_bid

    def best_price(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def add(self, order: Order) -> None:
        assert order.price is not None
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = {}
            bisect.insort(self.prices, order.price)
        level[order.id] = order

    def remove(self, order: Order) -> None:
        assert order.price is not None
        level = self.levels[order.price]
        del level[order.id]
        if not level:
            del self.levels[order.price]
            i = bisect.bisect_left(self.prices, order.price)
            del self.prices[i]

    def depth(self, limit: int | None = None) -> list[tuple[int, int, int]]:
        """``(price, units, orders)`` per level, best first."""
        prices = reversed(self.prices) if self.is_bid else iter(self.prices)
        out = []
        for price in prices:
            level = self.levels[price]
            out.append((price, sum(o.remaining for o in level.values()), len(level)))
            if limit is not None and len(out) >= limit:
                break
        return out

    def orders(self) -> list[Order]:
        prices = reversed(self.prices) if self.is_bid else iter(self.prices)
        return [o for p in prices for o in self.levels[p].values()]


@dataclass(slots=True)
class Book:
    ticker: str
    currency: str
    reference_price: int
    band_bps: int
    fee_bps: int
    bids: Side = field(default_factory=lambda: Side(is_bid=True))
    asks: Side = field(default_factory=lambda: Side(is_bid=False))
    last_price: int | None = None
    halted: bool = False
    halt_reason: str = ""

    def band(self) -> tuple[int, int]:
        """The lowest and highest price an order may name (and a market order may trade at)."""
        ref = self.last_price if self.last_price is not None else self.reference_price
        width = ref * self.band_bps // BPS
        return max(1, ref - width), ref + width

    def state(self) -> tuple[Any, ...]:
        return (
            self.ticker,
            self.currency,
            self.reference_price,
            self.band_bps,
            self.fee_bps,
            self.last_price,
            self.halted,
            self.halt_reason,
            tuple(o.state() for o in self.bids.orders()),
            tuple(o.state() for o in self.asks.orders()),
        )


Journal = Callable[[int, dict[str, Any]], None]
FundsCheck = Callable[[int, str, int], int]  # (investor, asset, needed) -> available


class Engine:
    """Books, reservations and the sequence; see the module docstring for the rules.

    ``fee_bps`` is the default fee of a listing whose command names none; the fee of each
    ticker is part of its journaled listing, so a changed setting never changes a replay.
    ``journal(seq, command)`` is called for every accepted command before it takes effect; it
    may raise to refuse it (then nothing changes and the sequence does not advance).
    ``cash`` and ``units`` are what each investor may still reserve: ``cash[(investor,
    currency)]`` and ``units[(investor, ticker)]``; the engine debits them on reservation and
    credits them on release and fills. The caller keeps them in step with the outside world
    (deposits, payouts, primary allocations) through :meth:`credit`.
    """

    def __init__(self, *, fee_bps: int = 50, journal: Journal | None = None) -> None:
        if not 0 <= fee_bps < BPS:
            raise ValueError("fee_bps must be in [0, 10000)")
        self.fee_bps = fee_bps
        self.journal = journal
        self.seq = 0
        self.trade_seq = 0
        self.books: dict[str, Book] = {}
        self.orders: dict[int, Order] = {}  # open orders only
        self.cash: dict[tuple[int, str], int] = {}
        self.units: dict[tuple[int, str], int] = {}
        # Units backing open sell orders, per (investor, ticker): kept as it changes, so the
        # sequencer can turn a holding into what may still be sold without a scan.
        self.units_reserved: dict[tuple[int, str], int] = {}
        self.fees: dict[str, int] = {}
        self.trades_total = 0

    # --- outside world ------------------------------------------------------------------

    def credit(self, *, investor: int, asset: str, amount: int, kind: str) -> None:
        """Add ``amount`` (may be negative) to what ``investor`` may reserve (not sequenced)."""
        store = self.cash if kind == "cash" else self.units
        key = (investor, asset)
        value = store.get(key, 0) + amount
        if value < 0:
            raise ValueError(f"{kind} of {investor} in {asset} would go negative")
        store[key] = value

    # --- commands -----------------------------------------------------------------------

    def submit(self, command: dict[str, Any]) -> Result:
        """Check, sequence, journal and apply one command; raises :class:`Rejected`."""
        self._check(command)
        seq = self.seq + 1
        if self.journal is not None:
            self.journal(seq, command)
        return self._apply(seq, command)

    def replay(self, entries: Iterable[tuple[int, dict[str, Any]]]) -> list[Result]:
        """Apply journaled commands in order; the sequence must continue without a gap.

        External checks (funds) are not repeated: they passed when the command was sequenced.
        Reservations still move what the engine knows, so an engine that starts from the same
        ``cash``/``units`` ends with the same ones.
        """
        out = []
        for seq, command in entries:
            if seq != self.seq + 1:
                raise ValueError(f"journal gap: expected {self.seq + 1}, got {seq}")
            self._check(command, trusted=True)
            out.append(self._apply(seq, command))
        return out

    def _check(self, command: dict[str, Any], *, trusted: bool = False) -> None:
        kind = command.get("k")
        if kind == PLACE:
            self._check_place(command, trusted=trusted)
        elif kind == CANCEL:
            order = self.orders.get(command.get("id", -1))
            if order is None:
                raise Rejected("unknown_order", "no open order with this id")
            if command.get("inv") is not None and command["inv"] != order.investor:
                raise Rejected("unknown_order", "no open order with this id")
        elif kind == LIST:
            ticker = command.get("t")
            if not isinstance(ticker, str) or not ticker:
                raise Rejected("ticker", "a ticker is required")
            if ticker in self.books:
                raise Rejected("ticker", f"{ticker} is already listed")
            ref, band = command.get("ref"), command.get("band")
            if not _positive_int(ref, MAX_PRICE) or not _positive_int(band, BPS - 1):
                raise Rejected("ticker", "reference price and band must be positive integers")
            fee = command.get("fee", self.fee_bps)
            if not isinstance(fee, int) or not 0 <= fee < BPS:
                raise Rejected("ticker", "fee must be basis points in [0, 10000)")
            cur = command.get("cur")
            if not isinstance(cur, str) or len(cur) != 3:
                raise Rejected("ticker", "currency must be a 3-letter code")
        elif kind in (HALT, RESUME, SESSION_END):
            ticker = command.get("t")
            if ticker is not None and ticker not in self.books:
                raise Rejected("ticker", f"{ticker} is not listed")
            if kind in (HALT, RESUME) and ticker is None:
                raise Rejected("ticker", "a ticker is required")
        else:
            raise Rejected("command", f"unknown command {kind!r}")

    def _check_place(self, c: dict[str, Any], *, trusted: bool) -> None:
        book = self.books.get(c.get("t", ""))
        if book is None:
            raise Rejected("ticker", "this ticker is not listed")
        if book.halted:
            raise Rejected("halted", f"trading in {book.ticker} is halted: {book.halt_reason}")
        side, kind, tif = c.get("side"), c.get("kind"), c.get("tif", GTC)
        if side not in (BUY, SELL):
            raise Rejected("side", "side must be buy or sell")
        if kind not in (LIMIT, MARKET):
            raise Rejected("kind", "kind must be limit or market")
        if tif not in (GTC, DAY):
            raise Rejected("tif", "time in force must be gtc or day")
        if not _positive_int(c.get("q"), MAX_QUANTITY):
            raise Rejected("quantity", "quantity must be a whole number of units, at least 1")
        if not isinstance(c.get("inv"), int):
            raise Rejected("investor", "an investor is required")
        low, high = book.band()
        price = c.get("p")
        if kind == LIMIT:
            if not _positive_int(price, MAX_PRICE):
                raise Rejected("price", "a limit order needs a price of at least one minor unit")
            if not low <= int(price) <= high:  # type: ignore[arg-type]
                raise Rejected("price", f"price is outside today's band ({low} to {high} per unit)")
        elif price is not None:
            raise Rejected("price", "a market order has no price")
        if trusted:
            return
        needed = self._reservation(c, book)
        if side == BUY:
            have = self.cash.get((c["inv"], book.currency), 0)
            if have < needed:
                raise Rejected("funds", "not enough available cash for this order and its fee")
        else:
            have = self.units.get((c["inv"], book.ticker), 0)
            if have < needed:
                raise Rejected("units", "not enough units available to sell")

    def _reservation(self, c: dict[str, Any], book: Book) -> int:
        if c["side"] == SELL:
            return int(c["q"])
        price = c["p"] if c["kind"] == LIMIT else book.band()[1]
        notional = price * c["q"]
        return notional + fee_for(notional, book.fee_bps)

    def _apply(self, seq: int, c: dict[str, Any]) -> Result:
        self.seq = seq
        result = Result(seq=seq, command=c)
        kind = c["k"]
        if kind == PLACE:
            self._place(seq, c, result)
        elif kind == CANCEL:
            order = self.orders[c["id"]]
            self._close(order, CANCELLED, result, reason=c.get("why", "cancelled"))
        elif kind == LIST:
            self.books[c["t"]] = Book(
                ticker=c["t"],
                currency=c["cur"],
                reference_price=c["ref"],
                band_bps=c["band"],
                fee_bps=c.get("fee", self.fee_bps),
            )
        elif kind in (HALT, RESUME):
            book = self.books[c["t"]]
            book.halted = kind == HALT
            book.halt_reason = c.get("why", "") if kind == HALT else ""
            result.events.append(TickerState(book.ticker, book.halted, book.halt_reason))
        elif kind == SESSION_END:
            ticker = c.get("t")
            for order in [o for o in self.orders.values() if o.tif == DAY]:
                if ticker is None or order.ticker == ticker:
                    self._close(order, EXPIRED, result, reason="day order expired")
        return result

    def _place(self, seq: int, c: dict[str, Any], result: Result) -> None:
        book = self.books[c["t"]]
        reserved = self._reservation(c, book)
        order = Order(
            id=seq,
            ticker=book.ticker,
            investor=c["inv"],
            side=c["side"],
            kind=c["kind"],
            tif=c.get("tif", GTC),
            price=c.get("p"),
            quantity=c["q"],
            reserved=reserved,
            client_key=c.get("ck", ""),
        )
        if order.side == BUY:
            key = (order.investor, book.currency)
            self.cash[key] = self.cash.get(key, 0) - reserved
        else:
            key = (order.investor, book.ticker)
            self.units[key] = self.units.get(key, 0) - reserved
            self.units_reserved[key] = self.units_reserved.get(key, 0) + reserved
        self.orders[order.id] = order
        result.events.append(Accepted(order, reserved))
        self._match(book, order, result)
        if order.status != OPEN:
            return
        if order.kind == MARKET:
            self._close(order, CANCELLED, result, reason="market order: no more liquidity in band")
        else:
            (book.bids if order.side == BUY else book.asks).add(order)

    def _match(self, book: Book, order: Order, result: Result) -> None:
        contra = book.asks if order.side == BUY else book.bids
        low, high = book.band()
        while order.remaining > 0:
            best = contra.best_price()
            if best is None:
                break
            if order.side == BUY:
                limit = order.price if order.price is not None else high
                if best > limit:
                    break
            else:
                limit = order.price if order.price is not None else low
                if best < limit:
                    break
            level = contra.levels[best]
            resting = next(iter(level.values()))
            if resting.investor == order.investor:
                self._close(resting, CANCELLED, result, reason="self-trade prevention")
                continue
            qty = min(order.remaining, resting.remaining)
            buy, sell = (order, resting) if order.side == BUY else (resting, order)
            self._fill(book, buy, sell, best, qty, order.side, result)
            if resting.remaining == 0:
                self._close(resting, FILLED, result)
        if order.remaining == 0:
            self._close(order, FILLED, result)

    def _fill(
        self,
        book: Book,
        buy: Order,
        sell: Order,
        price: int,
        qty: int,
        aggressor: str,
        result: Result,
    ) -> None:
        notional = price * qty
        bfee = fee_for(notional, book.fee_bps)
        sfee = fee_for(notional, book.fee_bps)
        self.trade_seq += 1
        trade = Trade(
            id=self.trade_seq,
            seq=result.seq,
            ticker=book.ticker,
            currency=book.currency,
            price=price,
            quantity=qty,
            buy_order=buy.id,
            sell_order=sell.id,
            buyer=buy.investor,
            seller=sell.investor,
            buyer_fee=bfee,
            seller_fee=sfee,
            aggressor=aggressor,
        )
        buy.filled += qty
        sell.filled += qty
        buy.reserved -= notional + bfee
        sell.reserved -= qty
        assert buy.reserved >= 0 and sell.reserved >= 0, "a reservation went negative"
        ckey = (sell.investor, book.currency)
        self.cash[ckey] = self.cash.get(ckey, 0) + notional - sfee
        ukey = (buy.investor, book.ticker)
        self.units[ukey] = self.units.get(ukey, 0) + qty
        skey = (sell.investor, book.ticker)
        self.units_reserved[skey] -= qty
        self.fees[book.currency] = self.fees.get(book.currency, 0) + bfee + sfee
        book.last_price = price
        self.trades_total += 1
        result.events.append(trade)

    def _close(self, order: Order, status: str, result: Result, *, reason: str = "") -> None:
        book = self.books[order.ticker]
        side = book.bids if order.side == BUY else book.asks
        if order.price is not None and order.id in side.levels.get(order.price, {}):
            side.remove(order)
        released = order.reserved
        order.reserved = 0
        order.status = status
        if released:
            if order.side == BUY:
                key = (order.investor, book.currency)
                self.cash[key] = self.cash.get(key, 0) + released
            else:
                key = (order.investor, book.ticker)
                self.units[key] = self.units.get(key, 0) + released
                self.units_reserved[key] -= released
        del self.orders[order.id]
        result.events.append(Closed(order, status, released, reason))

    # --- reads --------------------------------------------------------------------------

    def state(self) -> tuple[Any, ...]:
        """Everything that replay must reproduce, as comparable plain values."""
        return (
            self.seq,
            self.trade_seq,
            tuple(self.books[t].state() for t in sorted(self.books)),
            tuple(sorted(self.cash.items())),
            tuple(sorted(self.units.items())),
            tuple(sorted(self.fees.items())),
        )

    def reserved_cash(self) -> dict[tuple[int, str], int]:
        out: dict[tuple[int, str], int] = {}
        for o in self.orders.values():
            if o.side == BUY:
                key = (o.investor, self.books[o.ticker].currency)
                out[key] = out.get(key, 0) + o.reserved
        return out

    def reserved_units(self) -> dict[tuple[int, str], int]:
        out: dict[tuple[int, str], int] = {}
        for o in self.orders.values():
            if o.side == SELL:
                key = (o.investor, o.ticker)
                out[key] = out.get(key, 0) + o.reserved
        return out


def _positive_int(value: object, maximum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum
