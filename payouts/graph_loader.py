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

PG_MIN_VERSIONS = 5_000  # below this the plain path is as fast and simpler


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
) -> FlowGraph:
    """The run's graph; PostgreSQL and large graphs take the bulk path."""
    extra = list(extra_owners)
    if connection.vendor == "postgresql" and len(versions) >= PG_MIN_VERSIONS:
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
    node_index = {owner: i for i, owner in enumerate(node_ids)}
    # The temporary table lives until the end of this transaction.
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        cursor.execute("DROP TABLE IF EXISTS run_versions")
        cursor.execute("CREATE TEMP TABLE run_versions (id bigint) ON COMMIT DROP")
        with cursor.copy("COPY run_versions (id) FROM STDIN") as copy:
            copy.write("".join(f"{pk}\n" for pk in versions.values()))
        # Row counts let the planner choose a hash join over a million index lookups.
        cursor.execute("ANALYZE run_versions")
        # All entries of the run's versions as one bytea of big-endian (int8 version, int8
        # recipient key, int4 millibips): one round trip, no Python object per entry.
        cursor.execute(
            "SELECT string_agg(int8send(version_id) || int8send(recipient_key_id) || "
            "int4send(millibips), ''::bytea) FROM projects_tableentry "
            "JOIN run_versions v ON v.id = version_id"
        )
        packed = cursor.fetchone()[0] or b""
        rows = np.frombuffer(
            packed, dtype=np.dtype([("version", ">i8"), ("key", ">i8"), ("millibips", ">i4")])
        )
        key_ids = np.unique(rows["key"])
        cursor.execute(
            "SELECT id, key FROM projects_recipientkey JOIN unnest(%s::bigint[]) AS k(kid) "
            "ON k.kid = id",
            [key_ids.tolist()],
        )
        key_text = dict(cursor.fetchall())
    # Terminals: every node (its reserve) and every other recipient, in id order.
    others = {k for k in key_text.values() if k not in node_index}
    for entries in defaults.values():
        others |= {r for r in entries if r not in node_index}
    terminal_ids = sorted(others | set(node_ids))
    terminal_index = {t: i for i, t in enumerate(terminal_ids)}
    # Lookup arrays by position of the key id in key_ids.
    key_node = np.asarray(
        [node_index.get(key_text[k], -1) for k in key_ids.tolist()], dtype=np.int64
    )
    key_terminal = np.asarray(
        [
            -1 if key_text[k] in node_index else terminal_index[key_text[k]]
            for k in key_ids.tolist()
        ],
        dtype=np.int64,
    )
    version_ids = np.fromiter(versions.values(), dtype=np.int64, count=len(versions))
    version_nodes = np.fromiter(
        (node_index[o] for o in versions), dtype=np.int64, count=len(versions)
    )
    order = np.argsort(version_ids)
    version_ids, version_nodes = version_ids[order], version_nodes[order]
    owner = version_nodes[np.searchsorted(version_ids, rows["version"].astype(np.int64))]
    key_pos = np.searchsorted(key_ids, rows["key"])
    target_node = key_node[key_pos]
    target_terminal = key_terminal[key_pos]
    millibips = rows["millibips"].astype(np.int64)
    extra_rows = [
        (node_index[o], node_index.get(r, -1), -1 if r in node_index else terminal_index[r], m)
        for o, entries in defaults.items()
        for r, m in entries.items()
    ]
    if extra_rows:
        extra = np.asarray(extra_rows, dtype=np.int64).reshape(-1, 4)
        owner = np.concatenate([owner, extra[:, 0]])
        target_node = np.concatenate([target_node, extra[:, 1]])
        target_terminal = np.concatenate([target_terminal, extra[:, 2]])
        millibips = np.concatenate([millibips, extra[:, 3]])
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
