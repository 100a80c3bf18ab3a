"""The last compiled run graph, kept between runs so that a run after a few table changes
loads only the changed tables (:func:`payouts.distribution.loader.load_flow_graph_pg`).

The graph's arrays and labels are a file on this host's disk (``FAIROSS_GRAPH_CACHE_DIR``,
by default ``<tmp>/faiross-graph-cache``); the database holds one :class:`GraphCache` row
naming that file and its SHA-256. The row is written in the compute stage's transaction, so
it exists only if that stage committed, and it lives in the database it describes (a new or
restored database has none). A file that is missing (another host) or does not match its
digest is ignored: the load is then a full one. Nothing here changes a result; it only
avoids reading ten million unchanged entries again.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from payouts.distribution.graph import FlowGraph

log = logging.getLogger(__name__)
STALE_SECONDS = 7 * 24 * 3600
"""Files older than this whose row is gone (a rolled-back stage, another database) go."""

_writing: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "graph_cache_writing", default=False
)


def cache_dir() -> Path:
    configured = getattr(settings, "FAIROSS_GRAPH_CACHE_DIR", "")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "faiross-graph-cache"


@contextlib.contextmanager
def graph_cache_writing() -> Iterator[None]:
    """Within this block the graph a load builds replaces the cached one (the compute stage
    uses it; recomputations for pages and checks only read the cache)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def _pack(graph: FlowGraph, signature: np.ndarray) -> bytes:
    labels = "\n".join(graph.terminal_ids or ()).encode("utf-8")
    buffer = io.BytesIO()
    np.savez(
        buffer,
        node_indptr=graph.node_indptr,
        node_targets=graph.node_targets,
        node_millibips=graph.node_millibips,
        terminal_indptr=graph.terminal_indptr,
        terminal_targets=graph.terminal_targets,
        terminal_millibips=graph.terminal_millibips,
        reserve_terminals=graph.reserve_terminals,
        signature=signature,
        labels=np.frombuffer(labels, dtype=np.uint8),
        n_terminals=np.asarray([graph.n_terminals], dtype=np.int64),
    )
    return buffer.getvalue()


def _unpack(data: bytes) -> tuple[FlowGraph, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        labels = arrays["labels"].tobytes().decode("utf-8")
        terminal_ids = tuple(labels.split("\n")) if labels else ()
        reserve = arrays["reserve_terminals"]
        graph = FlowGraph(
            node_indptr=arrays["node_indptr"],
            node_targets=arrays["node_targets"],
            node_millibips=arrays["node_millibips"],
            terminal_indptr=arrays["terminal_indptr"],
            terminal_targets=arrays["terminal_targets"],
            terminal_millibips=arrays["terminal_millibips"],
            reserve_terminals=reserve,
            n_terminals=int(arrays["n_terminals"][0]),
            node_ids=tuple(terminal_ids[i] for i in reserve.tolist()),
            terminal_ids=terminal_ids,
        )
        return graph, arrays["signature"].astype(np.int64)


def graph_cache_read() -> tuple[FlowGraph, np.ndarray] | None:
    """The cached graph and its node signature, or None (no row, no file, wrong digest)."""
    from payouts.models import GraphCache

    row = GraphCache.objects.order_by("-pk").first()
    if row is None:
        return None
    path = cache_dir() / f"{row.token}.npz"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != row.digest:
        log.warning("graph cache %s does not match its digest; ignored", path)
        return None
    return _unpack(data)


def graph_cache_offer(*, graph: FlowGraph, signature: np.ndarray) -> None:
    """Keep ``graph`` (built for ``signature``) as the cached graph, inside a
    :func:`graph_cache_writing` block only; elsewhere do nothing."""
    if not _writing.get():
        return
    from payouts.models import GraphCache

    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    data = _pack(graph, signature)
    token = secrets.token_hex(16)
    path = directory / f"{token}.npz"
    partial = directory / f".{token}.part"
    partial.write_bytes(data)
    os.replace(partial, path)  # readers never see half a file
    previous = list(GraphCache.objects.values_list("token", flat=True))
    GraphCache.objects.all().delete()
    GraphCache.objects.create(token=token, digest=hashlib.sha256(data).hexdigest())

    def _tidy() -> None:
        for old in previous:
            (directory / f"{old}.npz").unlink(missing_ok=True)
        now = time.time()
        for stale in directory.glob("*.npz"):
            with contextlib.suppress(OSError):
                if now - stale.stat().st_mtime > STALE_SECONDS:
                    stale.unlink()

    transaction.on_commit(_tidy)
