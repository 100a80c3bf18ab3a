"""Load a run's share tables into a :class:`FlowGraph`.

Two paths build the *same* graph (same node and terminal order, same entry order, so the
engine gives bit-identical results either way):

* :func:`tables_from_snapshot` + ``FlowGraph.from_tables``: plain Python, any database;
* :func:`load_flow_graph_pg`: PostgreSQL only, for large graphs: the ids go to the server in
  temporary tables by COPY, the server joins entries to integer indices, and the rows come back
  as binary COPY parsed by numpy, without a Python object per entry.

Order rules (those of ``FlowGraph.from_tables``): nodes are the sorted owner ids, terminals the
sorted ids of every non-node recipient plus every node (its reserve), and each node's entries
are ordered by recipient id.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping

import numpy as np
from django.db import connection, transaction

from projects.models import TableEntry

from .engine import FlowGraph

PG_MIN_ENTRIES = 50_000  # below this the plain path is as fast and simpler


def tables_from_versions(versions: Mapping[str, int]) -> dict[str, dict[str, int]]:
    by_version = {pk: owner for owner, pk in versions.items()}
    tables: dict[str, dict[str, int]] = {owner: {} for owner in versions}
    rows = TableEntry.objects.filter(version_id__in=list(by_version)).values_list(
        "version_id", "recipient", "millibips"
    )
    for version_id, recipient, millibips in rows.iterator(chunk_size=20000):
        tables[by_version[version_id]][recipient] = millibips
    return tables


def tables_from_snapshot(
    *,
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
    extra_owners: Iterable[str],
) -> dict[str, dict[str, int]]:
    tables = tables_from_versions(versions)
    tables.update({owner: dict(entries) for owner, entries in defaults.items()})
    for owner in extra_owners:
        tables.setdefault(owner, {})
    return tables


def load_flow_graph(
    *,
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
    extra_owners: Iterable[str],
    entry_count: int | None = None,
) -> FlowGraph:
    """The run's graph; PostgreSQL and large graphs take the bulk path."""
    extra = list(extra_owners)
    if connection.vendor == "postgresql" and (entry_count or 0) >= PG_MIN_ENTRIES:
        return load_flow_graph_pg(versions=versions, defaults=defaults, extra_owners=extra)
    tables = tables_from_snapshot(versions=versions, defaults=defaults, extra_owners=extra)
    return FlowGraph.from_tables(tables=tables)


def _copy_rows(cursor, table: str, columns: str, rows: Iterable[tuple[object, ...]]) -> None:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(str(v) for v in row))
        buffer.write("\n")
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())


def _binary_int4_rows(data: bytes, fields: int) -> np.ndarray:
    """Parse PostgreSQL binary COPY output whose columns are all non-null int4."""
    header = 11 + 4 + 4 + int.from_bytes(data[15:19], "big")
    body = data[header:-2]  # the trailer is int16 -1
    dtype = np.dtype(
        [("n", ">i2")] + [(f"f{i}", [("len", ">i4"), ("v", ">i4")]) for i in range(fields)]
    )
    rows = np.frombuffer(body, dtype=dtype)
    return np.stack([rows[f"f{i}"]["v"].astype(np.int64) for i in range(fields)], axis=1)


def load_flow_graph_pg(
    *,
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
    extra_owners: Iterable[str],
) -> FlowGraph:
    node_ids = sorted(set(versions) | set(defaults) | set(extra_owners))
    node_index = {owner: i for i, owner in enumerate(node_ids)}
    # The temporary tables live until the end of this transaction.
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg cursor, for COPY
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS run_versions (version_id bigint, node int) "
            "ON COMMIT DROP; TRUNCATE run_versions"
        )
        _copy_rows(
            cursor,
            "run_versions",
            "version_id, node",
            ((pk, node_index[o]) for o, pk in versions.items()),
        )
        cursor.execute("ANALYZE run_versions")
        # Recipients that are not nodes are terminals (people, identities).
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS run_nodes (owner text PRIMARY KEY, node int) "
            "ON COMMIT DROP; TRUNCATE run_nodes"
        )
        _copy_rows(cursor, "run_nodes", "owner, node", ((o, i) for i, o in enumerate(node_ids)))
        cursor.execute("ANALYZE run_nodes")
        cursor.execute(
            "SELECT DISTINCT e.recipient FROM projects_tableentry e "
            "JOIN run_versions v ON v.version_id = e.version_id "
            "LEFT JOIN run_nodes n ON n.owner = e.recipient WHERE n.owner IS NULL"
        )
        others = {r[0] for r in cursor.fetchall()}
        for entries in defaults.values():
            others |= {r for r in entries if r not in node_index}
        terminal_ids = sorted(others | set(node_ids))
        terminal_index = {t: i for i, t in enumerate(terminal_ids)}
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS run_terminals (recipient text PRIMARY KEY, idx int) "
            "ON COMMIT DROP; TRUNCATE run_terminals"
        )
        _copy_rows(
            cursor,
            "run_terminals",
            "recipient, idx",
            ((t, terminal_index[t]) for t in sorted(others)),
        )
        cursor.execute("ANALYZE run_terminals")
        out = io.BytesIO()
        with cursor.copy(
            "COPY (SELECT v.node, COALESCE(n.node, -1), COALESCE(t.idx, -1), e.millibips "
            "FROM projects_tableentry e JOIN run_versions v ON v.version_id = e.version_id "
            "LEFT JOIN run_nodes n ON n.owner = e.recipient "
            "LEFT JOIN run_terminals t ON t.recipient = e.recipient) TO STDOUT (FORMAT binary)"
        ) as copy:
            for chunk in copy:
                out.write(chunk)
    rows = _binary_int4_rows(out.getvalue(), 4)
    extra_rows = [
        (node_index[owner], node_index.get(r, -1), -1 if r in node_index else terminal_index[r], m)
        for owner, entries in defaults.items()
        for r, m in entries.items()
    ]
    if extra_rows:
        rows = np.concatenate([rows, np.asarray(extra_rows, dtype=np.int64).reshape(-1, 4)])
    owner, target_node, target_terminal, millibips = rows.T
    n = len(node_ids)
    is_node = target_node >= 0
    # Within an owner, recipients in id order: node indices and terminal indices are both
    # monotonic in the id, so sorting by index reproduces FlowGraph.from_tables exactly.
    node_rows = np.lexsort((target_node[is_node], owner[is_node]))
    term_rows = np.lexsort((target_terminal[~is_node], owner[~is_node]))
    node_owner = owner[is_node][node_rows]
    term_owner = owner[~is_node][term_rows]
    return FlowGraph(
        node_indptr=np.concatenate([[0], np.cumsum(np.bincount(node_owner, minlength=n))]),
        node_targets=target_node[is_node][node_rows],
        node_millibips=millibips[is_node][node_rows],
        terminal_indptr=np.concatenate([[0], np.cumsum(np.bincount(term_owner, minlength=n))]),
        terminal_targets=target_terminal[~is_node][term_rows],
        terminal_millibips=millibips[~is_node][term_rows],
        reserve_terminals=np.asarray([terminal_index[o] for o in node_ids], dtype=np.int64),
        n_terminals=len(terminal_ids),
        node_ids=tuple(node_ids),
        terminal_ids=tuple(terminal_ids),
    )
