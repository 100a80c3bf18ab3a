#!/usr/bin/env python3
"""Check a FairOSS distribution run's open data, with the Python standard library only.

    python3 verify_run.py proof.json --root <hex>
    python3 verify_run.py proof.json --public https://faiross.example/api/v1/distributions/7/public/
    python3 verify_run.py --flows flows.json --public public.json

The first two check an inclusion proof (``GET /api/v1/distributions/{id}/proof/?recipient=…``)
against a Merkle root: given, or read from the run's public answer (a file or an http(s) URL).
The third checks that the run's flows (``flows.json``) add up to the published totals per
currency, and that at every project and company money in equals money out.
Exit status: 0 when everything checks, 1 when something does not, 2 for bad arguments.
The scheme is documented in docs/verifiable-runs.md; this file is its reference reader.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.parse
import urllib.request
from collections import defaultdict
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
SCHEME = 1


def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces, UTF-8 without escapes: the bytes that are hashed."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def leaf_hash(proof: dict[str, Any]) -> bytes:
    line = {
        "amount": int(proof["amount"]),
        "currency": str(proof["currency"]),
        "purpose": str(proof["purpose"]),
        "recipient": str(proof["recipient"]),
        "run": int(proof["run"]),
        "salt": str(proof["salt"]),
    }
    return hashlib.sha256(LEAF_PREFIX + canonical_json(line)).digest()


def fold(leaf: bytes, path: list[dict[str, str]]) -> bytes:
    current = leaf
    for step in path:
        sibling = bytes.fromhex(step["hash"])
        if step["side"] == "left":
            current = hashlib.sha256(NODE_PREFIX + sibling + current).digest()
        elif step["side"] == "right":
            current = hashlib.sha256(NODE_PREFIX + current + sibling).digest()
        else:
            raise ValueError(f"a step's side is 'left' or 'right', not {step['side']!r}")
    return current


def load(source: str) -> Any:
    """JSON from a file or an http(s) URL."""
    scheme = urllib.parse.urlsplit(source).scheme
    if scheme in ("http", "https"):
        # Only http(s) reaches here (checked above), so no file: or custom scheme is opened.
        request = urllib.request.Request(source, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read().decode("utf-8"))
    if scheme and len(scheme) > 1:
        raise ValueError(f"{source}: only files and http(s) URLs are read")
    with open(source, encoding="utf-8") as handle:
        return json.load(handle)


def check_proof(proof: dict[str, Any], root: str | None) -> list[str]:
    problems = []
    if proof.get("scheme", SCHEME) != SCHEME:
        return [f"proof scheme {proof.get('scheme')} is not {SCHEME}: get a newer verifier"]
    try:
        leaf = leaf_hash(proof)
        folded = fold(leaf, list(proof["path"])).hex()
    except (KeyError, TypeError, ValueError) as exc:
        return [f"not a proof: {exc!r}"]
    if leaf.hex() != proof.get("leaf"):
        problems.append("the leaf is not the hash of the line (recipient, amount, salt, ...)")
    expected = root if root is not None else proof.get("root")
    if folded != expected:
        problems.append(f"the path leads to {folded}, not to the root {expected}")
    return problems


def is_node(label: str) -> bool:
    """Projects and companies (``project:numpy``); not ``inflows``, ``people``, ``x (reserve)``."""
    return ":" in label and " " not in label


def check_flows(flows: list[dict[str, Any]], totals: dict[str, int]) -> list[str]:
    entering: dict[str, int] = defaultdict(int)
    staying: dict[str, int] = defaultdict(int)
    balance: dict[tuple[str, str], int] = defaultdict(int)
    for flow in flows:
        currency, amount = str(flow["currency"]), flow["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return [f"an amount is a positive integer of minor units, not {amount!r}"]
        source, target = str(flow["source"]), str(flow["target"])
        if is_node(source):
            balance[(currency, source)] -= amount
        else:
            entering[currency] += amount
        if is_node(target):
            balance[(currency, target)] += amount
        else:
            staying[currency] += amount
    problems = []
    for currency in sorted(set(totals) | set(entering) | set(staying)):
        total = int(totals.get(currency, 0))
        if entering[currency] != total:
            problems.append(f"{currency}: money entering sums to {entering[currency]}, not {total}")
        if staying[currency] != total:
            problems.append(f"{currency}: money staying sums to {staying[currency]}, not {total}")
    for (currency, node), left in sorted(balance.items()):
        if left:
            problems.append(f"{currency}: {node} receives {left:+d} more than it passes on")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("proof", nargs="?", help="a proof JSON file (or URL)")
    parser.add_argument("--root", help="the Merkle root (hex) to check the proof against")
    parser.add_argument("--public", help="the run's public JSON (file or URL)")
    parser.add_argument("--flows", help="the run's flows.json (file or URL)")
    args = parser.parse_args(argv)
    if not args.proof and not args.flows:
        parser.error("give a proof file, or --flows with --public")
    if args.flows and not args.public:
        parser.error("--flows needs --public (the totals they must add up to)")
    try:
        public = load(args.public) if args.public else None
        problems: list[str] = []
        if args.proof:
            proof = load(args.proof)
            root = args.root
            if root is None and public is not None:
                if public.get("id") != proof.get("run"):
                    problems.append(
                        f"the proof is of run {proof.get('run')}, not {public.get('id')}"
                    )
                root = public.get("merkle_roots", {}).get(proof.get("currency"))
                if root is None:
                    problems.append(f"the run publishes no root in {proof.get('currency')!r}")
            if root is None and public is None:
                print("note: no --root or --public given: checked against the proof's own root")
            problems += check_proof(proof, root)
            what = (
                f"{proof.get('recipient')} {proof.get('currency')} line of run {proof.get('run')}"
            )
        if args.flows:
            assert public is not None
            problems += check_flows(load(args.flows), dict(public.get("totals", {})))
    except (OSError, ValueError) as exc:
        print(f"FAIL cannot read the input: {exc}", file=sys.stderr)
        return 1
    for line in problems:
        print(f"FAIL {line}")
    if problems:
        return 1
    if args.proof:
        print(f"OK the proof of the {what} leads to the root")
    if args.flows:
        print("OK the flows add up to the published totals, and every node passes on what it got")
    return 0


if __name__ == "__main__":
    sys.exit(main())
