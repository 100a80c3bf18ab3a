"""Invariants higher apps add to ``manage.py ledger_check`` (filled at start-up).

A check returns ``[(what it verifies, [problem, ...]), ...]``; no problems means it holds.
The market app registers its units checks (units are double-entry like money, per ticker).
"""

from __future__ import annotations

from typing import Protocol

from faiross.kernel.registry import Registry


class LedgerCheck(Protocol):
    def __call__(self) -> list[tuple[str, list[str]]]: ...


ledger_checks: Registry[LedgerCheck] = Registry(
    "payouts.ledger_checks", required={"market": "market"}
)
