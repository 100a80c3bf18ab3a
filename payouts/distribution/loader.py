"""Load a run's share tables into a :class:`FlowGraph`.

Two paths build the *same* graph (same node and terminal order, same entry order, so the
engine gives bit-identical results either way):

* :func:`tables_from_snapshot` + ``FlowGraph.from_tables``: plain Python, any database;
* :func:`load_flow_graph_pg`: PostgreSQL only, for large graphs: the version ids go to the
  server in a temporary table, the server joins entries to integer recipient-key ids, and the
  rows come back by binary COPY parsed by numpy, without a Python object per entry.

The PostgreSQL path keeps the last compiled graph (:mod:`payouts.distribution.graph_cache`):
a later load whose nodes are the same takes every unchanged node's entries from it and
fetches only the tables whose version changed (table versions are immutable: a change is a
new version with a new id), then splices them in. The spliced graph equals a fresh load
field by field (tests/payouts/test_incremental_run.py); when the nodes differ, or the cache
is missing or does not match its digest, the load is a full one.

Order rules (those of ``FlowGraph.from_tables``): nodes are the sorted owner ids, terminals the
sorted ids of every non-node recipient plus every node (its reserve), and each node's entries
are ordered by recipient id.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from django.db import connection, transaction

from payouts.distribution import graph_cache
from payouts.distribution.graph import FlowGraph
from projects.models import TableEntry

log = logging.getLogger(__name__)
PG_MIN_VERSIONS = 5_000  # below this the plain path is as fast and simpler
SPLICE_MAX_CHANGED = 0.25  # beyond this share of changed nodes a full load is as fast

NO_TABLE = 0
DEFAULT_TABLE = -1
"""Node signatures: the version id of the node's table, or one of these (a default table is
part of the snapshot itself and is always taken from there, never from the cache)."""


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


# --- binary COPY ---------------------------------------------------------------------------

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def copy_binary_ints(
    cursor, sql: str, params: Sequence[object], fields: Sequence[tuple[str, str]]
) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The rows of ``COPY (query) TO STDOUT (FORMAT binary)`` as a numpy record array.

    ``fields`` names the columns and their big-endian numpy types (``">i8"``, ``">i4"``):
    every column must be a non-null fixed-width integer, so every row has the same size and
    the whole answer is one ``frombuffer`` (checked: field counts and widths, else an error).
    """
    buffer = bytearray()
    with cursor.copy(sql, params) as copy:
        for chunk in copy:
            buffer += chunk
    if not buffer.startswith(COPY_SIGNATURE):
        raise RuntimeError("not a binary COPY stream")
    start = 19 + int.from_bytes(buffer[15:19], "big")  # header, then its extension area
    layout: list[tuple[str, str]] = [("n_fields", ">i2")]
    for name, kind in fields:
        layout += [(f"{name}_width", ">i4"), (name, kind)]
    dtype = np.dtype(layout)
    body = len(buffer) - start - 2  # the trailer is one int16 -1
    if body < 0 or body % dtype.itemsize:
        raise RuntimeError("binary COPY rows are not all of the expected width (a NULL?)")
    rows = np.frombuffer(buffer, dtype=dtype, count=body // dtype.itemsize, offset=start)
    if rows.size and np.any(rows["n_fields"] != len(fields)):
        raise RuntimeError("binary COPY rows have an unexpected number of fields")
    for name, kind in fields:
        if rows.size and np.any(rows[f"{name}_width"] != np.dtype(kind).itemsize):
            raise RuntimeError(f"binary COPY field {name} is not {kind} in every row")
    return rows


# --- the PostgreSQL path ---------------------------------------------------------------------


def node_signature(
    *,
    node_ids: Sequence[str],
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
) -> np.ndarray:
    """Per node (in ``node_ids`` order) the id of its table version, ``DEFAULT_TABLE`` or
    ``NO_TABLE``: what the cache compares to know which nodes changed."""
    return np.fromiter(
        (versions.get(o, DEFAULT_TABLE if o in defaults else NO_TABLE) for o in node_ids),
        dtype=np.int64,
        count=len(node_ids),
    )


def load_flow_graph_pg(
    *,
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
    extra_owners: Iterable[str],
    use_cache: bool = True,
) -> FlowGraph:
    """The graph of these tables (see the module docstring); the same graph whether it came
    from the cache (spliced) or from a full load."""
    started = time.perf_counter()
    node_ids = sorted(set(versions) | set(defaults) | set(extra_owners))
    signature = node_signature(node_ids=node_ids, versions=versions, defaults=defaults)
    graph: FlowGraph | None = None
    how = "full"
    if use_cache:
        cached = graph_cache.graph_cache_read()
        if cached is not None:
            graph = _splice(
                cached=cached[0],
                cached_signature=cached[1],
                node_ids=node_ids,
                signature=signature,
                defaults=defaults,
            )
            how = "spliced" if graph is not None else "full (cache did not fit)"
    if graph is None:
        graph = _load_full(node_ids=node_ids, versions=versions, defaults=defaults)
    graph_cache.graph_cache_offer(graph=graph, signature=signature)
    log.info(
        "load_flow_graph_pg: %s load of %d nodes in %.2f s",
        how,
        len(node_ids),
        time.perf_counter() - started,
    )
    return graph


def _load_full(
    *,
    node_ids: list[str],
    versions: Mapping[str, int],
    defaults: Mapping[str, Mapping[str, int]],
) -> FlowGraph:
    started = [time.perf_counter()]

    def _lap(label: str) -> None:
        now = time.perf_counter()
        log.debug("load_flow_graph_pg: %s in %.2f s", label, now - started[0])
        started[0] = now

    node_index = {owner: i for i, owner in enumerate(node_ids)}
    version_ids = np.fromiter(versions.values(), dtype=np.int64, count=len(versions))
    # The temporary table lives until the end of this transaction.
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        # One process reads each aggregate's rows in one order (the key ids and texts below
        # must line up), and results never depend on how work was split.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the hash join of a million versions
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("DROP TABLE IF EXISTS run_versions")
        cursor.execute("CREATE TEMP TABLE run_versions (id bigint) ON COMMIT DROP")
        with cursor.copy("COPY run_versions (id) FROM STDIN") as copy:
            copy.write("\n".join(map(str, version_ids.tolist())) + "\n" if version_ids.size else "")
        # Row counts let the planner choose a hash join over a million index lookups.
        cursor.execute("ANALYZE run_versions")
        rows = copy_binary_ints(
            cursor,
            "COPY (SELECT e.version_id, e.recipient_key_id, e.millibips::int4 "
            "FROM projects_tableentry e JOIN run_versions v ON v.id = e.version_id) "
            "TO STDOUT (FORMAT binary)",
            [],
            [("version", ">i8"), ("key", ">i8"), ("millibips", ">i4")],
        )
        _lap("entries fetched")
        # Native, contiguous arrays: sorting and searching big-endian strided fields is slow.
        entry_versions = rows["version"].astype(np.int64)
        entry_keys = rows["key"].astype(np.int64)
        millibips = rows["millibips"].astype(np.int64)
        del rows
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
    texts_by_key = [all_texts[i] for i in wanted.tolist()]
    del all_texts
    # Terminals: every node (its reserve) and every other recipient, in id order.
    others = {k for k in texts_by_key if k not in node_index}
    for entries in defaults.values():
        others |= {r for r in entries if r not in node_index}
    terminal_ids = sorted(others | set(node_ids))
    terminal_index = {t: i for i, t in enumerate(terminal_ids)}
    _lap("terminals numbered")
    # Lookup tables indexed by database id (ids are dense), so mapping ten million entries
    # is a gather, not a search.
    key_node = _ById(
        key_ids, np.asarray([node_index.get(t, -1) for t in texts_by_key], dtype=np.int64)
    )
    key_terminal = _ById(
        key_ids,
        np.asarray(
            [-1 if t in node_index else terminal_index[t] for t in texts_by_key], dtype=np.int64
        ),
    )
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


def _changed_entries(
    *,
    node_ids: list[str],
    signature: np.ndarray,
    changed: np.ndarray,
    defaults: Mapping[str, Mapping[str, int]],
) -> list[tuple[int, str, int]]:
    """(node index, recipient, millibips) of every entry of the changed nodes."""
    rows: list[tuple[int, str, int]] = []
    by_version = {int(signature[i]): int(i) for i in changed.tolist() if signature[i] > 0}
    if by_version:
        entries = TableEntry.objects.filter(version_id__in=list(by_version)).values_list(
            "version_id", "recipient_key__key", "millibips"
        )
        rows += [(by_version[v], r, m) for v, r, m in entries.iterator(chunk_size=20000)]
    for i in changed.tolist():
        if signature[i] == DEFAULT_TABLE:
            rows += [(i, r, m) for r, m in defaults[node_ids[i]].items()]
    return rows


def _splice(
    *,
    cached: FlowGraph,
    cached_signature: np.ndarray,
    node_ids: list[str],
    signature: np.ndarray,
    defaults: Mapping[str, Mapping[str, int]],
) -> FlowGraph | None:
    """The graph for ``signature`` built from ``cached`` (the graph of ``cached_signature``)
    and the entries of the nodes whose table changed; None when the node sets differ (then
    terminals could turn into nodes, and a full load is simpler) or too much changed.

    Invariant: the result equals ``_load_full`` of the same inputs field by field: kept
    entries keep their order (node indices are unchanged and the terminal renumbering is
    monotonic), new entries are merged in by the same (owner, index) key."""
    if cached.node_ids != tuple(node_ids) or cached.terminal_ids is None:
        return None
    n = len(node_ids)
    changed_mask = (cached_signature != signature) | (signature == DEFAULT_TABLE)
    changed = np.flatnonzero(changed_mask)
    if changed.size > SPLICE_MAX_CHANGED * max(n, 1):
        return None
    rows = _changed_entries(
        node_ids=node_ids, signature=signature, changed=changed, defaults=defaults
    )
    old_terms = cached.terminal_ids
    n_old = len(old_terms)
    # New entries: to a node (its index) or to a terminal (its recipient id for now).
    new_node: list[tuple[int, int, int]] = []
    new_term: list[tuple[int, str, int]] = []
    for owner, recipient, millibips in rows:
        j = bisect.bisect_left(node_ids, recipient)
        if j < n and node_ids[j] == recipient:
            new_node.append((owner, j, millibips))
        else:
            new_term.append((owner, recipient, millibips))
    # Terminals after the change: nodes, what kept entries pay, what new entries pay.
    term_owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(cached.terminal_indptr))
    kept_term = ~changed_mask[term_owner]
    keep = np.bincount(cached.terminal_targets[kept_term], minlength=n_old) > 0
    keep[cached.reserve_terminals] = True
    added: list[str] = []
    added_at: list[int] = []
    for recipient in sorted({r for _, r, _ in new_term}):
        j = bisect.bisect_left(old_terms, recipient)
        if j < n_old and old_terms[j] == recipient:
            keep[j] = True
        else:
            added.append(recipient)
            added_at.append(j)
    if keep.all() and not added:
        remap = np.arange(n_old, dtype=np.int64)
        terminal_ids = old_terms
        added_index = np.zeros(0, dtype=np.int64)
    else:
        # Old terminal i moves to (kept terminals before it) + (added ids sorting before it).
        kept_before = np.concatenate([[0], np.cumsum(keep)])
        at = np.asarray(added_at, dtype=np.int64)
        remap = kept_before[:-1] + np.searchsorted(at, np.arange(n_old), side="right")
        remap[~keep] = -1
        added_index = np.arange(len(added), dtype=np.int64) + kept_before[at]
        labels = np.empty(int(kept_before[-1]) + len(added), dtype=object)
        labels[remap[keep]] = np.asarray(old_terms, dtype=object)[keep]
        labels[added_index] = added
        terminal_ids = tuple(labels.tolist())
    added_lookup = dict(zip(added, added_index.tolist(), strict=True))

    def target_of(recipient: str) -> int:
        if recipient in added_lookup:
            return added_lookup[recipient]
        return int(remap[bisect.bisect_left(old_terms, recipient)])

    node_owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(cached.node_indptr))
    kept_node = ~changed_mask[node_owner]
    node_part = _merge(
        owners=node_owner[kept_node],
        targets=cached.node_targets[kept_node].astype(np.int64),
        millibips=cached.node_millibips[kept_node].astype(np.int64),
        new=new_node,
        span=n + 1,
        n=n,
    )
    term_part = _merge(
        owners=term_owner[kept_term],
        targets=remap[cached.terminal_targets[kept_term]],
        millibips=cached.terminal_millibips[kept_term].astype(np.int64),
        new=[(o, target_of(r), m) for o, r, m in new_term],
        span=len(terminal_ids) + 1,
        n=n,
    )
    return FlowGraph(
        node_indptr=node_part[0],
        node_targets=node_part[1],
        node_millibips=node_part[2],
        terminal_indptr=term_part[0],
        terminal_targets=term_part[1],
        terminal_millibips=term_part[2],
        reserve_terminals=remap[cached.reserve_terminals],
        n_terminals=len(terminal_ids),
        node_ids=cached.node_ids,
        terminal_ids=terminal_ids,
    )


def _merge(
    *,
    owners: np.ndarray,
    targets: np.ndarray,
    millibips: np.ndarray,
    new: list[tuple[int, int, int]],
    span: int,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR (indptr, targets, millibips) of kept entries (already in (owner, target) order)
    with ``new`` entries (owners disjoint from the kept ones) merged in by that order."""
    if new:
        extra = np.asarray(sorted(new), dtype=np.int64).reshape(-1, 3)
        at = np.searchsorted(owners * span + targets, extra[:, 0] * span + extra[:, 1])
        owners = np.insert(owners, at, extra[:, 0])
        targets = np.insert(targets, at, extra[:, 1])
        millibips = np.insert(millibips, at, extra[:, 2])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(owners, minlength=n))]).astype(np.int64)
    return indptr, targets, millibips
