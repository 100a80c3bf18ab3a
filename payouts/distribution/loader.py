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

import logging
import time
from collections.abc import Iterable, Mapping

import numpy as np
from django.db import connection, transaction

from payouts.distribution.graph import FlowGraph
from projects.models import TableEntry

log = logging.getLogger(__name__)
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


def _unique_ids(values: np.ndarray) -> np.ndarray:
    """Sorted distinct database ids; a counting pass when the ids are dense enough."""
    if values.size == 0:
        return values
    if int(values.max()) < 8 * values.size + 1_000_000:
        return np.flatnonzero(np.bincount(values)).astype(np.int64)
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


class _ById:
    """Look values up by database id: a dense table when ids are dense (a gather), else a
    binary search over the sorted ids."""

    def __init__(self, ids: np.ndarray, values: np.ndarray) -> None:
        top = int(ids.max()) + 1 if ids.size else 1
        self.dense = top <= 8 * ids.size + 10_000_000
        if self.dense:
            self.table = np.full(top, -1, dtype=np.int64)
            self.table[ids] = values
        else:
            order = np.argsort(ids)
            self.ids, self.values = ids[order], values[order]

    def __getitem__(self, query: np.ndarray) -> np.ndarray:
        if self.dense:
            return self.table[query]
        return self.values[np.searchsorted(self.ids, query)]


def load_flow_graph_pg(
    *,
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
    extra_owners: Iterable[str],
) -> FlowGraph:
    started = [time.perf_counter()]

    def _lap(label: str) -> None:
        now = time.perf_counter()
        log.debug("load_flow_graph_pg: %s in %.2f s", label, now - started[0])
        started[0] = now

    node_ids = sorted(set(versions) | set(defaults) | set(extra_owners))
    node_index = {owner: i for i, owner in enumerate(node_ids)}
    _lap("nodes")
    # The temporary table lives until the end of this transaction.
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        # One process reads each aggregate's rows in one order (the key ids and texts below
        # must line up), and results never depend on how work was split.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
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
        _lap("entries fetched")
        rows = np.frombuffer(
            packed, dtype=np.dtype([("version", ">i8"), ("key", ">i8"), ("millibips", ">i4")])
        )
        # Native, contiguous arrays: sorting and searching big-endian strided fields is slow.
        entry_versions = rows["version"].astype(np.int64)
        entry_keys = rows["key"].astype(np.int64)
        millibips = rows["millibips"].astype(np.int64)
        del rows, packed
        key_ids = _unique_ids(entry_keys)
        _lap("keys counted")
        # The key texts come back as one newline-joined text (recipient strings never hold a
        # newline: parse_recipient refuses control characters), with their ids as a bytea.
        # Both aggregates read the same rows in the same order (no ORDER BY: no sort).
        cursor.execute(
            "SELECT string_agg(int8send(id), ''::bytea), string_agg(key, E'\\n') "
            "FROM projects_recipientkey WHERE id BETWEEN %s AND %s",
            [int(key_ids[0]) if key_ids.size else 0, int(key_ids[-1]) if key_ids.size else -1],
        )
        ids_packed, texts = cursor.fetchone()
        _lap("key texts fetched")
    all_ids = np.frombuffer(ids_packed or b"", dtype=">i8").astype(np.int64)
    all_texts = texts.split("\n") if texts else []
    if len(all_texts) != all_ids.size:
        raise RuntimeError("recipient keys and their ids did not line up")
    by_id = np.argsort(all_ids, kind="stable")
    wanted = by_id[np.searchsorted(all_ids[by_id], key_ids)]
    key_text = {
        int(k): all_texts[i] for k, i in zip(key_ids.tolist(), wanted.tolist(), strict=True)
    }
    # Terminals: every node (its reserve) and every other recipient, in id order.
    others = {k for k in key_text.values() if k not in node_index}
    for entries in defaults.values():
        others |= {r for r in entries if r not in node_index}
    terminal_ids = sorted(others | set(node_ids))
    terminal_index = {t: i for i, t in enumerate(terminal_ids)}
    _lap("terminals numbered")
    # Lookup tables indexed by database id (ids are dense), so mapping ten million entries
    # is a gather, not a search.
    texts_by_key = [key_text[k] for k in key_ids.tolist()]
    key_node = _ById(
        key_ids, np.asarray([node_index.get(t, -1) for t in texts_by_key], dtype=np.int64)
    )
    key_terminal = _ById(
        key_ids,
        np.asarray(
            [-1 if t in node_index else terminal_index[t] for t in texts_by_key], dtype=np.int64
        ),
    )
    version_ids = np.fromiter(versions.values(), dtype=np.int64, count=len(versions))
    version_nodes = np.fromiter(
        (node_index[o] for o in versions), dtype=np.int64, count=len(versions)
    )
    owner = _ById(version_ids, version_nodes)[entry_versions]
    target_node = key_node[entry_keys]
    target_terminal = key_terminal[entry_keys]
    del entry_versions, entry_keys
    _lap("entries mapped")
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
    # monotonic in the id, so sorting by (owner, index) reproduces FlowGraph.from_tables
    # exactly. One int64 sort key per entry instead of a two-key lexsort.
    node_key = owner[is_node] * (n + 1) + target_node[is_node]
    node_rows = np.argsort(node_key, kind="stable")
    term_key = owner[~is_node] * (len(terminal_ids) + 1) + target_terminal[~is_node]
    term_rows = np.argsort(term_key, kind="stable")
    node_owner = owner[is_node][node_rows]
    term_owner = owner[~is_node][term_rows]
    graph = FlowGraph(
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
    _lap("graph built")
    return graph
