"""Verifiable runs and open data (docs/verifiable-runs.md is the reference for every format).

When a run is done it publishes:

* ``snapshot_sha256``: SHA-256 of the snapshot's canonical JSON (:func:`canonical_json`).
* One Merkle root per currency over its allocations. A leaf is the canonical JSON of
  ``{"amount","currency","purpose","recipient","run","salt"}``, hashed as
  ``SHA-256(0x00 || leaf)``; leaves are sorted by (recipient, purpose) in code-point order;
  an inner node is ``SHA-256(0x01 || left || right)``; a node without a partner is promoted to
  the next level unchanged. The salt is ``HMAC-SHA256(secret, "faiross:run-leaf-salt:v1:<run
  id>:<recipient>")``, so a public root does not let anyone confirm a guess of a person's
  amount; a person's proof carries their salt.
* The project-level flows (:class:`~payouts.models.RunFlow`): integer hops that add up
  exactly, with every person summed into ``people`` per paying node.

Everything here is derived from the run's snapshot and allocations, so it is written after
the run is done (never inside its money transactions) and :func:`run_publish` can write it
again for an older run. Runs that are too large to prove in one piece are cut in chunks of
``2**CHUNK_LEVEL`` leaves, whose subtree hashes are stored, so a proof reads one chunk.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Collate
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_flow

from faiross.kernel.recipients import is_person_key
from payouts.distribution.graph import FlowGraph
from payouts.distribution.solve import CurrencyResult
from payouts.models import DistributionRun, RunAllocation, RunFlow, RunPublication

log = logging.getLogger(__name__)

SCHEME = 1
"""Version of the hashing scheme and the flow format; written into every proof."""
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
SALT_CONTEXT = "faiross:run-leaf-salt:v1"
CHUNK_LEVEL = 10
"""Proofs are built from chunks of 2**10 = 1,024 leaves plus the stored chunk hashes."""
ENTRY_SOURCE = "inflows"
"""Source of the hops that bring companies' payments into a run."""
PEOPLE = "people"
"""Target of the hops that pay people (``user:``, ``github:``, ``email:``), summed per node."""
MARGIN = 0.6
"""A hop's exact amount is known to within half a cent (pass-through is stored rounded);
each integer hop may lie up to this far beyond the rounded estimate, so the exact flow is
always among the candidates and an integer flow that adds up always exists."""


# --- hashing -----------------------------------------------------------------------------


def canonical_json(value: object) -> bytes:
    """The bytes that are hashed: JSON with sorted keys, no spaces, UTF-8 (no ``\\u``
    escapes for non-ASCII), no NaN. Lists keep their order."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def snapshot_digest(*, snapshot: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a run snapshot's canonical JSON, as stored (JSON keys are strings)."""
    return hashlib.sha256(canonical_json(snapshot)).hexdigest()


def _salt_secret() -> bytes:
    # A dedicated secret may be configured; rotating it makes proofs of past runs impossible
    # to issue (their leaves would no longer match the published roots), so it defaults to
    # the SECRET_KEY rather than to something that changes.
    secret = getattr(settings, "FAIROSS_RUN_SALT_SECRET", "") or settings.SECRET_KEY
    return str(secret).encode("utf-8")


def leaf_salt(*, run_id: int, recipient: str) -> str:
    """The recipient's salt in run ``run_id`` (hex): secret, stable, different per run."""
    message = f"{SALT_CONTEXT}:{run_id}:{recipient}".encode()
    return hmac.new(_salt_secret(), message, hashlib.sha256).hexdigest()


def leaf_data(
    *, run_id: int, recipient: str, purpose: str, currency: str, amount: int, salt: str
) -> bytes:
    """The canonical bytes of one allocation line (what the leaf hash covers)."""
    return canonical_json(
        {
            "amount": int(amount),
            "currency": currency,
            "purpose": purpose,
            "recipient": recipient,
            "run": int(run_id),
            "salt": salt,
        }
    )


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _parent_level(level: Sequence[bytes]) -> list[bytes]:
    """One level up: pairs hashed, a last node without a partner promoted unchanged."""
    up = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        up.append(level[-1])
    return up


def _root(level: Sequence[bytes]) -> bytes:
    if not level:
        return hashlib.sha256(b"").digest()  # a currency without lines (never published)
    current = list(level)
    while len(current) > 1:
        current = _parent_level(current)
    return current[0]


def _path(level: Sequence[bytes], index: int) -> tuple[list[dict[str, str]], bytes]:
    """The siblings from ``level[index]`` up to the top of ``level`` (``side`` says where
    the sibling goes), and that top."""
    path: list[dict[str, str]] = []
    current = list(level)
    while len(current) > 1:
        sibling = index ^ 1
        if sibling < len(current):
            side = "left" if sibling < index else "right"
            path.append({"side": side, "hash": current[sibling].hex()})
        current = _parent_level(current)
        index //= 2
    return path, current[0]


def proof_root(*, leaf: bytes, path: Iterable[Mapping[str, str]]) -> bytes:
    """Fold a proof's path onto its leaf hash: the root it proves membership in."""
    current = leaf
    for step in path:
        sibling = bytes.fromhex(step["hash"])
        if step["side"] == "left":
            current = node_hash(sibling, current)
        elif step["side"] == "right":
            current = node_hash(current, sibling)
        else:
            raise ValueError(f"a path step's side is 'left' or 'right', not {step['side']!r}")
    return current


def proof_check(*, proof: Mapping[str, Any], root: str | None = None) -> list[str]:
    """What is wrong with a proof (empty when it proves its line): the leaf is the hash of
    the line's fields, and the path folds it onto ``root`` (or the proof's own ``root``)."""
    problems: list[str] = []
    try:
        data = leaf_data(
            run_id=int(proof["run"]),
            recipient=str(proof["recipient"]),
            purpose=str(proof["purpose"]),
            currency=str(proof["currency"]),
            amount=int(proof["amount"]),
            salt=str(proof["salt"]),
        )
        leaf = leaf_hash(data)
        if leaf.hex() != proof["leaf"]:
            problems.append("the leaf is not the hash of the line (amount, salt, ...)")
        folded = proof_root(leaf=leaf, path=proof["path"]).hex()
    except (KeyError, TypeError, ValueError) as exc:
        return [f"not a proof: {exc!r}"]
    expected = root or str(proof.get("root", ""))
    if folded != expected:
        problems.append(f"the path leads to {folded}, not to the root {expected}")
    return problems


# --- the Merkle tree of a run's allocations ---------------------------------------------


def _lines_by_currency(run: DistributionRun) -> dict[str, list[tuple[str, str, int]]]:
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    rows = RunAllocation.objects.filter(run=run).values_list(
        "currency", "recipient", "purpose", "amount"
    )
    for currency, recipient, purpose, amount in rows.iterator(chunk_size=20_000):
        out[currency].append((recipient, purpose, int(amount)))
    for lines in out.values():
        lines.sort()  # (recipient, purpose) in code-point order; both unique per currency
    return dict(out)


def _leaves(run_id: int, currency: str, lines: Iterable[tuple[str, str, int]]) -> list[bytes]:
    salts: dict[str, str] = {}
    leaves = []
    for recipient, purpose, amount in lines:
        salt = salts.get(recipient) or salts.setdefault(
            recipient, leaf_salt(run_id=run_id, recipient=recipient)
        )
        leaves.append(
            leaf_hash(
                leaf_data(
                    run_id=run_id,
                    recipient=recipient,
                    purpose=purpose,
                    currency=currency,
                    amount=amount,
                    salt=salt,
                )
            )
        )
    return leaves


def merkle_summary(
    *, run_id: int, currency: str, lines: Sequence[tuple[str, str, int]]
) -> dict[str, Any]:
    """Root, leaf count and chunks (hashes and first keys) of one currency's sorted lines."""
    leaves = _leaves(run_id, currency, lines)
    size = 2**CHUNK_LEVEL
    chunks = [_root(leaves[start : start + size]) for start in range(0, len(leaves), size)]
    return {
        "root": _root(chunks).hex(),
        "leaves": len(leaves),
        "chunks": {
            "size": size,
            "hashes": [c.hex() for c in chunks],
            "starts": [list(lines[start][:2]) for start in range(0, len(lines), size)],
        },
    }


def _collated(field: str) -> Collate:
    # Code-point order, as the leaves are sorted ("C" in PostgreSQL, "BINARY" in SQLite).
    return Collate(field, "C" if connection.vendor == "postgresql" else "BINARY")


def run_proof(*, run: DistributionRun, recipient: str, currency: str) -> dict[str, Any] | None:
    """The inclusion proof of ``recipient``'s line in ``currency`` (None without one).

    Precondition: the caller decided that the viewer may see this line (the proof shows the
    amount and the salt). Reads one chunk of allocations, not the whole run."""
    publication = RunPublication.objects.filter(run=run).first()
    if publication is None or currency not in publication.merkle_roots:
        return None
    line = (
        RunAllocation.objects.filter(run=run, currency=currency, recipient=recipient)
        .order_by("purpose")
        .values_list("purpose", "amount")
        .first()
    )
    if line is None:
        return None
    purpose, amount = line
    chunks = publication.merkle_chunks[currency]
    starts = [tuple(s) for s in chunks["starts"]]
    k = bisect.bisect_right(starts, (recipient, purpose)) - 1
    rows = RunAllocation.objects.filter(run=run, currency=currency).annotate(
        ordered=_collated("recipient")
    )
    rows = rows.filter(ordered__gte=starts[k][0])
    if k + 1 < len(starts):
        rows = rows.filter(ordered__lte=starts[k + 1][0])
    lines = sorted(
        (r, p, int(a))
        for r, p, a in rows.values_list("recipient", "purpose", "amount")
        if starts[k] <= (r, p) and (k + 1 == len(starts) or (r, p) < starts[k + 1])
    )
    leaves = _leaves(run.pk, currency, lines)
    if _root(leaves).hex() != chunks["hashes"][k]:
        raise ArithmeticError(f"run {run.pk} {currency}: chunk {k} no longer matches its hash")
    index = lines.index((recipient, purpose, int(amount)))
    inner, _ = _path(leaves, index)
    outer, root = _path([bytes.fromhex(h) for h in chunks["hashes"]], k)
    salt = leaf_salt(run_id=run.pk, recipient=recipient)
    return {
        "scheme": SCHEME,
        "run": run.pk,
        "recipient": recipient,
        "purpose": purpose,
        "currency": currency,
        "amount": int(amount),
        "salt": salt,
        "leaf": leaf_hash(
            leaf_data(
                run_id=run.pk,
                recipient=recipient,
                purpose=purpose,
                currency=currency,
                amount=amount,
                salt=salt,
            )
        ).hex(),
        "index": chunks["size"] * k + index,
        "leaf_count": publication.leaf_count[currency],
        "path": inner + outer,
        "root": root.hex(),
    }


# --- project-level flows -----------------------------------------------------------------


def is_node_label(label: str) -> bool:
    """Whether a flow's source or target is a node (``company:``, ``project:`` key): every
    other label (``inflows``, ``<key> (escrow)``, ``people``, ``<key> (<purpose>)``) has no
    colon or has a space, and marks money entering or staying."""
    return ":" in label and " " not in label


def account_label(owner: str, purpose: str) -> str:
    return PEOPLE if is_person_key(owner) else f"{owner} ({purpose})"


def _aggregate(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse, weights=weights, minlength=unique.size)


def _bounds(estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = np.maximum(np.floor(estimate - MARGIN), 0).astype(np.int64)
    return low, np.ceil(estimate + MARGIN).astype(np.int64)


def currency_flows(
    *,
    graph: FlowGraph,
    result: CurrencyResult,
    account_of: Callable[[str], tuple[str, str]],
    allocations: Mapping[tuple[str, str], int],
    fix_accounts: bool,
) -> dict[tuple[int, int | tuple[str, str]], int] | None:
    """Integer hops of one currency: ``{(node, node or account): cents}``.

    Invariants: at every node, money in (its inflow plus hops in) equals money out exactly;
    hops into accounts add up to the total; each hop is within ``MARGIN`` + half a cent of
    its exact share (self entries are left out: the money comes straight back). With
    ``fix_accounts`` each account receives exactly its allocation; as allocations are
    rounded across the whole run, that is not always possible: then None.
    Method: the exact flow lies between the bounds of every hop, so an integer flow within
    them exists (flow integrality); a maximum flow on the bounds' slack finds one.
    """
    n = graph.n_nodes
    terminal_ids = graph.terminal_ids or ()
    through = result.pass_through.astype(np.float64)
    # node → node, aggregated per pair, without self entries
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.node_indptr))
    dst = graph.node_targets.astype(np.int64)
    keep = (src != dst) & (graph.node_millibips > 0)
    pair_keys, pair_mb = _aggregate(src[keep] * n + dst[keep], graph.node_millibips[keep])
    pair_src, pair_dst = pair_keys // n, pair_keys % n
    pair_est = through[pair_src] * pair_mb / 1e7
    # node → account (terminal entries and reserves), aggregated per account
    t_src = np.concatenate(
        [
            np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.terminal_indptr)),
            np.arange(n, dtype=np.int64),
        ]
    )
    t_dst = np.concatenate([graph.terminal_targets, graph.reserve_terminals]).astype(np.int64)
    t_mb = np.concatenate([graph.terminal_millibips, graph.reserve_millibips]).astype(np.float64)
    keep = t_mb > 0
    t_src, t_dst, t_mb = t_src[keep], t_dst[keep], t_mb[keep]
    terminals = np.unique(t_dst)
    accounts: list[tuple[str, str]] = []
    account_index: dict[tuple[str, str], int] = {}
    of_terminal = np.empty(graph.n_terminals, dtype=np.int64)
    for t in terminals.tolist():
        account = account_of(terminal_ids[t])
        of_terminal[t] = account_index.setdefault(account, len(accounts))
        if of_terminal[t] == len(accounts):
            accounts.append(account)
    n_acc = len(accounts)
    acc_keys, acc_mb = _aggregate(t_src * n_acc + of_terminal[t_dst], t_mb)
    acc_src, acc_dst = acc_keys // max(n_acc, 1), acc_keys % max(n_acc, 1)
    acc_est = through[acc_src] * acc_mb / 1e7
    # Vertices: nodes, accounts, the sink T, midpoints of node pairs that go both ways (the
    # maximum flow nets opposite edges), then the super source and sink.
    sink = n + n_acc
    both_ways = np.isin(pair_dst * n + pair_src, pair_keys) & (pair_src > pair_dst)
    mids = np.flatnonzero(both_ways)
    mid_vertex = sink + 1 + np.arange(mids.size, dtype=np.int64)
    low_p, high_p = _bounds(pair_est)
    low_a, high_a = _bounds(acc_est)
    totals = np.array([allocations.get(a, 0) for a in accounts], dtype=np.int64)
    if fix_accounts:
        low_s = high_s = totals
    else:
        low_s, high_s = _bounds(np.bincount(acc_dst, weights=acc_est, minlength=n_acc))
    direct = np.ones(pair_keys.size, dtype=bool)
    direct[mids] = False
    tails = np.concatenate(
        [pair_src[direct], pair_src[mids], mid_vertex, acc_src, n + np.arange(n_acc)]
    )
    heads = np.concatenate(
        [pair_dst[direct], mid_vertex, pair_dst[mids], n + acc_dst, np.full(n_acc, sink)]
    )
    lows = np.concatenate([low_p[direct], low_p[mids], low_p[mids], low_a, low_s])
    highs = np.concatenate([high_p[direct], high_p[mids], high_p[mids], high_a, high_s])
    vertices = sink + 1 + mids.size + 2
    excess = np.zeros(vertices, dtype=np.int64)
    excess[:n] += result.inflow
    excess[sink] -= result.total_cents
    np.add.at(excess, heads, lows)
    np.subtract.at(excess, tails, lows)
    s_super, t_super = vertices - 2, vertices - 1
    capacity = highs - lows
    if capacity.min(initial=0) < 0:
        return None  # an allocation outside its hop bounds (fixed accounts only)
    supply, demand = np.flatnonzero(excess > 0), np.flatnonzero(excess < 0)
    all_tails = np.concatenate([tails, np.full(supply.size, s_super), demand])
    all_heads = np.concatenate([heads, supply, np.full(demand.size, t_super)])
    all_caps = np.concatenate([capacity, excess[supply], -excess[demand]])
    if all_caps.max(initial=0) >= 2**31:
        raise ArithmeticError("flow rounding: a node's imbalance does not fit in 32 bits")
    used = all_caps > 0
    network = csr_array(
        (all_caps[used].astype(np.int32), (all_tails[used], all_heads[used])),
        shape=(vertices, vertices),
    )
    needed = int(excess[supply].sum())
    solved = maximum_flow(network, int(s_super), int(t_super))
    if int(solved.flow_value) != needed:
        return None
    flow = solved.flow.tocsr()
    k = pair_keys.size - mids.size  # the direct node pairs come first in ``tails``
    amounts = lows + np.where(
        capacity > 0, np.asarray(flow[tails, heads]).ravel().astype(np.int64), 0
    )
    out: dict[tuple[int, int | tuple[str, str]], int] = {}
    pairs = np.concatenate([np.flatnonzero(direct), mids])
    for j, pair in enumerate(pairs.tolist()):
        if amounts[j]:
            out[(int(pair_src[pair]), int(pair_dst[pair]))] = int(amounts[j])
    base = k + 2 * mids.size
    for j in range(acc_keys.size):
        value = int(amounts[base + j])
        if value:
            out[(int(acc_src[j]), accounts[int(acc_dst[j])])] = value
    return out


def run_flows(*, snapshot: Mapping[str, Any]) -> tuple[dict[str, dict[tuple[str, str], int]], bool]:
    """A run's public hops ``{currency: {(source, target): cents}}`` recomputed from its
    snapshot, and whether what each account keeps equals its allocation exactly.

    Invariants: per currency the entering hops and the staying hops each add up to the
    total; at every node in equals out; no person is named (see :func:`account_label`)."""
    from payouts.distribution import runs  # runs.py calls this module once a run is done

    computed = runs.run_compute(snapshot)
    graph = computed.graph
    nodes = set(graph.node_ids or ())
    unclaimed = set(snapshot["unclaimed"]) | set(snapshot.get("unverified", ()))
    claims = snapshot["claims"]

    def account_of(terminal: str) -> tuple[str, str]:
        owner, purpose = runs._account_for_terminal(
            terminal, nodes=nodes, unclaimed=unclaimed, claims=claims
        )
        return owner, str(purpose)

    ids = graph.node_ids or ()
    flows: dict[str, dict[tuple[str, str], int]] = {}
    exact = True
    for currency, result in computed.distribution.currencies.items():
        allocations = {(o, p): v for (o, p, c), v in computed.allocations.items() if c == currency}
        hops = currency_flows(
            graph=graph,
            result=result,
            account_of=account_of,
            allocations=allocations,
            fix_accounts=True,
        )
        if hops is None:
            exact = False
            hops = currency_flows(
                graph=graph,
                result=result,
                account_of=account_of,
                allocations=allocations,
                fix_accounts=False,
            )
        if hops is None:  # cannot happen: the exact flow is within the bounds
            raise ArithmeticError(f"{currency}: no integer flow within the hop bounds")
        public: dict[tuple[str, str], int] = defaultdict(int)
        for (source, target), cents in hops.items():
            label = account_label(*target) if isinstance(target, tuple) else ids[target]
            public[(ids[source], label)] += cents
        for row_id, owner, cur, cents in snapshot["inflows"]:
            if cur == currency:
                entry = ENTRY_SOURCE if isinstance(row_id, int) else f"{owner} (escrow)"
                public[(entry, str(owner))] += int(cents)
        flows[currency] = dict(public)
    return flows, exact


def flows_check(*, flows: Iterable[Mapping[str, Any]], totals: Mapping[str, int]) -> list[str]:
    """What does not add up in a run's flows (empty when all does): per currency, the hops
    entering (from a non-node source) and the hops staying (to a non-node target) each sum to
    the total, and at every node money in equals money out. Same rules as
    ``scripts/verify_run.py --flows``."""
    entering: dict[str, int] = defaultdict(int)
    staying: dict[str, int] = defaultdict(int)
    balance: dict[tuple[str, str], int] = defaultdict(int)
    for flow in flows:
        currency, amount = str(flow["currency"]), int(flow["amount"])
        source, target = str(flow["source"]), str(flow["target"])
        if is_node_label(source):
            balance[(currency, source)] -= amount
        else:
            entering[currency] += amount
        if is_node_label(target):
            balance[(currency, target)] += amount
        else:
            staying[currency] += amount
    problems = []
    for currency in sorted(set(totals) | set(entering) | set(staying)):
        total = int(totals.get(currency, 0))
        if entering[currency] != total:
            problems.append(f"{currency}: entering hops sum to {entering[currency]}, not {total}")
        if staying[currency] != total:
            problems.append(f"{currency}: staying hops sum to {staying[currency]}, not {total}")
    for (currency, node), left in sorted(balance.items()):
        if left:
            problems.append(f"{currency}: {node} passes on {-left:+d} more than it receives")
    return problems


# --- publishing --------------------------------------------------------------------------


def flow_rows(*, run: DistributionRun) -> list[dict[str, Any]]:
    """A run's stored hops as open data: ``{"source","target","currency","amount"}``."""
    return [
        {"source": s, "target": t, "currency": c, "amount": int(a)}
        for s, t, c, a in RunFlow.objects.filter(run=run)
        .order_by("currency", "source", "target")
        .values_list("source", "target", "currency", "amount")
        .iterator(chunk_size=20_000)
    ]


def run_publish(*, run: DistributionRun) -> RunPublication:
    """Publish a done run (idempotent: an existing publication is returned unchanged, so
    published roots never change).

    Preconditions: ``run.status == "done"``. Invariants: the flows pass :func:`flows_check`
    against the run's totals before anything is written; the publication and its flows are
    written in one transaction (run row locked), so a run has all of them or none."""
    if run.status != DistributionRun.Status.DONE:
        raise ValueError(f"run {run.pk} is {run.status}: only a done run is published")
    existing = RunPublication.objects.filter(run=run).first()
    if existing is not None:
        return existing
    snapshot = run.snapshot or {}
    flows, exact = run_flows(snapshot=snapshot)
    rows = [
        {"source": s, "target": t, "currency": c, "amount": a}
        for c, hops in flows.items()
        for (s, t), a in hops.items()
        if a
    ]
    problems = flows_check(flows=rows, totals=run.totals or {})
    if problems:
        raise ArithmeticError(f"run {run.pk}: flows do not add up: {problems[:5]}")
    merkle = {
        currency: merkle_summary(run_id=run.pk, currency=currency, lines=lines)
        for currency, lines in _lines_by_currency(run).items()
    }
    with transaction.atomic():
        DistributionRun.objects.select_for_update().get(pk=run.pk)
        existing = RunPublication.objects.filter(run=run).first()
        if existing is not None:  # published concurrently
            return existing
        RunFlow.objects.bulk_create([RunFlow(run=run, **row) for row in rows], batch_size=5000)
        return RunPublication.objects.create(
            run=run,
            scheme=SCHEME,
            snapshot_sha256=snapshot_digest(snapshot=snapshot),
            merkle_roots={c: m["root"] for c, m in sorted(merkle.items())},
            leaf_count={c: m["leaves"] for c, m in sorted(merkle.items())},
            merkle_chunks={c: m["chunks"] for c, m in sorted(merkle.items())},
            flows_match_allocations=exact,
        )


def run_publication_ensure(*, run_id: int) -> RunPublication | None:
    """Called once a run is done: publish it unless it is published. A failure is logged,
    never raised: the run's money is final whatever happens here, and
    ``manage.py run_publish --run <id>`` publishes it later."""
    run = DistributionRun.objects.get(pk=run_id)
    if run.status != DistributionRun.Status.DONE:
        return None
    try:
        return run_publish(run=run)
    except Exception:
        log.exception("run %s is done but could not be published", run_id)
        return None


def run_verify(*, run: DistributionRun) -> list[str]:
    """Check a published run against its snapshot (empty when everything holds): the
    recomputed allocations equal the stored ones, the snapshot hash and every Merkle root
    match, the stored flows equal the recomputed ones and add up to the totals."""
    publication = RunPublication.objects.filter(run=run).first()
    if publication is None:
        return [f"run {run.pk} is not published (manage.py run_publish --run {run.pk})"]
    snapshot = run.snapshot or {}
    problems = []
    if snapshot_digest(snapshot=snapshot) != publication.snapshot_sha256:
        problems.append("the snapshot's SHA-256 differs from the published one")
    from payouts.distribution import runs

    recomputed = {k: v for k, v in runs.run_compute(snapshot).allocations.items() if v}
    stored = {
        (r, p, c): int(a)
        for r, p, c, a in RunAllocation.objects.filter(run=run).values_list(
            "recipient", "purpose", "currency", "amount"
        )
    }
    if recomputed != stored:
        differ = sorted(set(recomputed.items()) ^ set(stored.items()))
        problems.append(f"{len(differ)} allocation lines differ from the recomputation")
    for currency, lines in _lines_by_currency(run).items():
        summary = merkle_summary(run_id=run.pk, currency=currency, lines=lines)
        if summary["root"] != publication.merkle_roots.get(currency):
            problems.append(
                f"{currency}: the allocations' Merkle root is {summary['root']}, the "
                f"published one {publication.merkle_roots.get(currency)} (if only the salt "
                "secret changed, every proof of this run fails too)"
            )
    flows, _ = run_flows(snapshot=snapshot)
    expected = {(c, s, t): a for c, hops in flows.items() for (s, t), a in hops.items() if a}
    published = {(f["currency"], f["source"], f["target"]): f["amount"] for f in flow_rows(run=run)}
    if expected != published:
        problems.append(
            f"{len(set(expected.items()) ^ set(published.items()))} flow rows differ from "
            "the recomputation"
        )
    problems += flows_check(flows=flow_rows(run=run), totals=run.totals or {})
    return problems
