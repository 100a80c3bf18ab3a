"""Reads of the ledger: balances are sums of postings (indexed), never stored copies."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Q, Sum

from .models import Account, LedgerTransaction, Posting

BALANCE_PURPOSES = ("available", "escrow", "held", "paid_out")


def account_balance(*, owner: str, purpose: str, currency: str) -> int:
    total = Posting.objects.filter(
        account__owner=owner, account__purpose=purpose, account__currency=currency
    ).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def balances_by_purpose(*, owner: str) -> dict[str, dict[str, int]]:
    """``{currency: {purpose: balance}}`` for every account of ``owner``."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        Posting.objects.filter(account__owner=owner)
        .values("account__purpose", "account__currency")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        out[row["account__currency"]][row["account__purpose"]] = int(row["total"] or 0)
    return dict(out)


def recipient_balances(*, recipient: str) -> dict[str, dict[str, int]]:
    """The API's balances: received (ever credited by distributions), available, escrow,
    held, paid_out per currency. A project's reserve counts as available to the project.
    """
    by_purpose = balances_by_purpose(owner=recipient)
    received = (
        Posting.objects.filter(
            account__owner=recipient,
            transaction__kind=LedgerTransaction.Kind.DISTRIBUTION,
            amount__gt=0,
        )
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    received_by_currency = {r["currency"]: int(r["total"]) for r in received}
    currencies = set(by_purpose) | set(received_by_currency)
    out = {}
    for currency in sorted(currencies):
        purposes = by_purpose.get(currency, {})
        out[currency] = {
            "received": received_by_currency.get(currency, 0),
            "available": purposes.get("available", 0) + purposes.get("reserve", 0),
            "escrow": purposes.get("escrow", 0),
            "held": purposes.get("held", 0),
            "paid_out": purposes.get("paid_out", 0),
            "in_transit": purposes.get("in_transit", 0),
        }
    return out


def accounts_with_negative_balance(*, purposes: tuple[str, ...]) -> list[tuple[str, str, str, int]]:
    rows = (
        Posting.objects.filter(account__purpose__in=purposes)
        .values("account__owner", "account__purpose", "account__currency")
        .annotate(total=Sum("amount"))
        .filter(total__lt=0)
    )
    return [
        (r["account__owner"], r["account__purpose"], r["account__currency"], int(r["total"]))
        for r in rows
    ]


def accounts_of(*, owner: str) -> list[Account]:
    return list(Account.objects.filter(Q(owner=owner)).order_by("purpose", "currency"))
