"""Claims: a person proves an identity (``github:<login>``, ``email:<address>``) and the
escrow waiting for it becomes theirs (money rule 6)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum

from payouts.connect._common import recipient_of_user
from payouts.ledger import Leg, ledger_post
from payouts.models import Account, ClaimedIdentity, LedgerTransaction, Posting
from payouts.selectors import identities_of_user
from projects.models import TableEntry


def identity_spellings(*, identity: str) -> list[str]:
    """Every spelling of ``identity`` in escrow accounts or table entries (case-insensitive),
    plus the identity itself, sorted (a fixed lock order)."""

    found = {identity}
    found |= set(
        Account.objects.filter(owner__iexact=identity).values_list("owner", flat=True).distinct()
    )
    found |= set(
        TableEntry.objects.filter(recipient__iexact=identity)
        .values_list("recipient", flat=True)
        .distinct()
    )
    return sorted(found)


def escrow_sweep(*, identity: str, user: Any) -> list[LedgerTransaction]:
    """Move ``identity``'s escrow (every currency) to the user's available balance.

    Invariants: runs under a lock of the escrow account; the idempotency key names the last
    posting seen, so a repeat with no new escrow writes nothing, and escrow credited later
    (a run snapshotted before the claim) is swept by a later call.
    """
    out = []
    recipient = recipient_of_user(user=user)
    with transaction.atomic():
        accounts = list(
            Account.objects.select_for_update()
            .filter(owner=identity, purpose=Account.Purpose.ESCROW)
            .order_by("currency")
        )
        for account in accounts:
            agg = Posting.objects.filter(account=account).aggregate(
                total=Sum("amount"), last=Max("id")
            )
            balance = int(agg["total"] or 0)
            if balance <= 0:
                continue
            txn, _ = ledger_post(
                idempotency_key=f"claim:{account.pk}:{agg['last']}",
                kind=LedgerTransaction.Kind.CLAIM,
                reference=f"claim:{identity}",
                legs=[
                    Leg(identity, Account.Purpose.ESCROW, account.currency, -balance),
                    Leg(recipient, Account.Purpose.AVAILABLE, account.currency, balance),
                ],
                memo=f"{identity} claimed by {user.get_username()}",
            )
            out.append(txn)
    return out


def identity_claim(*, user: Any, identity: str) -> list[LedgerTransaction]:
    """Claim ``identity`` (``github:<login>`` / ``email:<address>``) for ``user``.

    Preconditions: the user proved the identity (a GitHub account linked through allauth, or
    a verified email address), else ValidationError; no other user claimed it.
    Invariants: a ClaimedIdentity row per spelling (future runs credit the user directly),
    then escrow → available by ledger transactions (money rule 6); idempotent.
    """
    proven = {i.lower() for i in identities_of_user(user=user)}
    if identity.lower() not in proven:
        raise ValidationError(
            {
                "identity": (
                    f"Sign in with that GitHub account or verify that address to claim {identity}."
                )
            }
        )
    txns: list[LedgerTransaction] = []
    with transaction.atomic():
        for spelling in identity_spellings(identity=identity):
            claim, _ = ClaimedIdentity.objects.get_or_create(
                identity=spelling, defaults={"user": user}
            )
            if claim.user_id != user.pk:
                raise ValidationError(
                    {"identity": f"{spelling} was already claimed by another account."}
                )
            txns += escrow_sweep(identity=spelling, user=user)
    return txns


def claims_sweep() -> list[LedgerTransaction]:
    """Sweep escrow credited to already-claimed identities (e.g. by a run snapshotted before
    the claim). Called by every payout run."""
    owners = set(
        Account.objects.filter(purpose=Account.Purpose.ESCROW).values_list("owner", flat=True)
    )
    txns: list[LedgerTransaction] = []
    for claim in (
        ClaimedIdentity.objects.filter(identity__in=owners)
        .select_related("user")
        .order_by("identity")
    ):
        txns += escrow_sweep(identity=claim.identity, user=claim.user)
    return txns


def users_for_identities(*, identities: Iterable[str]) -> dict[str, Any]:
    """{identity: user} for claimed identities (for display)."""
    rows = ClaimedIdentity.objects.filter(identity__in=list(identities)).values_list(
        "identity", "user_id"
    )
    users = {u.pk: u for u in User.objects.filter(pk__in=[r[1] for r in rows])}
    return {i: users[u] for i, u in rows}
