"""Offerings (primary market): authorization by the stewards' quorum, disclosures,
commitments held in escrow, and the close.

Rules every function keeps:

- an offering takes N millibips of the project's reserve: units sold or offered never exceed
  the cap the stewards set (:func:`market.services.listing.ticker_cap_set`), and the cap
  never exceeds the reserve; it needs a *formed* series, a deadline at least
  ``FAIROSS_MARKET_MIN_OFFERING_DAYS`` after it opens, a price per unit (fixed) or a lowest
  bid (auction), a minimum raise and a disclosure document;
- it opens when the approvals of the project's stewards meet the table's quorum
  (:func:`projects.services.tables.quorum_needed`, the rule reserve grants use); the
  proposer's proposal is their approval;
- a commitment needs an approved (not halted) ticker, verified KYC, the investor's 12-month
  limit (:mod:`market.services.limits`) and the cash: the amount moves from
  ``user:<name>/cash`` to ``offering:<id>/escrow`` in one ledger transaction; a fixed-price
  offering takes commitments only up to its units; cancellable until
  ``FAIROSS_MARKET_CANCEL_HOURS`` before the deadline (refunded in one transaction);
- a material new disclosure version puts every active commitment into "reconfirm"; a
  commitment not reconfirmed by the close is refunded;
- the close (after the deadline, once) is ONE ledger transaction that empties the escrow:
  if the minimum raise is met, units are allocated (:mod:`market.auction`), the proceeds less
  FairOSS's fee go to ``project:<slug>/reserve``, the fee to ``platform/fees``, the rest back
  to each investor's cash; units are issued (:class:`market.models.UnitMovement`) and the
  project's table gets a new active version whose ``market:<TICKER>`` entry grows by the
  units sold; otherwise everything is refunded;
- rows are locked in one order: the offering, then each investor's cash account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from faiross.kernel.money import amount_clean, money_format
from faiross.kernel.shares import format_percent
from payouts.ledger import PLATFORM, Leg, ledger_post
from projects.models import Membership, Project, ShareTable, TableVersion
from projects.services.tables import (
    EntryInput,
    default_table_entries,
    project_table_roles,
    quorum_needed,
    table_propose,
)

from ..auction import Bid, auction_clear
from ..conf import setting
from ..models import (
    Commitment,
    Disclosure,
    Holding,
    LedgerKind,
    Offering,
    OfferingApproval,
    Series,
    Ticker,
    UnitMovement,
)
from ._common import positive_int, text_clean
from .cash import CASH, ESCROW, FEES, cash_owner, cash_require
from .limits import investment_limit_check
from .listing import sold_or_offered_millibips, table_market_millibips

MAX_UNITS = 10**12


# --- reads ---------------------------------------------------------------------------------


def offering_quorum(*, project: Project) -> tuple[int, int]:
    """(approvals needed, stewards) for the project's offerings: its table's quorum rule."""
    stewards = Membership.objects.filter(project=project, role=Membership.Role.STEWARD).count()
    table = ShareTable.objects.filter(owner_key=project.owner_key).first()
    table = table or ShareTable(owner_key=project.owner_key, quorum=None)
    return quorum_needed(table=table, approvers=stewards), stewards


def offering_committed_units(*, offering: Offering) -> int:
    return int(
        Commitment.objects.filter(
            offering=offering,
            status__in=[Commitment.Status.ACTIVE, Commitment.Status.RECONFIRM],
        ).aggregate(t=Sum("units"))["t"]
        or 0
    )


def offering_committed_amount(*, offering: Offering) -> int:
    return int(
        Commitment.objects.filter(
            offering=offering,
            status__in=[Commitment.Status.ACTIVE, Commitment.Status.RECONFIRM],
        ).aggregate(t=Sum("amount"))["t"]
        or 0
    )


def disclosure_current(*, offering: Offering) -> Disclosure:
    return Disclosure.objects.filter(offering=offering).order_by("-version").first()  # type: ignore[return-value]


def offering_fee(*, offering: Offering, proceeds: int) -> int:
    """FairOSS's fee on ``proceeds`` (rounded down: never more than the stated rate)."""
    return proceeds * offering.fee_bips // 10_000


def cancel_deadline(*, offering: Offering) -> dt.datetime:
    return offering.deadline - dt.timedelta(hours=setting("FAIROSS_MARKET_CANCEL_HOURS"))


# --- proposing and authorizing ------------------------------------------------------------------


def _require_steward(*, project: Project, actor: User) -> None:
    if not project_table_roles(slug=project.slug, user=actor)[1]:
        raise PermissionDenied("Only the project's stewards can authorize offerings.")
    if not project.is_verified:
        raise ValidationError({"project": "The project's ownership is not verified."})


def _series_formed(ticker: Ticker) -> None:
    series = Series.objects.filter(ticker=ticker).first()
    if series is None or series.status != Series.Status.FORMED:
        raise ValidationError(
            {
                "series": f"{ticker.symbol}'s series of the FairOSS series LLC is not formed yet; "
                "the broker-dealer forms it before an offering."
            }
        )


def _min_deadline(start: dt.datetime) -> dt.datetime:
    return start + dt.timedelta(days=setting("FAIROSS_MARKET_MIN_OFFERING_DAYS"))


def _table_history_text(project: Project) -> str:
    versions = TableVersion.objects.filter(table__owner_key=project.owner_key).order_by("number")
    lines = [
        f"v{v.number} {v.get_status_display().lower()}"
        + (f" {v.activated_at:%Y-%m-%d}" if v.activated_at else "")
        + f", reserve {format_percent(millibips=v.reserve_millibips)}"
        for v in versions[:200]
    ]
    return "\n".join(lines) or "No table version yet: the project uses FairOSS's default table."


def _stewards_text(project: Project) -> str:
    names = Membership.objects.filter(project=project, role=Membership.Role.STEWARD).values_list(
        "user__username", flat=True
    )
    return ", ".join(sorted(names))


def _disclosure_create(
    *, offering: Offering, actor: User, use_of_proceeds: str, risks: str, material: bool
) -> Disclosure:
    project = offering.ticker.project
    last = Disclosure.objects.filter(offering=offering).order_by("-version").first()
    stewards = _stewards_text(project)
    history = _table_history_text(project)
    digest = hashlib.sha256(
        "\x1f".join([use_of_proceeds, stewards, history, risks]).encode()
    ).hexdigest()
    return Disclosure.objects.create(
        offering=offering,
        version=(last.version + 1) if last else 1,
        use_of_proceeds=use_of_proceeds,
        stewards=stewards,
        table_history=history,
        risks=risks,
        material=material,
        sha256=digest,
        created_by=actor,
    )


@transaction.atomic
def offering_propose(
    *,
    ticker: Ticker,
    actor: User,
    kind: object,
    millibips: object,
    price: object,
    minimum_raise: object,
    deadline: dt.datetime,
    use_of_proceeds: object,
    risks: object,
) -> Offering:
    """A steward proposes an offering; it opens once the stewards' quorum approved it."""
    ticker = Ticker.objects.select_for_update().select_related("project").get(pk=ticker.pk)
    _require_steward(project=ticker.project, actor=actor)
    _series_formed(ticker)
    if kind not in Offering.Kind.values:
        raise ValidationError({"kind": "Choose fixed or auction."})
    m = positive_int(millibips, field="millibips", maximum=10_000_000)
    if m % ticker.unit_millibips:
        raise ValidationError(
            {"millibips": f"Offer whole units: a multiple of {ticker.unit_millibips} millibips."}
        )
    unit_price = positive_int(price, field="price", maximum=10**12)
    minimum = amount_clean(amount=minimum_raise, field="minimum_raise") if minimum_raise else 0
    units = m // ticker.unit_millibips
    if minimum > units * unit_price:
        raise ValidationError(
            {"minimum_raise": "The minimum raise is more than selling every unit would raise."}
        )
    now = timezone.now()
    if not isinstance(deadline, dt.datetime) or deadline < _min_deadline(now):
        days = setting("FAIROSS_MARKET_MIN_OFFERING_DAYS")
        raise ValidationError({"deadline": f"The deadline is at least {days} days away."})
    taken = sold_or_offered_millibips(ticker=ticker)
    if taken + m > ticker.cap_millibips:
        left = max(0, ticker.cap_millibips - taken)
        raise ValidationError(
            {
                "millibips": f"The stewards' cap leaves {format_percent(millibips=left)} to offer; "
                "raise the cap first."
            }
        )
    reserve, _ = table_market_millibips(project=ticker.project)
    if m > reserve:
        raise ValidationError(
            {"millibips": f"The table's reserve is {format_percent(millibips=reserve)}."}
        )
    if Offering.objects.filter(
        ticker=ticker, status__in=[Offering.Status.PROPOSED, Offering.Status.OPEN]
    ).exists():
        raise ValidationError({"ticker": "Another offering of this ticker is waiting or open."})
    number = (Offering.objects.filter(ticker=ticker).count()) + 1
    offering = Offering.objects.create(
        ticker=ticker,
        number=number,
        kind=kind,
        millibips=m,
        units=units,
        currency=ticker.currency,
        price=unit_price,
        minimum_raise=minimum,
        fee_bips=setting("FAIROSS_MARKET_OFFERING_FEE_BIPS"),
        deadline=deadline,
        proposed_by=actor,
    )
    _disclosure_create(
        offering=offering,
        actor=actor,
        use_of_proceeds=text_clean(use_of_proceeds, field="use_of_proceeds", max_length=10_000),
        risks=text_clean(risks, field="risks", max_length=20_000),
        material=False,
    )
    OfferingApproval.objects.create(offering=offering, user=actor, approve=True)
    _maybe_open(offering)
    return offering


def _maybe_open(offering: Offering) -> None:
    needed, stewards = offering_quorum(project=offering.ticker.project)
    votes = OfferingApproval.objects.filter(offering=offering)
    yes = votes.filter(approve=True).count()
    no = votes.filter(approve=False).count()
    now = timezone.now()
    if yes >= needed:
        if offering.deadline < _min_deadline(now):
            raise ValidationError(
                {"deadline": "Too close now to open the offering; withdraw it and propose again."}
            )
        offering.status = Offering.Status.OPEN
        offering.opened_at = now
        offering.save(update_fields=["status", "opened_at"])
    elif stewards - no < needed:
        offering.status = Offering.Status.REJECTED
        offering.closed_at = now
        offering.save(update_fields=["status", "closed_at"])


@transaction.atomic
def offering_vote(*, offering: Offering, actor: User, approve: bool) -> Offering:
    """A steward approves or rejects a proposed offering, once."""
    offering = (
        Offering.objects.select_for_update().select_related("ticker__project").get(pk=offering.pk)
    )
    _require_steward(project=offering.ticker.project, actor=actor)
    if offering.status != Offering.Status.PROPOSED:
        raise ValidationError({"offering": f"This offering is {offering.get_status_display()}."})
    if OfferingApproval.objects.filter(offering=offering, user=actor).exists():
        raise ValidationError({"offering": "You have voted on this offering already."})
    OfferingApproval.objects.create(offering=offering, user=actor, approve=bool(approve))
    _maybe_open(offering)
    return offering


@transaction.atomic
def offering_withdraw(*, offering: Offering, actor: User) -> Offering:
    """A steward withdraws an offering before it opens."""
    offering = (
        Offering.objects.select_for_update().select_related("ticker__project").get(pk=offering.pk)
    )
    _require_steward(project=offering.ticker.project, actor=actor)
    if offering.status != Offering.Status.PROPOSED:
        raise ValidationError({"offering": "Only an offering not open yet can be withdrawn."})
    offering.status = Offering.Status.WITHDRAWN
    offering.closed_at = timezone.now()
    offering.save(update_fields=["status", "closed_at"])
    return offering


@transaction.atomic
def disclosure_revise(
    *, offering: Offering, actor: User, use_of_proceeds: object, risks: object, material: bool
) -> Disclosure:
    """A steward publishes a new version of the disclosure. A ``material`` change asks every
    investor with an active commitment to reconfirm (until then it is not counted)."""
    offering = (
        Offering.objects.select_for_update().select_related("ticker__project").get(pk=offering.pk)
    )
    _require_steward(project=offering.ticker.project, actor=actor)
    if offering.status not in (Offering.Status.PROPOSED, Offering.Status.OPEN):
        raise ValidationError({"offering": "The offering is closed."})
    if offering.status == Offering.Status.OPEN and timezone.now() >= offering.deadline:
        raise ValidationError({"offering": "The deadline has passed."})
    disclosure = _disclosure_create(
        offering=offering,
        actor=actor,
        use_of_proceeds=text_clean(use_of_proceeds, field="use_of_proceeds", max_length=10_000),
        risks=text_clean(risks, field="risks", max_length=20_000),
        material=bool(material),
    )
    if material:
        Commitment.objects.filter(offering=offering, status=Commitment.Status.ACTIVE).update(
            status=Commitment.Status.RECONFIRM, updated_at=timezone.now()
        )
    return disclosure


# --- commitments -------------------------------------------------------------------------------


def commitment_quote(
    *, offering: Offering, units: object, price_limit: object = None
) -> dict[str, int]:
    """What a commitment holds in escrow and the fees, shown before the investor confirms.

    The investor pays no fee on a commitment: FairOSS's fee comes out of the project's
    proceeds. Raises ValidationError on bad figures."""
    n = positive_int(units, field="units", maximum=MAX_UNITS)
    if offering.kind == Offering.Kind.AUCTION:
        limit = positive_int(price_limit, field="price_limit", maximum=10**12)
        if limit < offering.price:
            raise ValidationError(
                {"price_limit": f"The lowest bid is {offering.money(offering.price)} per unit."}
            )
    else:
        limit = offering.price
    return {"units": n, "price": limit, "amount": n * limit, "investor_fee": 0}


def _offering_open_for_commitments(offering: Offering, now: dt.datetime) -> None:
    ticker = offering.ticker
    if ticker.status != Ticker.Status.APPROVED:
        why = "halted" if ticker.status == Ticker.Status.HALTED else "not approved yet"
        raise ValidationError({"offering": f"{ticker.symbol} is {why} by the broker-dealer."})
    if offering.status != Offering.Status.OPEN:
        raise ValidationError({"offering": f"This offering is {offering.get_status_display()}."})
    if now >= offering.deadline:
        raise ValidationError({"offering": "The deadline has passed."})
    _series_formed(ticker)


@transaction.atomic
def commitment_create(
    *,
    offering: Offering,
    investor: User,
    units: object,
    price_limit: object = None,
    disclosure_version: object = None,
) -> Commitment:
    """An investor commits cash to an open offering, confirming the current disclosure."""
    offering = (
        Offering.objects.select_for_update().select_related("ticker__project").get(pk=offering.pk)
    )
    now = timezone.now()
    _offering_open_for_commitments(offering, now)
    current = disclosure_current(offering=offering)
    if disclosure_version != current.version:
        raise ValidationError(
            {
                "disclosure_version": f"Read and confirm the current disclosure (version "
                f"{current.version})."
            }
        )
    quote = commitment_quote(offering=offering, units=units, price_limit=price_limit)
    if offering.kind == Offering.Kind.FIXED:
        left = offering.units - offering_committed_units(offering=offering)
        if quote["units"] > left:
            raise ValidationError({"units": f"{left} units are left in this offering."})
    cash_require(user=investor, currency=offering.currency, amount=quote["amount"])
    investment_limit_check(user=investor, amount=quote["amount"], currency=offering.currency)
    commitment = Commitment.objects.create(
        offering=offering,
        investor=investor,
        units=quote["units"],
        price_limit=quote["price"] if offering.kind == Offering.Kind.AUCTION else None,
        amount=quote["amount"],
        disclosure_version=current.version,
    )
    txn, _ = ledger_post(
        idempotency_key=f"market_commit:{commitment.pk}",
        kind=LedgerKind.COMMIT,
        reference=f"commitment:{commitment.pk}",
        legs=[
            Leg(cash_owner(investor), CASH, offering.currency, -quote["amount"]),
            Leg(offering.escrow_owner, ESCROW, offering.currency, quote["amount"]),
        ],
        memo=f"commitment to {offering}",
    )
    commitment.commit_transaction = txn
    commitment.save(update_fields=["commit_transaction"])
    return commitment


def _refund(commitment: Commitment, *, status: str, reason: str) -> None:
    offering = commitment.offering
    txn, _ = ledger_post(
        idempotency_key=f"market_refund:{commitment.pk}",
        kind=LedgerKind.REFUND,
        reference=f"commitment:{commitment.pk}",
        legs=[
            Leg(offering.escrow_owner, ESCROW, offering.currency, -commitment.amount),
            Leg(cash_owner(commitment.investor), CASH, offering.currency, commitment.amount),
        ],
        memo=reason,
    )
    commitment.status = status
    commitment.amount_refunded = commitment.amount
    commitment.refund_transaction = txn
    commitment.save(update_fields=["status", "amount_refunded", "refund_transaction", "updated_at"])


@transaction.atomic
def commitment_cancel(*, commitment: Commitment, actor: User) -> Commitment:
    """The investor cancels; the whole amount returns to their cash. Only until
    ``FAIROSS_MARKET_CANCEL_HOURS`` before the deadline."""
    offering = Offering.objects.select_for_update().get(pk=commitment.offering_id)
    commitment = Commitment.objects.select_related("investor", "offering").get(pk=commitment.pk)
    if commitment.investor_id != actor.pk:
        raise PermissionDenied("Only the investor can cancel a commitment.")
    if commitment.status not in (Commitment.Status.ACTIVE, Commitment.Status.RECONFIRM):
        raise ValidationError(
            {"commitment": f"This commitment is {commitment.get_status_display()}."}
        )
    if offering.status != Offering.Status.OPEN or timezone.now() >= cancel_deadline(
        offering=offering
    ):
        hours = setting("FAIROSS_MARKET_CANCEL_HOURS")
        raise ValidationError(
            {"commitment": f"Commitments can be cancelled until {hours} hours before the deadline."}
        )
    _refund(commitment, status=Commitment.Status.CANCELLED, reason="commitment cancelled")
    return commitment


@transaction.atomic
def commitment_reconfirm(
    *, commitment: Commitment, actor: User, disclosure_version: object
) -> Commitment:
    """The investor confirms the new (materially changed) disclosure; counted again."""
    offering = Offering.objects.select_for_update().get(pk=commitment.offering_id)
    commitment = Commitment.objects.get(pk=commitment.pk)
    if commitment.investor_id != actor.pk:
        raise PermissionDenied("Only the investor can reconfirm a commitment.")
    if commitment.status != Commitment.Status.RECONFIRM:
        raise ValidationError({"commitment": "This commitment needs no reconfirmation."})
    if offering.status != Offering.Status.OPEN or timezone.now() >= offering.deadline:
        raise ValidationError({"commitment": "The offering is closed."})
    current = disclosure_current(offering=offering)
    if disclosure_version != current.version:
        raise ValidationError(
            {"disclosure_version": f"Confirm the current disclosure (version {current.version})."}
        )
    commitment.status = Commitment.Status.ACTIVE
    commitment.disclosure_version = current.version
    commitment.save(update_fields=["status", "disclosure_version", "updated_at"])
    return commitment


# --- the close ---------------------------------------------------------------------------------


def _allocation(offering: Offering, active: list[Commitment]) -> tuple[int, dict[int, int]]:
    """(price, {commitment id: units}) for the active commitments."""
    if offering.kind == Offering.Kind.FIXED:
        return offering.price, {c.pk: c.units for c in active}
    result = auction_clear(
        bids=[Bid(c.pk, c.units, c.price_limit or offering.price) for c in active],
        supply=offering.units,
        floor=offering.price,
    )
    return result.price, result.units


def _table_with_market_entry(*, ticker: Ticker, add_millibips: int) -> list[EntryInput]:
    project = ticker.project
    table = ShareTable.objects.filter(owner_key=project.owner_key).first()
    rows: list[EntryInput]
    if table is not None and table.active_version_id is not None:
        rows = [
            EntryInput(e.recipient, e.millibips, e.note)
            for e in table.active_version.entries.order_by("position")  # type: ignore[union-attr]
        ]
    else:
        rows = [EntryInput(r, m) for r, m in default_table_entries(project=project)]
    key = ticker.recipient
    for i, row in enumerate(rows):
        if row.recipient == key:
            rows[i] = EntryInput(key, row.millibips + add_millibips, row.note)
            return rows
    return [*rows, EntryInput(key, add_millibips, f"units sold to investors ({ticker.symbol})")]


def _close_actor(offering: Offering) -> User:
    """Whose name the table version carries: the proposer, else an approving steward."""
    if offering.proposed_by is not None:
        return offering.proposed_by
    vote = OfferingApproval.objects.filter(offering=offering, approve=True).first()
    if vote is None:  # pragma: no cover - an open offering has approvals
        raise ValidationError({"offering": "No steward authorized this offering."})
    return vote.user


@transaction.atomic
def offering_close(*, offering: Offering, now: dt.datetime | None = None) -> Offering:
    """Close an open offering after its deadline; once (a second call changes nothing).

    See the module docstring for the outcome. The ledger transaction's key is
    ``market_close:<offering id>``; it empties the offering's escrow exactly."""
    offering = (
        Offering.objects.select_for_update().select_related("ticker__project").get(pk=offering.pk)
    )
    now = now or timezone.now()
    if offering.status != Offering.Status.OPEN:
        return offering
    if now < offering.deadline:
        raise ValidationError({"offering": "The offering closes at its deadline."})
    ticker = offering.ticker
    commitments = list(
        Commitment.objects.filter(
            offering=offering,
            status__in=[Commitment.Status.ACTIVE, Commitment.Status.RECONFIRM],
        )
        .select_related("investor")
        .order_by("created_at", "pk")
    )
    active = [c for c in commitments if c.status == Commitment.Status.ACTIVE]
    price, units = _allocation(offering, active) if active else (offering.price, {})
    proceeds = sum(units.get(c.pk, 0) * price for c in active)
    sold = sum(units.values())
    reserve, _ = table_market_millibips(project=ticker.project)
    success = sold > 0 and proceeds >= offering.minimum_raise
    if success and sold * ticker.unit_millibips > reserve:
        # The table changed since the offering opened: never sell more than the reserve.
        success = False
    refunds: dict[str, int] = defaultdict(int)
    escrow_total = sum(c.amount for c in commitments)
    fee = offering_fee(offering=offering, proceeds=proceeds) if success else 0
    for c in commitments:
        paid = units.get(c.pk, 0) * price if (success and c.status == "active") else 0
        c.units_allocated = units.get(c.pk, 0) if paid else 0
        c.amount_paid = paid
        c.amount_refunded = c.amount - paid
        c.status = Commitment.Status.ALLOCATED if paid else Commitment.Status.REFUNDED
        if c.amount_refunded:
            refunds[cash_owner(c.investor)] += c.amount_refunded
    cur = offering.currency
    legs = [Leg(owner, CASH, cur, amount) for owner, amount in sorted(refunds.items())]
    if success:
        legs.append(Leg(ticker.project.owner_key, "reserve", cur, proceeds - fee))
        if fee:
            legs.append(Leg(PLATFORM, FEES, cur, fee))
    txn = None
    if escrow_total:
        legs.append(Leg(offering.escrow_owner, ESCROW, cur, -escrow_total))
        txn, _ = ledger_post(
            idempotency_key=f"market_close:{offering.pk}",
            kind=LedgerKind.CLOSE,
            reference=f"offering:{offering.pk}",
            legs=legs,
            memo=(
                f"{offering}: {sold} units at {money_format(amount=price, currency=cur)}"
                if success
                else f"{offering}: minimum not met, refunded"
            ),
        )
    for c in commitments:
        c.refund_transaction = txn if c.amount_refunded else None
        c.save(
            update_fields=[
                "status",
                "units_allocated",
                "amount_paid",
                "amount_refunded",
                "refund_transaction",
                "updated_at",
            ]
        )
    offering.closed_at = now
    offering.close_transaction = txn
    if success:
        per_investor: dict[int, int] = defaultdict(int)
        for c in active:
            if c.units_allocated:
                per_investor[c.investor_id] += c.units_allocated
        for investor_id, n in sorted(per_investor.items()):
            holding, _ = Holding.objects.select_for_update().get_or_create(
                investor_id=investor_id, ticker=ticker
            )
            holding.units += n
            holding.save(update_fields=["units", "updated_at"])
        UnitMovement.objects.bulk_create(
            [
                UnitMovement(
                    ticker=ticker,
                    kind=UnitMovement.Kind.ISSUE,
                    to_investor_id=investor_id,
                    units=n,
                    reference=f"offering:{offering.pk}",
                )
                for investor_id, n in sorted(per_investor.items())
            ]
        )
        version = table_propose(
            owner_key=ticker.project.owner_key,
            actor=_close_actor(offering),
            entries=_table_with_market_entry(
                ticker=ticker, add_millibips=sold * ticker.unit_millibips
            ),
            source=f"market:offering:{offering.pk}",
            note=f"{ticker.symbol} offering {offering.number}: {sold} units sold to investors",
            ombudsman=True,  # authorized by the stewards' quorum when the offering opened
            market_close=True,
        )
        offering.status = Offering.Status.SUCCEEDED
        offering.clearing_price = price
        offering.units_sold = sold
        offering.proceeds = proceeds
        offering.fee = fee
        offering.table_version = version
    else:
        offering.status = Offering.Status.FAILED
    offering.save(
        update_fields=[
            "status",
            "closed_at",
            "close_transaction",
            "clearing_price",
            "units_sold",
            "proceeds",
            "fee",
            "table_version",
        ]
    )
    return offering


def offerings_close_due(*, now: dt.datetime | None = None) -> int:
    """Close every open offering whose deadline has passed (a periodic task). Returns how many."""
    now = now or timezone.now()
    n = 0
    for offering in Offering.objects.filter(status=Offering.Status.OPEN, deadline__lte=now):
        offering_close(offering=offering, now=now)
        n += 1
    return n
