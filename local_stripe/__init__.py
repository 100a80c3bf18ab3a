"""A small, stateful, Stripe-compatible test server for FairOSS (TEST MODE only).

No off-the-shelf Stripe fake covers Connect, so this package implements the part of the Stripe
API that FairOSS uses (Connect Express accounts and onboarding, balances, transfers, reversals,
payouts, customers, PaymentIntents, Checkout, events and signed webhooks), with Stripe's
idempotency semantics and fault switches for tests. The official ``stripe`` library talks to it
through its API base. Only the standard library is used.

Run it with ``python -m local_stripe --port 12111``; embed it with
:class:`LocalStripeServer`. See ``docs/local-stripe.md``.
"""

from .config import DEFAULT_PORT, DEFAULT_WEBHOOK_SECRET, ServerConfig
from .server import LocalStripeServer
from .webhooks import sign

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_WEBHOOK_SECRET",
    "LocalStripeServer",
    "ServerConfig",
    "sign",
]
