"""Reserve grants: a project's stewards give money from its reserve to a member or to another
project, by the table's quorum, so a reserve is not a dead end (issue 11).

Rules every function keeps:

- only stewards of a *verified* project propose, approve and reject (the proposer's proposal
  counts as their approval); the quorum is the project's table quorum
  (:func:`projects.services.tables.quorum_needed`: the table's quorum, else a majority);
- a grant names ``user:<name>`` (a member of the project) or ``project:<slug>`` (another
  project); an amount of 1 .. ``MAX_AMOUNT`` minor units in a supported currency;
- the grant executes the moment its approvals meet the quorum, as ONE balanced ledger
  transaction (kind ``reserve_grant``, key and reference ``reserve_grant:<id>``, the memo
  naming the approvers): ``project:<slug>/reserve`` → ``user:<name>/available`` for a
  person, or → ``project:<other>/escrow`` for a project, whose next distribution run lets it
  flow on by that project's table (money reaching a project keeps flowing, money rule 5; it
  waits while that project is unverified, rule 8);
- never more than the reserve holds: held money already left the reserve (a hold moves it to
  ``held``), and nothing is granted while the project has an active hold or freeze (rule 7);
- rows are locked in one order: the grant, then the project's reserve account; so two grants
  from one reserve execute one after the other and the second sees the first's debit.

Errors are ``ValidationError({field: [...]})`` or ``PermissionDenied``; nothing is stored.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from faiross.kernel.money import amount_clean, currency_clean, money_format
from faiross.kernel.recipients import (
    RecipientError,
    parse_recipient,
    project_key,
    recipient_split,
)
from payouts.holds import recipient_is_held
from payouts.ledger import Leg, accounts_get_or_create, ledger_post
from payouts.models import Account, LedgerTransaction, Posting, ReserveGrant, ReserveGrantApproval
from projects.models import Membership, Project, ShareTable
from projects.services.tables import project_table_roles, quorum_needed

MAX_REASON = 2000


# --- reads -------------------------------------------------------------------------------


def reserve_balances(*, slug: str) -> dict[str, int]:
    """``{currency: minor units}`` in the project's reserve (positive balances only)."""
    rows = (
        Posting.objects.filter(account__owner=project_key(slug), account__purpose="reserve")
        .values("currency")
        .annotate(total=Sum("amount"))
        .filter(total__gt=0)
        .order_by("currency")
    )
    return {r["currency"]: int(r["total"]) for r in rows}


def reserve_balance(*, slug: str, currency: str) -> int:
    total = Posting.objects.filter(
        account__owner=project_key(slug), account__purpose="reserve", account__currency=currency
    ).aggregate(t=Sum("amount"))["t"]
    return int(total or 0)


def reserve_grant_can_manage(*, slug: str, user: User | AnonymousUser | Any) -> bool:
    """May ``user`` see the project's grants page: its stewards and staff."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_staff", False):
        return True
    return project_table_roles(slug=slug, user=user)[1]


def reserve_grant_quorum(*, project: Project) -> tuple[int, int]:
    """(approvals needed, stewards) for the project's grants: its table's quorum rule."""
    stewards = Membership.objects.filter(project=project, role=Membership.Role.STEWARD).count()
    table = ShareTable.objects.filter(owner_key=project.owner_key).first()
    table = table or ShareTable(owner_key=project.owner_key, quorum=None)
    return quorum_needed(table=table, approvers=stewards), stewards


def reserve_grants_of(*, project: Project) -> list[ReserveGrant]:
    return list(
        ReserveGrant.objects.filter(project=project)
        .select_related("proposed_by")
        .prefetch_related("approvals__user")
    )


# --- checks ------------------------------------------------------------------------------


def _money(amount: int, currency: str) -> str:
    return money_format(amount=amount, currency=currency)


def _steward(project: Project, actor: User) -> None:
    if not project_table_roles(slug=project.slug, user=actor)[1]:
        raise PermissionDenied("Only the project's stewards can grant from its reserve.")
    if not project.is_verified:
        raise ValidationError(
            {"project": "The project's ownership is not verified yet; its reserve cannot grant."}
        )


def _recipient(project: Project, value: object) -> tuple[str, str]:
    """The grant's recipient and the account purpose it is credited to."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"recipient": "Name a member (user:<name>) or a project."})
    try:
        kind, ident = parse_recipient(value.strip())
    except RecipientError as exc:
        raise ValidationError({"recipient": exc.message}) from None
    if kind == "user":
        if not Membership.objects.filter(project=project, user__username=ident).exists():
            raise ValidationError(
                {"recipient": f"{ident} is not a member of {project.slug}; grant to members."}
            )
        return f"user:{ident}", Account.Purpose.AVAILABLE
    if kind == "project":
        if ident == project.slug:
            raise ValidationError({"recipient": "A project cannot grant to itself."})
        if not Project.objects.filter(slug=ident).exists():
            raise ValidationError({"recipient": f"There is no project '{ident}'."})
        return project_key(ident), Account.Purpose.ESCROW
    raise ValidationError(
        {"recipient": "A grant goes to a member (user:<name>) or a project (project:<slug>)."}
    )


def _reason(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"reason": "Say what the grant is for."})
    if "\x00" in value:
        raise ValidationError({"reason": "The reason contains a NUL character."})
    if len(value) > MAX_REASON:
        raise ValidationError({"reason": f"Keep the reason within {MAX_REASON} characters."})
    return value.strip()


def _within_reserve(project: Project, amount: int, currency: str) -> None:
    balance = reserve_balance(slug=project.slug, currency=currency)
    if amount > balance:
        raise ValidationError(
            {
                "amount": f"The reserve of {project.slug} holds {_money(balance, currency)}; "
                f"a grant of {_money(amount, currency)} is more than that."
            }
        )


# --- services ----------------------------------------------------------------------------


@transaction.atomic
def reserve_grant_propose(
    *,
    project: Project,
    actor: User,
    recipient: str,
    amount: int,
    currency: str,
    reason: str,
) -> ReserveGrant:
    """Propose a grant; the proposer's approval counts, so it executes at once when the
    quorum is one approval.

    Preconditions: ``actor`` is a steward of ``project``, which is verified; the recipient,
    amount and reason follow the module's rules; ``amount`` ≤ the reserve's balance now.
    """
    _steward(project, actor)
    to, _ = _recipient(project, recipient)
    currency = currency_clean(currency=currency)
    amount = amount_clean(amount=amount)
    reason = _reason(reason)
    _within_reserve(project, amount, currency)
    grant = ReserveGrant.objects.create(
        project=project,
        recipient=to,
        amount=amount,
        currency=currency,
        reason=reason,
        proposed_by=actor,
    )
    ReserveGrantApproval.objects.create(grant=grant, user=actor, approve=True)
    _maybe_execute(grant)
    grant.refresh_from_db()
    return grant


def _locked_proposed(grant: ReserveGrant) -> ReserveGrant:
    locked = ReserveGrant.objects.select_for_update().select_related("project").get(pk=grant.pk)
    if locked.status != ReserveGrant.Status.PROPOSED:
        raise ValidationError(
            {"grant": f"Grant #{locked.pk} is {locked.get_status_display().lower()}."}
        )
    return locked


def _vote(grant: ReserveGrant, actor: User, *, approve: bool) -> ReserveGrant:
    locked = _locked_proposed(grant)
    _steward(locked.project, actor)
    if ReserveGrantApproval.objects.filter(grant=locked, user=actor).exists():
        raise ValidationError({"grant": f"You have already decided on grant #{locked.pk}."})
    ReserveGrantApproval.objects.create(grant=locked, user=actor, approve=approve)
    if approve:
        _maybe_execute(locked)
    else:
        needed, stewards = reserve_grant_quorum(project=locked.project)
        rejections = locked.approvals.filter(approve=False).count()
        if stewards - rejections < needed:  # the quorum can no longer be met
            locked.status = ReserveGrant.Status.REJECTED
            locked.decided_at = timezone.now()
            locked.save(update_fields=["status", "decided_at"])
    locked.refresh_from_db()
    return locked


@transaction.atomic
def reserve_grant_approve(*, grant: ReserveGrant, actor: User) -> ReserveGrant:
    """A steward approves; the grant executes when approvals meet the quorum.

    Invariants: one approval per steward; execution is one balanced ledger transaction, after
    the grant row and then the reserve account are locked; more than the reserve holds is
    refused (nothing is stored, the approval neither).
    """
    return _vote(grant, actor, approve=True)


@transaction.atomic
def reserve_grant_reject(*, grant: ReserveGrant, actor: User) -> ReserveGrant:
    """A steward rejects; the grant is rejected once the other stewards can no longer reach
    the quorum. Nothing moves."""
    return _vote(grant, actor, approve=False)


@transaction.atomic
def reserve_grant_withdraw(*, grant: ReserveGrant, actor: User) -> ReserveGrant:
    """The proposer or a steward withdraws a proposed grant. Nothing moves."""
    locked = _locked_proposed(grant)
    is_steward = project_table_roles(slug=locked.project.slug, user=actor)[1]
    if not (is_steward or locked.proposed_by_id == actor.pk):
        raise PermissionDenied("Only the proposer or a steward can withdraw a grant.")
    locked.status = ReserveGrant.Status.WITHDRAWN
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_at"])
    return locked


def _maybe_execute(grant: ReserveGrant) -> None:
    """Execute ``grant`` (row already locked by the caller) if approvals meet the quorum."""
    project = grant.project
    needed, stewards = reserve_grant_quorum(project=project)
    approvers = list(
        grant.approvals.filter(approve=True)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )
    if len(approvers) < needed:
        return
    owner = project.owner_key
    if recipient_is_held(recipient=owner):
        raise ValidationError(
            {"grant": f"{project.slug} has an active hold; nothing is granted until it ends."}
        )
    accounts_get_or_create(keys=[(owner, Account.Purpose.RESERVE, grant.currency)])
    Account.objects.select_for_update().get(
        owner=owner, purpose=Account.Purpose.RESERVE, currency=grant.currency
    )
    _within_reserve(project, grant.amount, grant.currency)
    _, purpose = _recipient(project, grant.recipient)
    txn, _ = ledger_post(
        idempotency_key=f"reserve_grant:{grant.pk}",
        kind=LedgerTransaction.Kind.RESERVE_GRANT,
        reference=f"reserve_grant:{grant.pk}",
        legs=[
            Leg(owner, Account.Purpose.RESERVE, grant.currency, -grant.amount),
            Leg(grant.recipient, purpose, grant.currency, grant.amount),
        ],
        memo=(
            f"grant #{grant.pk} from the reserve of {owner} to {grant.recipient}, approved by "
            f"{', '.join(approvers)} (quorum {needed} of {stewards}): {grant.reason}"
        )[:2000],
    )
    grant.status = ReserveGrant.Status.EXECUTED
    grant.decided_at = timezone.now()
    grant.transaction = txn
    grant.save(update_fields=["status", "decided_at", "transaction"])


def reserve_grant_recipient_label(*, grant: ReserveGrant) -> str:
    """The recipient as shown on the stewards' page."""
    kind, ident = recipient_split(grant.recipient)
    return ident if kind == "user" else grant.recipient


__all__ = [
    "reserve_balance",
    "reserve_balances",
    "reserve_grant_approve",
    "reserve_grant_can_manage",
    "reserve_grant_propose",
    "reserve_grant_quorum",
    "reserve_grant_reject",
    "reserve_grant_withdraw",
    "reserve_grants_of",
]
