"""The event types an endpoint can pick, and what each says (docs/webhooks.md has payloads).

There is no ``payout.sent``: payouts go to people (their connected accounts), never to a
project or a company, and what a person is paid is theirs alone (privacy rule 9).
"""

from __future__ import annotations

TABLE_ACTIVATED = "table.activated"
RUN_DONE = "run.done"
INVOICE_ISSUED = "invoice.issued"
INVOICE_PAID = "invoice.paid"
AGREEMENT_COUNTERSIGNED = "agreement.countersigned"
DISPUTE_OPENED = "dispute.opened"
# Sent only by "Send test event"; an endpoint receives it whatever it picked.
WEBHOOK_TEST = "webhook.test"

# (type, label, owner kinds it can concern)
EVENT_TYPES: tuple[tuple[str, str, frozenset[str]], ...] = (
    (TABLE_ACTIVATED, "A new share-table version took effect", frozenset({"project", "company"})),
    (
        RUN_DONE,
        "A distribution run finished (your totals in it)",
        frozenset({"project", "company"}),
    ),
    (INVOICE_ISSUED, "An invoice was issued", frozenset({"company"})),
    (INVOICE_PAID, "An invoice was paid", frozenset({"company"})),
    (
        AGREEMENT_COUNTERSIGNED,
        "An agreement was countersigned and is active",
        frozenset({"company"}),
    ),
    (DISPUTE_OPENED, "A dispute was opened about you", frozenset({"project", "company"})),
)
EVENT_NAMES = frozenset(name for name, _, _ in EVENT_TYPES) | {WEBHOOK_TEST}


def event_choices(*, owner_kind: str) -> list[tuple[str, str]]:
    """The (type, label) pairs an owner of this kind (``project``/``company``) may pick."""
    return [(name, label) for name, label, kinds in EVENT_TYPES if owner_kind in kinds]
