"""The ``/v1`` endpoints; importing this package registers every route."""

from . import accounts, balance, checkout, events, payments, payouts, transfers

__all__ = ["accounts", "balance", "checkout", "events", "payments", "payouts", "transfers"]
