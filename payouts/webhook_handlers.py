"""Which app handles which Stripe event, filled at start-up.

Payment events (Checkout sessions, payment intents, charges) are money in, which the companies
app owns; it sits above payouts, so it registers its handler here in ``companies.apps``. The
start-up check refuses to run without it, so a payment event never lands as "no handler".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from faiross.kernel.registry import Registry


class EventHandler(Protocol):
    def __call__(self, *, event: Mapping[str, Any]) -> None: ...


PAYMENT_EVENT_PREFIXES = ("checkout.session.", "payment_intent.", "charge.")

stripe_event_handlers: Registry[EventHandler] = Registry(
    "payouts.stripe_event_handlers",
    required={prefix: "companies" for prefix in PAYMENT_EVENT_PREFIXES},
)


def handler_for(event_type: str) -> EventHandler | None:
    """The registered handler whose prefix starts ``event_type``, else None (not ours).

    A payment event whose handler is missing raises ``ImproperlyConfigured`` (the event is
    kept as failed and answered 500, so Stripe delivers it again), never "ignored"."""
    for prefix in stripe_event_handlers.required:
        if event_type.startswith(prefix):
            return stripe_event_handlers.get(prefix)
    for prefix, handler in stripe_event_handlers.items():
        if event_type.startswith(prefix):
            return handler
    return None
