"""Bounty money in the ledger: held from the company's reserve when a request is filed, paid
into the project's flow when it is confirmed, released back when it is withdrawn or declined.

Accounts: ``company:<slug>/reserve`` (what the company's own table kept in earlier runs) →
``company:<slug>/bounty`` (held) → ``project:<slug>/escrow`` (paid). Paying into the
project's escrow is how money enters the graph *at a project* without touching the
distribution runs: the snapshot stage of the next run releases the escrow of every verified,
unheld project into the run as an inflow at that project (``payouts.distribution.runs.
_escrow_release``), so the bounty follows the project's table; an unverified project keeps it
until it is verified (money rule 8), as with reserve grants (``payouts.reserves``).

Every movement is one balanced transaction of kind ``bounty``, keyed ``ask:<id>:bounty:<step>``
(a repeat writes nothing, money rule 4). Callers hold the request row lock.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Sum

from companies.models import Company
from faiross.kernel.money import money_format
from faiross.kernel.recipients import company_key, project_key
from payouts.ledger import Leg, accounts_get_or_create, ledger_post
from payouts.models import Account, LedgerTransaction, Posting

from ..models import FeatureRequest

RESERVE = Account.Purpose.RESERVE
BOUNTY = Account.Purpose.BOUNTY


def _balance(account: Account) -> int:
    return int(Posting.objects.filter(account=account).aggregate(t=Sum("amount"))["t"] or 0)


def bounties_hold(*, company: Company, requests: list[FeatureRequest]) -> list[LedgerTransaction]:
    """Hold each request's bounty from the company's reserve.

    Preconditions: every request is new, of ``company``, with a bounty in one currency.
    Invariants: the reserve account row is locked first, so two filings from one reserve
    hold one after the other and the second sees the first's debit; nothing is held unless
    the reserve covers all of them (else ``ValidationError`` on ``bounty_amount``).
    """
    with_bounty = [r for r in requests if r.bounty_amount]
    if not with_bounty:
        return []
    currency = with_bounty[0].bounty_currency
    owner = company_key(company.slug)
    key = (owner, RESERVE, currency)
    account = accounts_get_or_create(keys=[key])[key]
    account = Account.objects.select_for_update().get(pk=account.pk)
    available = _balance(account)
    total = sum(int(r.bounty_amount or 0) for r in with_bounty)
    if total > available:
        each = "" if len(with_bounty) == 1 else f" ({len(with_bounty)} projects)"
        raise ValidationError(
            {
                "bounty_amount": f"The company's reserve holds "
                f"{money_format(amount=available, currency=currency)}; a bounty of "
                f"{money_format(amount=total, currency=currency)}{each} cannot be held from it."
            }
        )
    txns = []
    for request in with_bounty:
        amount = int(request.bounty_amount or 0)
        txn, _ = ledger_post(
            idempotency_key=f"{request.reference}:bounty:hold",
            kind=LedgerTransaction.Kind.BOUNTY,
            reference=request.reference,
            legs=[
                Leg(owner, RESERVE, currency, -amount),
                Leg(owner, BOUNTY, currency, amount),
            ],
            memo=f"bounty of feature request #{request.pk} to {request.project.slug}, held",
        )
        txns.append(txn)
    return txns


def bounty_pay(*, request: FeatureRequest) -> LedgerTransaction | None:
    """Move a confirmed request's held bounty into the project's escrow, from where the next
    distribution run lets it flow by the project's table. ``None`` without a bounty."""
    if not request.bounty_amount:
        return None
    owner = company_key(request.company.slug)
    txn, _ = ledger_post(
        idempotency_key=f"{request.reference}:bounty:pay",
        kind=LedgerTransaction.Kind.BOUNTY,
        reference=request.reference,
        legs=[
            Leg(owner, BOUNTY, request.bounty_currency, -request.bounty_amount),
            Leg(
                project_key(request.project.slug),
                Account.Purpose.ESCROW,
                request.bounty_currency,
                request.bounty_amount,
            ),
        ],
        memo=f"bounty of feature request #{request.pk} confirmed: it flows by "
        f"{request.project.slug}'s table in the next run",
    )
    return txn


def bounty_release(*, request: FeatureRequest) -> LedgerTransaction | None:
    """Give a withdrawn or declined request's held bounty back to the company's reserve."""
    if not request.bounty_amount:
        return None
    owner = company_key(request.company.slug)
    txn, _ = ledger_post(
        idempotency_key=f"{request.reference}:bounty:release",
        kind=LedgerTransaction.Kind.BOUNTY,
        reference=request.reference,
        legs=[
            Leg(owner, BOUNTY, request.bounty_currency, -request.bounty_amount),
            Leg(owner, RESERVE, request.bounty_currency, request.bounty_amount),
        ],
        memo=f"bounty of feature request #{request.pk} released back to the reserve",
    )
    return txn
