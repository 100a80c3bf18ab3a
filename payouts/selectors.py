"""Reads of the ledger: balances are sums of postings (indexed), never stored copies."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Q, Sum

from faiross.kernel.recipients import PERSON_KINDS, email_key, github_key, is_person_key
from projects.models import TableEntry

from .models import Account, LedgerTransaction, Posting

if TYPE_CHECKING:
    from .models import ConnectedAccount, DistributionRun, Payout


class PayoutCandidate(TypedDict):
    recipient: str
    currency: str
    amount: int
    account: ConnectedAccount | None


class StatementLine(TypedDict):
    date: dt.date
    kind: str
    reference: str
    description: str
    currency: str
    received: int
    paid_out: int


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


# --- payouts (issue 6) ------------------------------------------------------------------------


def payout_candidates() -> list[PayoutCandidate]:
    """Every person's positive available balance: ``{"recipient", "currency", "amount",
    "account"}`` (account: their ConnectedAccount or None), sorted by recipient and currency
    (the fixed order a payout run locks accounts in)."""
    from django.contrib.auth import get_user_model

    from .models import ConnectedAccount

    rows = list(
        Posting.objects.filter(account__purpose="available", account__owner__startswith="user:")
        .values("account__owner", "account__currency")
        .annotate(total=Sum("amount"))
        .filter(total__gt=0)
        .order_by("account__owner", "account__currency")
    )
    usernames = {r["account__owner"].split(":", 1)[1] for r in rows}
    users = get_user_model().objects.filter(username__in=usernames)
    accounts = {
        a.user.get_username(): a
        for a in ConnectedAccount.objects.filter(user__in=users).select_related("user")
    }
    return [
        {
            "recipient": r["account__owner"],
            "currency": r["account__currency"],
            "amount": int(r["total"]),
            "account": accounts.get(r["account__owner"].split(":", 1)[1]),
        }
        for r in rows
    ]


def paid_in_year(*, user: User, currency: str, year: int) -> int:
    """Sent and in-flight payouts of ``user`` in ``currency`` created in calendar ``year``."""
    from .models import Payout

    total = (
        Payout.objects.filter(user=user, currency=currency, created_at__year=year)
        .exclude(status=Payout.Status.FAILED)
        .aggregate(t=Sum("amount"))["t"]
    )
    return int(total or 0)


def identities_of_user(*, user: object) -> list[str]:
    """The identities ``user`` has proven: ``github:<login>`` for each GitHub account linked
    through allauth, ``email:<address>`` for each verified address."""
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount

    out: list[str] = []
    for social in SocialAccount.objects.filter(user=user, provider="github").order_by("pk"):
        login = (social.extra_data or {}).get("login")
        if isinstance(login, str) and login:
            out.append(github_key(login))
    for address in EmailAddress.objects.filter(user=user, verified=True).order_by("pk"):
        out.append(email_key(address.email))
    return out


def claimable_escrow(*, user: object) -> list[dict[str, object]]:
    """Escrow waiting for the identities ``user`` has proven (any spelling, any table):
    ``{"identity", "currency", "amount", "claimed_by", "tables"}``, positive balances only."""

    from .models import ClaimedIdentity

    out = []
    for identity in identities_of_user(user=user):
        rows = (
            Posting.objects.filter(account__purpose="escrow", account__owner__iexact=identity)
            .values("account__owner", "account__currency")
            .annotate(total=Sum("amount"))
            .filter(total__gt=0)
            .order_by("account__owner", "account__currency")
        )
        for row in rows:
            owner = row["account__owner"]
            claim = ClaimedIdentity.objects.filter(identity=owner).select_related("user").first()
            tables = sorted(
                set(
                    TableEntry.objects.filter(
                        recipient=owner, version__status="active"
                    ).values_list("version__table__owner_key", flat=True)
                )
            )
            out.append(
                {
                    "identity": owner,
                    "proven_as": identity,
                    "currency": row["account__currency"],
                    "amount": int(row["total"]),
                    "claimed_by": claim.user if claim else None,
                    "tables": tables,
                }
            )
    return out


def table_named_identities(*, owner_key: str) -> list[str]:
    """The identities (neither ``project:`` nor ``user:`` keys) that ``owner_key``'s active
    table names, sorted, each once: who escrow may be waiting for on that owner's page."""
    return sorted(
        set(
            TableEntry.objects.filter(version__table__owner_key=owner_key, version__status="active")
            .exclude(recipient__startswith="project:")
            .exclude(recipient__startswith="user:")
            .values_list("recipient", flat=True)
        )
    )


def payouts_of_user(*, user: User, limit: int = 50) -> list[Payout]:
    from .models import Payout

    return list(Payout.objects.filter(user=user).order_by("-id")[:limit])


def statement_years(*, recipient: str) -> list[int]:
    years = Posting.objects.filter(account__owner=recipient).dates(
        "transaction__created_at", "year", order="DESC"
    )
    return [d.year for d in years]


def statement_lines(*, recipient: str, year: int) -> list[StatementLine]:
    """A person's statement for calendar ``year``: what was received (distribution runs,
    claimed escrow, released holds, reversed transfers) and paid out, one line per ledger
    transaction and currency, oldest first. Movements into and out of "in transit" (a payout
    being sent or failing) are not lines: only their outcome is."""
    rows = (
        Posting.objects.filter(
            account__owner=recipient,
            account__purpose__in=("available", "paid_out"),
            transaction__created_at__year=year,
        )
        .exclude(transaction__kind__in=("payout", "payout_failed"))
        .select_related("transaction", "account")
        .order_by("transaction__created_at", "transaction_id", "id")
    )
    lines: list[StatementLine] = []
    for p in rows:
        txn = p.transaction
        received = p.amount if p.account.purpose == "available" else 0
        paid = p.amount if p.account.purpose == "paid_out" else 0
        if txn.kind == "reversal" and p.account.purpose == "available":
            received = 0  # the paid-out line's negative amount shows the reversal
        if not received and not paid:
            continue
        lines.append(
            {
                "date": txn.created_at.date(),
                "kind": txn.get_kind_display(),
                "reference": txn.reference,
                "description": _statement_description(txn),
                "currency": p.currency,
                "received": received,
                "paid_out": paid,
            }
        )
    return lines


def _statement_description(txn: LedgerTransaction) -> str:
    ref = txn.reference
    if txn.kind == "distribution" and ref.startswith("run:"):
        return f"Distribution run {ref.split(':', 1)[1]}"
    if txn.kind == "claim":
        return f"Claimed escrow of {ref.split(':', 1)[1]}"
    if txn.kind == "payout_confirmed":
        return f"Payout {ref.split(':', 1)[1]} ({txn.memo})"
    if txn.kind == "reversal" and ref.startswith("payout:"):
        return f"Payout {ref.split(':', 1)[1]} reversed"
    return txn.memo or ref


# --- privacy (money rule 9): what the public may see of a person's money ----------------------

PEOPLE_LABEL = "people"
# As many named (project, company, package) recipients as a run's stored report keeps.
PUBLIC_TOP_N = 50


def recipient_owned_by(*, recipient: str, user: User | AnonymousUser | None) -> bool:
    """True when ``recipient`` names ``user`` themself: ``user:<their username>``, or a
    ``github:``/``email:`` identity they proved (linked account, verified address) or
    claimed. Spellings are compared case-insensitively, as claims do."""
    from .models import ClaimedIdentity

    if user is None or not user.is_authenticated:
        return False
    kind, _, ident = recipient.partition(":")
    if kind == "user":
        return ident == user.get_username()
    if kind not in ("github", "email"):
        return False
    wanted = recipient.lower()
    if any(i.lower() == wanted for i in identities_of_user(user=user)):
        return True
    return ClaimedIdentity.objects.filter(identity__iexact=recipient, user_id=user.pk).exists()


def recipient_money_visible_to(*, recipient: str, user: User | AnonymousUser | None) -> bool:
    """Whether ``user`` may see ``recipient``'s balances and received money: anyone for
    projects, companies and packages; for a person only that person and staff."""
    if not is_person_key(recipient):
        return True
    if user is not None and user.is_authenticated and user.is_active and user.is_staff:
        return True
    return recipient_owned_by(recipient=recipient, user=user)


def amounts_people_aggregated(
    rows: Iterable[tuple[str, str, str, int]],
) -> list[tuple[str, str, str, int]]:
    """``(recipient, purpose, currency, amount)`` rows as the public may see them: every
    person's row folded into one ``("people (N)", "available", currency, sum)`` row per
    currency; other rows unchanged, in their order, the people rows last.

    Invariant: the amounts per currency add up to the same totals as ``rows``."""
    out: list[tuple[str, str, str, int]] = []
    people: dict[str, list[int]] = {}
    for recipient, purpose, currency, amount in rows:
        if is_person_key(recipient):
            seen = people.setdefault(currency, [0, 0])
            seen[0] += 1
            seen[1] += amount
        else:
            out.append((recipient, purpose, currency, amount))
    for currency, (count, total) in sorted(people.items()):
        out.append((f"{PEOPLE_LABEL} ({count})", "available", currency, total))
    return out


def _public_target(source: str, target: str) -> str:
    """A Sankey band's end as the public sees it: a person becomes "people of <source>"."""
    return f"{PEOPLE_LABEL} of {source}" if is_person_key(target) else target


def run_report_public(*, run: DistributionRun) -> dict[str, dict[str, object]]:
    """A run's report with nobody named: per currency the total, the number of final
    recipients, the projects and companies money passed through, the flows with people
    aggregated per paying project, and the final recipients with all people in one row (from
    the run's allocations, so the people row is the exact sum).

    Invariant: no ``user:``, ``github:`` or ``email:`` key, and no single person's amount,
    appears in the result (a row of people sums at least one person, as a project's
    percentages are public anyway)."""
    from .models import RunAllocation

    public: dict[str, dict[str, object]] = {}
    for currency, data in sorted((run.report or {}).items()):
        flows: dict[tuple[str, str], int] = defaultdict(int)
        for flow in data.get("flows", []):
            source = str(flow["source"])
            flows[(source, _public_target(source, str(flow["target"])))] += int(flow["amount"])
        lines = RunAllocation.objects.filter(run=run, currency=currency)
        people_q = Q()
        for kind in PERSON_KINDS:
            people_q |= Q(recipient__startswith=f"{kind}:")
        named = [
            {"recipient": r, "purpose": p, "amount": a}
            for r, p, a in lines.exclude(people_q)
            .order_by("-amount", "recipient", "purpose")
            .values_list("recipient", "purpose", "amount")[:PUBLIC_TOP_N]
        ]
        people = lines.filter(people_q).aggregate(count=Count("id"), total=Sum("amount"))
        if people["count"]:
            named.append(
                {
                    "recipient": f"{PEOPLE_LABEL} ({people['count']})",
                    "purpose": "available",
                    "amount": int(people["total"] or 0),
                }
            )
        public[currency] = {
            "total": data.get("total", 0),
            "recipients": data.get("recipients", 0),
            "nodes": [n for n in data.get("nodes", []) if not is_person_key(str(n["node"]))],
            "flows": [
                {"source": s, "target": t, "amount": a}
                for (s, t), a in sorted(flows.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "top_recipients": named,
        }
    return public
