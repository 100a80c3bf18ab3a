"""Who may not be paid out (money rule 7), as the ombudsman office says.

The disputes app sits above payouts, so payouts declares the questions and disputes answers
them at start-up (``disputes.apps``). Until it has, asking raises ``ImproperlyConfigured``:
a missing answer never counts as "not held".
"""

from __future__ import annotations

from collections.abc import Callable

from faiross.kernel.registry import Hook

held_recipients_source: Hook[Callable[[], set[str]]] = Hook(
    "payouts.holds.held_recipients_source", filled_by="disputes"
)


def held_recipients() -> set[str]:
    """Every recipient with an active hold or freeze (one query, for a payout run's batch)."""
    return set(held_recipients_source.fn())


def recipient_is_held(*, recipient: str) -> bool:
    """True while ``recipient`` has an active hold or freeze: do not pay it out."""
    return recipient in held_recipients()
