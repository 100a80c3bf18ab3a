"""The one configured Stripe client (shared by money in and payouts).

``STRIPE_API_BASE`` points it at the local Stripe test server (embedded default and tests);
empty means Stripe itself. Network retries are on: every mutating call FairOSS makes carries
an idempotency key, so a retry can never do the same thing twice.
"""

from __future__ import annotations

import stripe
from django.conf import settings


def stripe_client() -> stripe.StripeClient:
    """A ``stripe.StripeClient`` for the configured key and API base."""
    if not settings.STRIPE_SECRET_KEY:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set STRIPE_SECRET_KEY to take payments.")
    base = settings.STRIPE_API_BASE
    kwargs: dict[str, object] = {"max_network_retries": 2}
    if base:
        kwargs["base_addresses"] = {"api": base, "connect": base, "files": base}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **kwargs)  # type: ignore[arg-type]
