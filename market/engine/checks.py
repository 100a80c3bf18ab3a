"""The secondary market's invariants, for ``manage.py ledger_check`` (called by
:mod:`market.checks`). Each is one SQL query, so the check stays quick on a long history."""

from __future__ import annotations

from django.db import connection

from .sequencer import CASH_HELD, KIND_TRADE

# The queries name the account purpose and the ledger kind literally; keep them in step.
assert (CASH_HELD, KIND_TRADE) == ("cash_held", "market_trade")
CHECKS: list[tuple[str, str]] = [
    (
        "the order journal is numbered 1, 2, 3... without a gap",
        "SELECT 'journal: ' || COUNT(*) || ' entries, numbered ' || COALESCE(MIN(sequence), 0) "
        "|| ' to ' || COALESCE(MAX(sequence), 0) FROM market_journalentry "
        "HAVING COUNT(*) <> COALESCE(MAX(sequence), 0) OR COALESCE(MIN(sequence), 1) <> 1",
    ),
    (
        "trades are numbered 1, 2, 3... without a gap or a repeat",
        "SELECT 'trades: ' || COUNT(*) || ' rows, numbered up to ' || COALESCE(MAX(sequence), 0) "
        "FROM market_trade HAVING COUNT(*) <> COALESCE(MAX(sequence), 0)",
    ),
    (
        "reserved cash equals what open buy orders still reserve",
        """
        WITH held AS (
            SELECT a.owner, a.currency, SUM(p.amount) AS amount FROM payouts_account a
            JOIN payouts_posting p ON p.account_id = a.id WHERE a.purpose = 'cash_held'
            GROUP BY a.owner, a.currency),
        orders AS (
            SELECT 'user:' || u.username AS owner, t.currency, SUM(o.reserved_cash) AS amount
            FROM market_order o JOIN auth_user u ON u.id = o.investor_id
            JOIN market_ticker t ON t.id = o.ticker_id
            WHERE o.status = 'open' AND o.side = 'buy' GROUP BY 1, 2)
        SELECT COALESCE(h.owner, o.owner) || ' ' || COALESCE(h.currency, o.currency)
            || ': reserved ' || COALESCE(h.amount, 0) || ', open buys ' || COALESCE(o.amount, 0)
        FROM held h FULL JOIN orders o ON o.owner = h.owner AND o.currency = h.currency
        WHERE COALESCE(h.amount, 0) <> COALESCE(o.amount, 0) LIMIT 100
        """,
    ),
    (
        "reserved units equal what open sell orders still reserve",
        """
        WITH orders AS (
            SELECT investor_id, ticker_id, SUM(reserved_units) AS units FROM market_order
            WHERE status = 'open' AND side = 'sell' GROUP BY 1, 2)
        SELECT 'investor ' || COALESCE(h.investor_id, o.investor_id) || ' ticker '
            || COALESCE(h.ticker_id, o.ticker_id) || ': reserved ' || COALESCE(h.reserved_units, 0)
            || ', open sells ' || COALESCE(o.units, 0)
        FROM market_holding h FULL JOIN orders o
            ON o.investor_id = h.investor_id AND o.ticker_id = h.ticker_id
        WHERE COALESCE(h.reserved_units, 0) <> COALESCE(o.units, 0) LIMIT 100
        """,
    ),
    (
        "each trade is one balanced ledger transaction moving its cash and fees",
        """
        SELECT 'trade ' || t.sequence || ': ' || COALESCE(
            'kind ' || x.kind || ', paid ' || x.paid || ' of ' || (t.price * t.units + t.buyer_fee),
            'no ledger transaction')
        FROM market_trade t LEFT JOIN (
            SELECT l.id, l.kind, SUM(p.amount) FILTER (WHERE p.amount > 0) AS paid
            FROM payouts_ledgertransaction l JOIN payouts_posting p ON p.transaction_id = l.id
            WHERE l.kind = 'market_trade' GROUP BY l.id, l.kind) x ON x.id = t.transaction_id
        WHERE x.id IS NULL OR x.paid <> t.price * t.units + t.buyer_fee
           OR t.transaction_id IN (SELECT transaction_id FROM market_trade
                                   GROUP BY transaction_id HAVING COUNT(*) > 1)
        LIMIT 100
        """,
    ),
    (
        "each trade moved its units once, seller to buyer",
        """
        SELECT 'trade ' || t.sequence || ': ' || COUNT(m.id) || ' unit movements'
        FROM market_trade t LEFT JOIN market_unitmovement m
            ON m.reference = 'trade:' || t.sequence AND m.kind = 'trade'
            AND m.from_investor_id = t.seller_id AND m.to_investor_id = t.buyer_id
            AND m.units = t.units AND m.ticker_id = t.ticker_id
        GROUP BY t.sequence HAVING COUNT(m.id) <> 1 LIMIT 100
        """,
    ),
    (
        "no order has more reserved, or more filled, than it may",
        """
        SELECT 'order ' || id || ' (' || status || '): remaining ' || remaining
            || ', reserved cash ' || reserved_cash || ', reserved units ' || reserved_units
        FROM market_order
        WHERE (status <> 'open' AND (reserved_cash <> 0 OR reserved_units <> 0))
           OR (status = 'open' AND side = 'sell' AND reserved_units <> remaining)
           OR (status = 'filled' AND remaining <> 0)
        LIMIT 100
        """,
    ),
]


def engine_problems() -> list[tuple[str, list[str]]]:
    """``(what was checked, problems found)`` for each of the market engine's invariants."""
    out = []
    with connection.cursor() as cursor:
        for name, sql in CHECKS:
            cursor.execute(sql)
            out.append((name, [row[0] for row in cursor.fetchall()]))
    return out
