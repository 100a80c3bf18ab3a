"""The resolution of a dispute and its appeal (decided by another ombudsman; final)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from .. import selectors
from ..conf import setting
from ..models import Appeal, Dispute, Hold
from ._common import (
    _admin_link,
    _audit,
    _lock,
    _notify_parties,
    _require_acting,
    _send_later,
    _text,
)


def _no_active_holds(dispute: Dispute) -> None:
    active = dispute.holds.filter(status=Hold.Status.ACTIVE).count()
    if active:
        raise ValidationError(
            {
                "outcome": f"This dispute still has {active} active hold(s): release or redirect "
                "them first, so the resolution leaves no money frozen."
            }
        )


@transaction.atomic
def dispute_resolve(*, dispute: Dispute, actor: User, outcome: str, resolution: str) -> Dispute:
    """Decide the dispute (upheld, rejected or settled) with a written resolution, mailed
    to every party. Preconditions: an acting ombudsman who is not a party; no active
    holds. Afterwards each party may appeal once within ``FAIROSS_DISPUTE_APPEAL_DAYS``."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    if dispute.status == Dispute.Status.APPEALED:
        raise ValidationError({"outcome": "This dispute is on appeal: decide the appeal."})
    if outcome not in Dispute.Outcome.values:
        raise ValidationError({"outcome": "Choose upheld, rejected or settled."})
    resolution = _text(resolution, field="resolution", label="the resolution")
    _no_active_holds(dispute)
    dispute.outcome = outcome
    dispute.resolution = resolution
    dispute.resolved_by = actor
    dispute.resolved_at = timezone.now()
    dispute.status = Dispute.Status.RESOLVED
    if dispute.assigned_to_id is None:
        dispute.assigned_to = actor
    dispute.save()
    _audit(dispute, actor, "dispute.resolve", {"outcome": outcome}, reason=resolution)
    days = setting("FAIROSS_DISPUTE_APPEAL_DAYS")
    _notify_parties(
        dispute,
        f"resolved ({dispute.get_outcome_display().lower()})",
        f"The ombudsman office resolved the dispute: {dispute.get_outcome_display()}.\n\n"
        f"Resolution:\n{resolution}\n\nEach party may appeal once within {days} days, on the "
        "dispute page; another ombudsman will decide the appeal.",
    )
    return dispute


def appeal_deadline(*, dispute: Dispute) -> dt.datetime | None:
    if dispute.resolved_at is None:
        return None
    return dispute.resolved_at + dt.timedelta(days=setting("FAIROSS_DISPUTE_APPEAL_DAYS"))


def _least_busy_reviewer(dispute: Dispute) -> User | None:
    """An ombudsman who neither resolved the dispute nor is a party, with the fewest active
    disputes (then by username)."""
    party_ids = set(dispute.parties.exclude(user=None).values_list("user_id", flat=True))
    candidates = (
        selectors.ombudsmen()
        .exclude(pk=dispute.resolved_by_id)
        .exclude(pk__in=party_ids)
        .annotate(
            load=Count(
                "disputes_assigned",
                filter=Q(disputes_assigned__status__in=selectors.ACTIVE_STATUSES),
                distinct=True,
            )
        )
        .order_by("load", "username")
    )
    return candidates.first()


@transaction.atomic
def appeal_file(*, dispute: Dispute, appellant: User, reason: str) -> Appeal:
    """A party appeals the resolution: once per party, within the window. The dispute goes
    to an ombudsman other than the one who resolved it (the least busy one)."""
    dispute = _lock(dispute)
    if not selectors.dispute_is_party(dispute=dispute, user=appellant):
        raise PermissionDenied("Only the filer and the parties can appeal.")
    if dispute.status not in (Dispute.Status.RESOLVED, Dispute.Status.APPEALED):
        raise ValidationError({"reason": "Only a resolved dispute can be appealed."})
    deadline = appeal_deadline(dispute=dispute)
    if deadline is None or timezone.now() > deadline:
        raise ValidationError({"reason": "The time to appeal this resolution has passed."})
    if dispute.appeals.filter(appellant=appellant).exists():
        raise ValidationError({"reason": "You have already appealed; each party may appeal once."})
    reason = _text(reason, field="reason", label="why you appeal")
    reviewer = dispute.assigned_to if dispute.status == Dispute.Status.APPEALED else None
    if reviewer is None:
        reviewer = _least_busy_reviewer(dispute)
    appeal = Appeal.objects.create(
        dispute=dispute, appellant=appellant, reason=reason, assigned_to=reviewer
    )
    dispute.status = Dispute.Status.APPEALED
    dispute.assigned_to = reviewer
    dispute.save(update_fields=["status", "assigned_to", "updated_at"])
    _audit(
        dispute,
        appellant,
        "appeal.file",
        {"assigned_to": reviewer.get_username() if reviewer else None},
        reason=reason,
        target=f"appeal:{appeal.pk}",
    )
    _notify_parties(
        dispute,
        "appealed",
        f"{appellant.get_username()} appealed the resolution:\n\n{reason}\n\n"
        "Another ombudsman will decide the appeal.",
    )
    if reviewer is not None and reviewer.email:
        _send_later(
            f"Appeal on dispute #{dispute.pk} assigned to you",
            f"{_admin_link(dispute)}\n",
            [reviewer.email],
        )
    return appeal


@transaction.atomic
def appeal_decide(
    *,
    dispute: Dispute,
    actor: User,
    decision: str,
    text: str,
    outcome: str = "",
) -> Dispute:
    """Decide the pending appeal(s): confirm the resolution or overturn it with a new
    ``outcome``. Only an ombudsman other than the first resolver, and not a party.
    The decision is final: the dispute closes and everyone is emailed."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    if dispute.status != Dispute.Status.APPEALED:
        raise ValidationError({"decision": "This dispute has no pending appeal."})
    if decision not in Appeal.Decision.values:
        raise ValidationError({"decision": "Choose confirmed or overturned."})
    if decision == Appeal.Decision.OVERTURNED and outcome not in Dispute.Outcome.values:
        raise ValidationError({"outcome": "An overturned resolution needs the new outcome."})
    text = _text(text, field="text", label="the decision")
    _no_active_holds(dispute)
    now = timezone.now()
    pending = list(dispute.appeals.filter(decision=""))
    for appeal in pending:
        appeal.decision, appeal.decision_text = decision, text
        appeal.decided_by, appeal.decided_at = actor, now
        appeal.save(update_fields=["decision", "decision_text", "decided_by", "decided_at"])
    before = dispute.outcome
    if decision == Appeal.Decision.OVERTURNED:
        dispute.outcome = outcome
    dispute.status = Dispute.Status.CLOSED
    dispute.save()
    data = {"decision": decision, "appeals": [a.pk for a in pending], "outcome_before": before}
    _audit(dispute, actor, "appeal.decide", {**data, "outcome": dispute.outcome}, reason=text)
    _notify_parties(
        dispute,
        f"appeal {decision}",
        f"The appeal was decided: {Appeal.Decision(decision).label}. Final outcome: "
        f"{dispute.get_outcome_display()}.\n\n{text}\n\nThis decision is final.",
    )
    return dispute
