"""Filling the slots lower apps declare (ARCHITECTURE.md "Reaching upwards")."""

from __future__ import annotations


def hooks_install() -> None:
    """Called once from :meth:`market.apps.MarketConfig.ready`."""
    from payouts.ledger_checks import ledger_checks
    from payouts.run_followups import run_followups

    from .checks import market_ledger_checks
    from .services.distribution import run_market_distribute

    run_followups.register("market", run_market_distribute)
    ledger_checks.register("market", market_ledger_checks)
