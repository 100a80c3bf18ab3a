"""The audit trail: every step of the office (and of other apps that ask) as one event."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from ..models import AuditEvent, Dispute


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: str,
    data: dict[str, Any] | None = None,
    dispute: Dispute | None = None,
    reason: str = "",
    internal: bool = False,
) -> AuditEvent:
    """Append one event to the trail. The row can never be changed or deleted afterwards
    (database triggers); ``data`` must be JSON-serialisable."""
    return AuditEvent.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_name=actor.get_username() if actor is not None else "",
        action=action[:60],
        target=target[:300],
        dispute=dispute,
        reason=reason,
        data=data or {},
        internal=internal,
    )
