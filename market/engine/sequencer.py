"""The sequencer: the engine's books in memory, its journal and its settlement in PostgreSQL.

One :class:`Sequencer` per process holds an :class:`~market.engine.book.Engine`. A batch of
commands is one database transaction (group commit), under a PostgreSQL advisory lock, so only
one sequencer writes at a time whatever the number of processes:

1. catch up: journal entries another process wrote since this engine last wrote are replayed
   (and if the journal no longer matches what this engine applied, the engine is rebuilt);
2. the investors of the batch are locked (their user rows, ascending id: the fixed order every
   debit of ``user:<name>/cash`` must follow) and their cash and units are read, so no two
   orders, and no order and a withdrawal, spend the same money;
3. each command is checked, sequenced and applied in memory;
4. everything the batch did is written in bulk (COPY): journal rows, orders, one ledger
   transaction per trade (cash and fees; its units move in the same database transaction, a
   :class:`~market.models.UnitMovement` and two holdings), and one ledger transaction for the
   batch's reservations and releases (``cash`` <-> ``cash_held``, netted per investor);
5. commit; only then are the commands acknowledged. If anything fails, nothing was written
   and the engine is rebuilt from the journal, so memory never runs ahead of the database.

A process killed at any point therefore loses no acknowledged command (acknowledged means
committed) and duplicates no fill (a trade is written in the transaction of the command that
made it, with a unique sequence and a unique ledger idempotency key); on restart,
:meth:`Sequencer.recover` replays the journal.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from faiross.kernel.bulk import copy_rows, ids_reserve
from market.conf import setting
from payouts.ledger import (
    PLATFORM,
    Leg,
    TransactionDraft,
    accounts_get_or_create,
    ledger_post_many,
)

from .book import (
    BUY,
    HALT,
    LIST,
    PLACE,
    RESUME,
    SELL,
    SESSION_END,
    Accepted,
    Closed,
    Engine,
    Order,
    Rejected,
    Result,
    Trade,
)

# pg_advisory_xact_lock key: "FOSSMKT1" as an integer, so it collides with nothing else we lock.
SEQUENCER_LOCK = 0x464F53534D4B5431 & 0x7FFFFFFFFFFFFFFF

CASH, CASH_HELD, FEES = "cash", "cash_held", "fees"

SQL_BALANCES = (
    "SELECT account_id, SUM(amount) FROM payouts_posting WHERE account_id = ANY(%s) "
    "GROUP BY account_id"
)
KIND_RESERVE, KIND_TRADE = "market_reserve", "market_trade"


def fee_bps_setting() -> int:
    """Each side's fee on a trade, in basis points (the market's one fee setting)."""
    return setting("FAIROSS_MARKET_TRADE_FEE_BIPS")


@dataclass
class Outcome:
    """What one command of a batch got: a sequence number and its result, or a refusal."""

    command: dict[str, Any]
    seq: int | None = None
    result: Result | None = None
    rejected: Rejected | None = None

    @property
    def accepted(self) -> bool:
        return self.seq is not None


@dataclass
class _Batch:
    journal: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


class Sequencer:
    """See the module docstring. Not thread-safe by itself: :meth:`submit` takes a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch = _Batch()
        self.engine = Engine(fee_bps=fee_bps_setting(), journal=self._journal)
        self._last_command: dict[str, Any] | None = None
        self._usernames: dict[int, str] = {}
        self._tickers: dict[str, int] = {}  # symbol -> Ticker id
        self._accounts: dict[tuple[str, str, str], int] = {}
        self._last_session_day: str = ""
        self._client_keys: set[tuple[int, str]] = set()
        self._synced_at = 0.0
        self.sync_interval = float(getattr(settings, "MARKET_SYNC_SECONDS", 0.0))

    # --- journal and recovery -------------------------------------------------------------

    def _journal(self, seq: int, command: dict[str, Any]) -> None:
        self._batch.journal.append((seq, command))

    def recover(self) -> int:
        """Rebuild the engine from the journal alone; returns the last sequence number."""
        from market.models import JournalEntry

        engine = Engine(fee_bps=fee_bps_setting(), journal=self._journal)
        self._client_keys = set()
        self._last_session_day = ""
        last: dict[str, Any] | None = None
        entries = JournalEntry.objects.order_by("sequence").values_list("sequence", "command")
        for seq, command in entries.iterator(chunk_size=5000):
            engine.replay([(seq, command)])
            last = command
            self._note(command)
        self.engine = engine
        self._last_command = last
        self._refs_load(list(engine.orders.values()))
        return engine.seq

    def _refs_load(self, orders: list[Order]) -> None:
        """The database ids of open orders (rows are numbered by the database, orders by
        the engine: ``Order.sequence`` links them)."""
        from market.models import Order as OrderRow

        for i in range(0, len(orders), 5000):
            chunk = orders[i : i + 5000]
            refs = dict(
                OrderRow.objects.filter(sequence__in=[o.id for o in chunk]).values_list(
                    "sequence", "id"
                )
            )
            for order in chunk:
                order.ref = refs[order.id]

    def _note(self, command: dict[str, Any]) -> None:
        """What the sequencer remembers of each accepted command besides the engine state."""
        if command.get("k") == PLACE and command.get("ck"):
            self._client_keys.add((command["inv"], command["ck"]))
        elif command.get("k") == SESSION_END and command.get("d", "") > self._last_session_day:
            self._last_session_day = command["d"]

    def _catch_up(self) -> None:
        """Apply what other processes journaled; rebuild if the journal is not ours any more."""
        from market.models import JournalEntry

        seq = self.engine.seq
        rows = list(
            JournalEntry.objects.filter(sequence__gte=max(seq, 1))
            .order_by("sequence")
            .values_list("sequence", "command")
        )
        if seq == 0:
            if rows and rows[0][0] != 1:
                raise RuntimeError("the journal does not start at 1")
        elif not rows or rows[0][0] != seq or rows[0][1] != self._last_command:
            self.recover()
            return
        else:
            rows = rows[1:]
        if not rows:
            return
        results = self.engine.replay(rows)
        self._last_command = rows[-1][1]
        for _, command in rows:
            self._note(command)
        self._refs_load(
            [r.order for r in results if r.order is not None and r.order.id in self.engine.orders]
        )

    # --- the batch ------------------------------------------------------------------------

    def submit(self, commands: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Check, sequence, journal and settle ``commands`` in one database transaction.

        Returns one :class:`Outcome` per command, in order, after the transaction committed.
        ``place`` commands name the investor by user id (``inv``) and the ticker by symbol.
        """
        with self._lock:
            try:
                return self._submit(commands)
            except BaseException:
                # Memory may be ahead of the database: rebuild it from what was committed.
                self._batch = _Batch()
                self.engine = Engine(fee_bps=fee_bps_setting(), journal=self._journal)
                self._last_command = None
                self._accounts.clear()
                self._client_keys.clear()
                self._last_session_day = ""
                raise

    def _submit(self, commands: Sequence[dict[str, Any]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
            self._catch_up()
            self._batch = _Batch()
            now = time.monotonic()
            if now - self._synced_at >= self.sync_interval:
                self._sync_tickers()
                self._synced_at = now
            self._load_funds(commands)
            eligible = self._eligibility(commands)
            for command in commands:
                outcome = Outcome(command=command)
                refusal = eligible.get(id(command))
                if refusal is not None:
                    outcome.rejected = refusal
                else:
                    try:
                        result = self.engine.submit(command)
                    except Rejected as err:
                        outcome.rejected = err
                    else:
                        self._batch.results.append(result)
                        outcome.seq, outcome.result = result.seq, result
                        self._last_command = command
                        self._note(command)
                outcomes.append(outcome)
            self._write(self._batch)
            self._batch = _Batch()
        return outcomes

    # --- the outside world ------------------------------------------------------------------

    def _sync_tickers(self) -> None:
        """List approved tickers, and halt or resume them as the broker-dealer and open
        ownership or table disputes say, as journaled commands."""
        from disputes.models import Dispute
        from disputes.selectors import ACTIVE_STATUSES
        from market.models import Offering, Ticker

        tickers = list(
            Ticker.objects.filter(status__in=["approved", "halted"]).select_related("project")
        )
        if not tickers:
            return
        disputed = set(
            Dispute.objects.filter(status__in=ACTIVE_STATUSES)
            .filter(
                Q(kind=Dispute.Kind.OWNERSHIP)
                | Q(
                    target_type__in=[
                        Dispute.TargetType.TABLE_ENTRY,
                        Dispute.TargetType.TABLE_VERSION,
                    ]
                )
            )
            .values_list("project_id", "table_owner")
        )
        disputed_projects = {p for p, _ in disputed if p is not None}
        disputed_owners = {o for _, o in disputed if o}
        for ticker in tickers:
            self._tickers[ticker.symbol] = ticker.pk
            book = self.engine.books.get(ticker.symbol)
            if book is None:
                offering = (
                    Offering.objects.filter(ticker=ticker, status="succeeded")
                    .order_by("-closed_at", "-pk")
                    .first()
                )
                if offering is None:
                    continue  # nothing sold yet, so nothing to trade
                self._journal_now(
                    {
                        "k": LIST,
                        "t": ticker.symbol,
                        "cur": ticker.currency,
                        "ref": offering.clearing_price or offering.price,
                        "band": ticker.price_band_bips,
                        "fee": fee_bps_setting(),
                    }
                )
                book = self.engine.books[ticker.symbol]
            reason = ""
            if ticker.status == "halted":
                reason = ticker.halt_reason or "halted by the broker-dealer"
            elif ticker.project_id in disputed_projects or (
                f"project:{ticker.project.slug}" in disputed_owners
            ):
                reason = "an ownership or table dispute is open on the project"
            if reason and (not book.halted or book.halt_reason != reason):
                self._journal_now({"k": HALT, "t": ticker.symbol, "why": reason})
            elif not reason and book.halted:
                self._journal_now({"k": RESUME, "t": ticker.symbol})
        close = getattr(settings, "MARKET_SESSION_CLOSE_UTC", "21:00")
        now = datetime.now(UTC)
        day = now.date().isoformat()
        if now.strftime("%H:%M") >= close and self._last_session_day < day:
            self._journal_now({"k": SESSION_END, "t": None, "d": day})

    def _journal_now(self, command: dict[str, Any]) -> None:
        result = self.engine.submit(command)
        self._batch.results.append(result)
        self._last_command = command
        self._note(command)

    def _load_funds(self, commands: Sequence[dict[str, Any]]) -> None:
        """Lock the batch's buyers' cash accounts (ascending id, the fixed order) and sellers'
        holdings, and read what each may still reserve.

        Every other spender of ``user:<name>/cash`` locks that account row first
        (:func:`market.services.cash.cash_lock`), so a withdrawal or a commitment and an order
        never spend the same money."""

        investors = sorted(
            {c["inv"] for c in commands if c.get("k") == PLACE and isinstance(c.get("inv"), int)}
        )
        if not investors:
            return
        unknown = [i for i in investors if i not in self._usernames]
        if unknown:
            from django.contrib.auth import get_user_model

            self._usernames.update(
                get_user_model().objects.filter(pk__in=unknown).values_list("pk", "username")
            )
        buyers: dict[str, set[int]] = defaultdict(set)
        sellers: set[tuple[int, str]] = set()
        for c in commands:
            if c.get("k") != PLACE or c.get("inv") not in self._usernames:
                continue
            book = self.engine.books.get(c.get("t", ""))
            if book is None:
                continue
            if c.get("side") == BUY:
                buyers[book.currency].add(c["inv"])
            elif c.get("side") == SELL:
                sellers.add((c["inv"], book.ticker))
        keys = {(self._owner(i), CASH, cur): (i, cur) for cur, ids in buyers.items() for i in ids}
        if keys:
            accounts = self._account_ids(keys)
            by_id = {accounts[k]: v for k, v in keys.items()}
            for investor_currency in keys.values():
                self.engine.cash[investor_currency] = 0
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM payouts_account WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                    [sorted(by_id)],
                )
                cursor.execute(SQL_BALANCES, [sorted(by_id)])
                for account_id, balance in cursor.fetchall():
                    self.engine.cash[by_id[account_id]] = int(balance)
        if sellers:
            from market.models import Holding

            symbols = {self._tickers[t]: t for _, t in sellers}
            for key in sellers:
                self.engine.units[key] = 0
            rows = (
                Holding.objects.select_for_update()
                .filter(investor_id__in={i for i, _ in sellers}, ticker_id__in=list(symbols))
                .order_by("ticker_id", "investor_id")
                .values_list("investor_id", "ticker_id", "units", "reserved_units")
            )
            for investor, ticker_id, units, reserved in rows:
                key = (investor, symbols[ticker_id])
                if key in sellers:
                    self.engine.units[key] = units - reserved

    def _eligibility(self, commands: Sequence[dict[str, Any]]) -> dict[int, Rejected]:
        """Refusals that need the database: unknown investors, KYC, per-investor limits."""
        from django.contrib.auth import get_user_model

        from market.models import InvestorProfile

        places = [c for c in commands if c.get("k") == PLACE]
        if not places:
            return {}
        profiles = {
            user_id: (kyc, accredited)
            for user_id, kyc, accredited in InvestorProfile.objects.filter(
                user_id__in={c.get("inv") for c in places}
            ).values_list("user_id", "kyc_status", "accredited")
        }
        out: dict[int, Rejected] = {}
        # Every order ever placed came through a journaled place command, so the client
        # order ids the journal holds are all there are (the unique index is the backstop).
        batch_keys: set[tuple[Any, str]] = set()
        for c in places:
            if c.get("ck"):
                key = (c.get("inv"), c["ck"])
                if key in self._client_keys or key in batch_keys:
                    out[id(c)] = Rejected("duplicate", "an order with this client order id exists")
                batch_keys.add(key)
        users: dict[int, Any] = {}
        pending: dict[tuple[int, str], int] = defaultdict(int)
        for c in places:
            if id(c) in out:
                continue
            profile = profiles.get(c.get("inv"))  # type: ignore[arg-type]
            if c.get("inv") not in self._usernames or profile is None:
                out[id(c)] = Rejected("investor", "an investor profile is needed to trade")
            elif profile[0] != "verified":
                out[id(c)] = Rejected("investor", "identity not verified by the broker-dealer yet")
            elif c.get("side") == BUY and not profile[1]:
                book = self.engine.books.get(c.get("t", ""))
                if book is None:
                    continue
                try:
                    amount = self.engine._reservation(c, book)
                except (KeyError, TypeError):
                    continue  # malformed: the engine refuses it with a clear reason
                if c["inv"] not in users:
                    users[c["inv"]] = get_user_model().objects.get(pk=c["inv"])
                # Earlier buys of this batch are not in the database yet: count them too.
                earlier = pending[(c["inv"], book.currency)]
                refusal = _limit_refusal(users[c["inv"]], earlier + amount, book.currency)
                if refusal is not None:
                    out[id(c)] = refusal
                else:
                    pending[(c["inv"], book.currency)] = earlier + amount
        return out

    # --- writing a batch ---------------------------------------------------------------------

    def _account_ids(self, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        missing = {k for k in keys if k not in self._accounts}
        if missing:
            for key, account in accounts_get_or_create(keys=missing).items():
                self._accounts[key] = account.pk
        return self._accounts

    def _owner(self, investor: int) -> str:
        return f"user:{self._usernames[investor]}"

    def _write(self, batch: _Batch) -> None:
        """Write what ``batch`` did: a handful of bulk statements, whatever its size."""
        if not batch.journal:
            return
        self._names_load(batch)
        now = datetime.now(UTC)
        new_orders: dict[int, Order] = {}
        changed: dict[int, Order] = {}
        trades: list[Trade] = []
        ledger: list[_Txn] = []
        # What orders of the batch reserved (+) or released (-), netted per cash account.
        held: dict[tuple[str, str], int] = defaultdict(int)
        # (investor, ticker id) -> [units, reserved units] change
        holdings: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
        for result in batch.results:
            for event in result.events:
                if isinstance(event, Accepted):
                    order = event.order
                    new_orders[order.id] = order
                    if order.side == BUY:
                        held[self._cash_key(order)] += event.reserved
                    else:
                        holdings[(order.investor, self._tickers[order.ticker])][1] += event.reserved
                elif isinstance(event, Trade):
                    trades.append(event)
                    ledger.append(self._trade_txn(event))
                    tid = self._tickers[event.ticker]
                    seller = holdings[(event.seller, tid)]
                    seller[0] -= event.quantity
                    seller[1] -= event.quantity
                    holdings[(event.buyer, tid)][0] += event.quantity
                    for oid in (event.buy_order, event.sell_order):
                        still_open = self.engine.orders.get(oid)
                        if still_open is not None:
                            changed[oid] = still_open
                elif isinstance(event, Closed):
                    order = event.order
                    changed[order.id] = order
                    if event.released and order.side == BUY:
                        held[self._cash_key(order)] -= event.released
                    elif event.released:
                        holdings[(order.investor, self._tickers[order.ticker])][1] -= event.released
        connection.ensure_connection()
        # The driver's own cursor: parameters bound on the server, rows sent by COPY (Django's
        # cursor quotes every array element client-side, which cost more than the database).
        with connection.connection.cursor() as cursor:
            copy_rows(
                cursor,
                "market_journalentry",
                {"sequence": "bigint", "command": "jsonb", "accepted_at": "timestamptz"},
                [
                    [s for s, _ in batch.journal],
                    [json.dumps(c, separators=(",", ":")) for _, c in batch.journal],
                    [now] * len(batch.journal),
                ],
            )
            if new_orders:
                rows = list(new_orders.values())
                for order, pk in zip(
                    rows, ids_reserve(cursor, "market_order", len(rows)), strict=True
                ):
                    order.ref = pk
                copy_rows(cursor, "market_order", ORDER_COLUMNS, self._order_columns(rows, now))
            old = [o for oid, o in changed.items() if oid not in new_orders]
            if old:
                names = ["id", "remaining", "status", "reserved_cash", "reserved_units"]
                source = _unnest([*names, "updated_at"], ORDER_COLUMNS)
                cursor.execute(
                    "UPDATE market_order o SET remaining = x.remaining, status = x.status, "  # noqa: S608
                    "reserved_cash = x.reserved_cash, reserved_units = x.reserved_units, "
                    f"updated_at = x.updated_at FROM {source} WHERE o.id = x.id",
                    [
                        [o.ref for o in old],
                        [o.remaining for o in old],
                        [o.status for o in old],
                        [o.reserved if o.side == BUY else 0 for o in old],
                        [o.reserved if o.side == SELL else 0 for o in old],
                        [now] * len(old),
                    ],
                )
            first, last = batch.journal[0][0], batch.journal[-1][0]
            legs = [
                leg
                for (owner, currency), amount in sorted(held.items())
                if amount
                for leg in (
                    Leg(owner, CASH, currency, -amount),
                    Leg(owner, CASH_HELD, currency, amount),
                )
            ]
            if legs:
                # One transaction per batch for every reservation and release in it (the
                # orders' rows and the journal say which order reserved what).
                ledger.insert(
                    0,
                    _Txn(
                        f"market:reserve:{first}-{last}",
                        KIND_RESERVE,
                        f"journal:{first}-{last}",
                        legs,
                    ),
                )
            txn_ids = self._ledger_write(cursor, ledger, now)
            if trades:
                refs = {o.id: o.ref for o in (*new_orders.values(), *changed.values())}
                copy_rows(
                    cursor,
                    "market_trade",
                    TRADE_COLUMNS,
                    [
                        [self._tickers[t.ticker] for t in trades],
                        [refs[t.buy_order] for t in trades],
                        [refs[t.sell_order] for t in trades],
                        [t.buyer for t in trades],
                        [t.seller for t in trades],
                        [t.price for t in trades],
                        [t.quantity for t in trades],
                        [t.currency for t in trades],
                        [t.buyer_fee for t in trades],
                        [t.seller_fee for t in trades],
                        [t.id for t in trades],
                        [now] * len(trades),
                        [txn_ids[f"market:trade:{t.id}"] for t in trades],
                    ],
                )
                copy_rows(
                    cursor,
                    "market_unitmovement",
                    MOVEMENT_COLUMNS,
                    [
                        [self._tickers[t.ticker] for t in trades],
                        ["trade"] * len(trades),
                        [t.seller for t in trades],
                        [t.buyer for t in trades],
                        [t.quantity for t in trades],
                        [f"trade:{t.id}" for t in trades],
                        [now] * len(trades),
                    ],
                )
            self._holdings_write(cursor, holdings, now)

    def _holdings_write(
        self, cursor: Any, holdings: dict[tuple[int, int], list[int]], now: datetime
    ) -> None:
        moves = sorted((k, v) for k, v in holdings.items() if v[0] or v[1])
        if not moves:
            return
        columns = {"i": "bigint", "t": "bigint", "u": "bigint", "r": "bigint", "at": "timestamptz"}

        def values(rows: list[tuple[tuple[int, int], list[int]]]) -> list[list[Any]]:
            return [
                [k[0] for k, _ in rows],
                [k[1] for k, _ in rows],
                [v[0] for _, v in rows],
                [v[1] for _, v in rows],
                [now] * len(rows),
            ]

        source = _unnest(list(columns), columns)
        # Existing holdings change in place; the rest are buyers' first units of a ticker.
        # (Not one upsert: PostgreSQL checks the proposed row's constraints before ON
        # CONFLICT, and a change of reserved units alone is no valid row by itself.)
        cursor.execute(
            "UPDATE market_holding h SET units = h.units + x.u, "  # noqa: S608
            f"reserved_units = h.reserved_units + x.r, updated_at = x.at FROM {source} "
            "WHERE h.investor_id = x.i AND h.ticker_id = x.t RETURNING h.investor_id, h.ticker_id",
            values(moves),
        )
        done = set(cursor.fetchall())
        new = [(k, v) for k, v in moves if k not in done]
        if new:
            if any(v[0] < 0 or v[1] != 0 for _, v in new):
                raise RuntimeError("units left a holding that does not exist")
            copy_rows(
                cursor,
                "market_holding",
                {
                    "investor_id": "bigint",
                    "ticker_id": "bigint",
                    "units": "bigint",
                    "reserved_units": "bigint",
                    "updated_at": "timestamptz",
                },
                values(new),
            )

    def _names_load(self, batch: _Batch) -> None:
        """Usernames (ledger owners) and ticker ids of everyone and everything in ``batch``."""
        missing: set[int] = set()
        for result in batch.results:
            for e in result.events:
                if isinstance(e, Trade):
                    missing.update((e.buyer, e.seller))
                elif isinstance(e, (Accepted, Closed)):
                    missing.add(e.order.investor)
        missing -= self._usernames.keys()
        if missing:
            from django.contrib.auth import get_user_model

            self._usernames.update(
                get_user_model().objects.filter(pk__in=missing).values_list("pk", "username")
            )
        symbols = {r.command["t"] for r in batch.results if r.command.get("t")}
        if symbols - self._tickers.keys():
            from market.models import Ticker

            self._tickers.update(
                Ticker.objects.filter(symbol__in=symbols).values_list("symbol", "pk")
            )

    def _order_columns(self, rows: list[Order], now: datetime) -> list[list[Any]]:
        return [
            [o.ref for o in rows],
            [self._tickers[o.ticker] for o in rows],
            [o.investor for o in rows],
            [o.side for o in rows],
            [o.kind for o in rows],
            [o.price for o in rows],
            [o.quantity for o in rows],
            [o.remaining for o in rows],
            [o.tif for o in rows],
            [o.status for o in rows],
            [o.reserved if o.side == BUY else 0 for o in rows],
            [o.reserved if o.side == SELL else 0 for o in rows],
            [o.id for o in rows],
            [o.client_key or None for o in rows],
            [""] * len(rows),
            [now] * len(rows),
            [now] * len(rows),
        ]

    def _cash_key(self, order: Order) -> tuple[str, str]:
        return self._owner(order.investor), self.engine.books[order.ticker].currency

    def _trade_txn(self, t: Trade) -> _Txn:
        """Cash and fees of a trade; its units go in the same transaction (unit postings)."""
        buyer, seller = self._owner(t.buyer), self._owner(t.seller)
        legs = [
            Leg(buyer, CASH_HELD, t.currency, -(t.notional + t.buyer_fee)),
            Leg(seller, CASH, t.currency, t.notional - t.seller_fee),
        ]
        if t.buyer_fee + t.seller_fee:
            legs.append(Leg(PLATFORM, FEES, t.currency, t.buyer_fee + t.seller_fee))
        return _Txn(f"market:trade:{t.id}", KIND_TRADE, f"trade:{t.id}", legs)

    def _ledger_write(self, cursor: Any, items: list[_Txn], now: datetime) -> dict[str, int]:
        """The batch's ledger transactions, through the ledger's batched writer (keys derive
        from journal-assigned ids, so none can exist unless this batch had committed)."""
        if not items:
            return {}
        return ledger_post_many(
            drafts=[
                TransactionDraft(
                    idempotency_key=i.key, kind=i.kind, reference=i.reference, legs=i.legs
                )
                for i in items
            ],
            created_at=now,
            account_ids=self._account_ids(
                {(leg.owner, leg.purpose, leg.currency) for item in items for leg in item.legs}
            ),
        )


@dataclass(frozen=True)
class _Txn:
    key: str
    kind: str
    reference: str
    legs: list[Leg]


ORDER_COLUMNS = {
    "id": "bigint",
    "ticker_id": "bigint",
    "investor_id": "bigint",
    "side": "text",
    "kind": "text",
    "price": "bigint",
    "units": "bigint",
    "remaining": "bigint",
    "time_in_force": "text",
    "status": "text",
    "reserved_cash": "bigint",
    "reserved_units": "bigint",
    "sequence": "bigint",
    "client_order_id": "text",
    "reject_reason": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
TRADE_COLUMNS = {
    "ticker_id": "bigint",
    "buy_order_id": "bigint",
    "sell_order_id": "bigint",
    "buyer_id": "bigint",
    "seller_id": "bigint",
    "price": "bigint",
    "units": "bigint",
    "currency": "text",
    "buyer_fee": "bigint",
    "seller_fee": "bigint",
    "sequence": "bigint",
    "executed_at": "timestamptz",
    "transaction_id": "bigint",
}
MOVEMENT_COLUMNS = {
    "ticker_id": "bigint",
    "kind": "text",
    "from_investor_id": "bigint",
    "to_investor_id": "bigint",
    "units": "bigint",
    "reference": "text",
    "created_at": "timestamptz",
}


def _unnest(names: Sequence[str], types: dict[str, str]) -> str:
    """``unnest(%s::t1[], ...) AS x(n1, ...)``: one array parameter per column."""
    arrays = ", ".join(f"%s::{types[n]}[]" for n in names)
    return f"unnest({arrays}) AS x({', '.join(names)})"


def _limit_refusal(user: Any, amount: int, currency: str) -> Rejected | None:
    from django.core.exceptions import ValidationError

    try:
        from market.services.limits import investment_limit_check
    except ImportError:  # pragma: no cover - marketcore's module is being written
        return None
    try:
        investment_limit_check(user=user, amount=amount, currency=currency)
    except ValidationError as err:
        messages = err.messages if hasattr(err, "messages") else [str(err)]
        return Rejected("limit", " ".join(messages))
    return None


_process_sequencer: Sequencer | None = None
_process_lock = threading.Lock()


def sequencer() -> Sequencer:
    """This process's sequencer (created on first use; it catches up from the journal)."""
    global _process_sequencer
    with _process_lock:
        if _process_sequencer is None:
            _process_sequencer = Sequencer()
        return _process_sequencer


def sequencer_reset() -> None:
    """Forget this process's engine (tests whose database was rolled back)."""
    global _process_sequencer
    with _process_lock:
        _process_sequencer = None
