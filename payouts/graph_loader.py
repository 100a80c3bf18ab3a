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


def copy_text(value: str) -> str:
    """Escape a value for COPY's text format (a quoted email may hold a backslash)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def load_flow_graph_pg(
    *,
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
    extra_owners: Iterable[str],
) -> FlowGraph:
    node_ids = sorted(set(versions) | set(defaults) | set(extra_owners))
    default_recipients = sorted({r for entries in defaults.values() for r in entries})
    # The temporary tables live until the end of this transaction.
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg cursor, for COPY
        cursor.execute("DROP TABLE IF EXISTS run_nodes, run_versions, run_terminals")
        cursor.execute(
            "CREATE TEMP TABLE run_nodes (owner text PRIMARY KEY, node int) ON COMMIT DROP"
        )
        with cursor.copy("COPY run_nodes (owner, node) FROM STDIN") as copy:
            # Owner ids are project:/company: slugs, which need no COPY escaping.
            for start in range(0, len(node_ids), 200_000):
                block = node_ids[start : start + 200_000]
                copy.write("".join(f"{o}\t{start + i}\n" for i, o in enumerate(block)))
        cursor.execute("ANALYZE run_nodes")
        cursor.execute(
            "CREATE TEMP TABLE run_versions ON COMMIT DROP AS "
            "SELECT tv.id AS version_id, n.node FROM unnest(%s::bigint[]) AS x(id) "
            "JOIN projects_tableversion tv ON tv.id = x.id "
            "JOIN projects_sharetable st ON st.id = tv.table_id "
            "JOIN run_nodes n ON n.owner = st.owner_key",
            [list(versions.values())],
        )
        cursor.execute("ANALYZE run_versions")
        # Terminals: every node (its reserve) and every other recipient, numbered in code
        # point order (COLLATE "C" compares UTF-8 bytes), exactly as sorted() would.
        cursor.execute(
            "CREATE TEMP TABLE run_terminals ON COMMIT DROP AS "
            "SELECT recipient, "
            '(row_number() OVER (ORDER BY recipient COLLATE "C") - 1)::int AS idx '
            "FROM (SELECT owner AS recipient FROM run_nodes "
            "UNION SELECT e.recipient FROM projects_tableentry e "
            "JOIN run_versions v ON v.version_id = e.version_id "
            "UNION SELECT unnest(%s::text[])) AS all_recipients",
            [default_recipients],
        )
        cursor.execute("CREATE INDEX ON run_terminals (recipient)")
        cursor.execute("ANALYZE run_terminals")
        cursor.execute("SELECT recipient FROM run_terminals ORDER BY idx")
        terminal_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT string_agg(int4send(t.idx), ''::bytea ORDER BY n.node) "
            "FROM run_nodes n JOIN run_terminals t ON t.recipient = n.owner"
        )
        reserve_terminals = np.frombuffer(cursor.fetchone()[0] or b"", dtype=">i4").astype(np.int64)
        # One bytea of big-endian int4 quadruples: one round trip and no per-row messages.
        cursor.execute(
            "SELECT string_agg(int4send(v.node) || int4send(COALESCE(n.node, -1)) || "
            "int4send(CASE WHEN n.node IS NULL THEN t.idx ELSE -1 END) || int4send(e.millibips), "
            "''::bytea) "
            "FROM projects_tableentry e JOIN run_versions v ON v.version_id = e.version_id "
            "LEFT JOIN run_nodes n ON n.owner = e.recipient "
            "JOIN run_terminals t ON t.recipient = e.recipient"
        )
        packed = cursor.fetchone()[0] or b""
    rows = np.frombuffer(packed, dtype=">i4").astype(np.int64).reshape(-1, 4)
    if defaults:
        node_index = {owner: i for i, owner in enumerate(node_ids)}
        terminal_index = {t: i for i, t in enumerate(terminal_ids)}
        extra_rows = [
            (node_index[o], node_index.get(r, -1), -1 if r in node_index else terminal_index[r], m)
            for o, entries in defaults.items()
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
        reserve_terminals=reserve_terminals,
        n_terminals=len(terminal_ids),
        node_ids=tuple(node_ids),
        terminal_ids=tuple(terminal_ids),
    )
