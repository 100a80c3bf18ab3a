"""Bulk writes on PostgreSQL: rows copied in with ids taken from the table's own sequence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def copy_rows(
    cursor: Any, table: str, columns: Iterable[str], values: Sequence[Sequence[Any]]
) -> None:
    """One ``COPY table (columns) FROM STDIN`` of many rows; ``values`` holds one list per
    column, in ``columns`` order (the first ``len(values)`` columns are written).

    Preconditions: ``table`` and ``columns`` are the caller's constants, never input (they are
    spelled into the statement); ``cursor`` is a psycopg 3 cursor. COPY fires the tables'
    statement triggers (say, the ledger's balance check) like an INSERT."""
    names = ", ".join(list(columns)[: len(values)])
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in zip(*values, strict=True):
            copy.write_row(row)


def ids_reserve(cursor: Any, table: str, n: int) -> list[int]:
    """``n`` ids from ``table``'s own id sequence, so rows can be copied in with their ids."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, n],
    )
    return [row[0] for row in cursor.fetchall()]
