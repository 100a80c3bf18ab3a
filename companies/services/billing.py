"""Money due under active agreements: invoices, once per source (a dividend declared, a
liquidity event, a carry distribution, a pledge period).

FairOSS's part is ``floor(amount x share / 10,000,000)`` (README, "Companies and agreements");
each invoice has a ``source_key`` so that recording or issuing twice makes one invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Sum
from django.utils import timezone

from faiross.kernel.conflicts import DuplicateError
from faiross.kernel.money import MAX_AMOUNT, money_format
from faiross.kernel.shares import FULL_SHARE, format_percent

from .. import terms
from ..models import Agreement, CarryDistribution, DividendDeclaration, Invoice, LiquidityEvent
from ..notifications import invoice_issued_notify
from ..webhook_events import invoice_issued_emit
from ._common import _agreement_ended, _date_clean, _share_clean, require_money_actor
from .vesting import equity_vested_millibips

MAX_PROCEEDS = 10**15  # minor units: proceeds of a liquidity event, dividends, carry
INVOICE_DAYS = 30


def _invoice_create(
    *,
    agreement: Agreement,
    source_key: str,
    description: str,
    amount: int,
    issued_on: dt.date | None = None,
    period: tuple[dt.date, dt.date] | None = None,
) -> tuple[Invoice, bool]:
    """The invoice of ``source_key``, created once; ``(invoice, created)``."""
    issued_on = issued_on or timezone.localdate()
    invoice, created = Invoice.objects.get_or_create(
        source_key=source_key,
        defaults={
            "company": agreement.company,
            "agreement": agreement,
            "description": description[:300],
            "amount": amount,
            "currency": agreement.currency,
            "issued_on": issued_on,
            "due_on": max(issued_on, timezone.localdate()) + dt.timedelta(days=INVOICE_DAYS),
            "period_start": period[0] if period else None,
            "period_end": period[1] if period else None,
        },
    )
    if created:
        invoice_issued_emit(invoice=invoice)  # webhooks, sent once the transaction commits
        invoice_issued_notify(invoice=invoice)  # emails to owners and finance, after commit
    return invoice, created


def _active_agreement(*, agreement: Agreement, kind: str) -> Agreement:
    agreement = Agreement.objects.select_for_update().select_related("company").get(pk=agreement.pk)
    if agreement.kind != kind:
        raise ValidationError(
            {"agreement": f"{agreement.reference} is a {agreement.kind} agreement, not {kind}."}
        )
    if agreement.status != Agreement.Status.ACTIVE:
        raise ValidationError(
            {
                "agreement": f"{agreement.reference} is {agreement.get_status_display().lower()};"
                " money becomes due only under an active agreement."
            }
        )
    return agreement


def _event_values(
    *,
    agreement: Agreement,
    amount: object,
    currency: object,
    on: object,
    on_field: str,
    field: str = "amount",
) -> tuple[int, dt.date]:
    """The recorded amount (``field``) and day (``on_field``) checked against the agreement:
    its currency, and the day within its term and not in the future."""
    errors: dict[str, list[str]] = {}
    value = None
    day = None
    if isinstance(amount, bool) or not isinstance(amount, int):
        errors[field] = ["Give a whole number of minor units (cents)."]
    elif not 0 < amount <= MAX_PROCEEDS:
        # The record forms reach this too: the range is said in the agreement's money.
        low, high = (money_format(amount=a, currency=agreement.currency) for a in (1, MAX_PROCEEDS))
        errors[field] = [f"The amount must be from {low} to {high}."]
    else:
        value = amount
    if not isinstance(currency, str) or currency.lower() != agreement.currency:
        errors["currency"] = [
            f"This agreement is in {agreement.currency.upper()}; record the amount in "
            f"{agreement.currency.upper()} (convert it first)."
        ]
    try:
        day = _date_clean(on, field=on_field, latest=timezone.localdate())
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if day is not None and day < agreement.start_date:
        errors[on_field] = [f"{day} is before the agreement started ({agreement.start_date})."]
    if day is not None and agreement.end_date and day > agreement.end_date:
        errors[on_field] = [f"{day} is after the agreement's end date ({agreement.end_date})."]
    if errors:
        raise ValidationError(errors)
    assert value is not None and day is not None
    return value, day


def _duplicate_refuse(
    existing: models.QuerySet, *, what: str, amount: int, currency: str, day: dt.date
) -> None:
    """Refuse recording ``what`` again when ``existing`` (records of the same agreement, day
    and amount) has one: a second identical record is far more often a double submission
    than a second payment. Sending it with ``confirm_duplicate`` records it anyway."""
    if existing.exists():
        raise DuplicateError(
            {
                "confirm_duplicate": f"{what} of {money_format(amount=amount, currency=currency)}"
                f" on {day.isoformat()} is already recorded for this agreement. Record it again "
                "only if it really happened twice (confirm it)."
            },
            code="duplicate",
        )


def _due_clean(due: int, field: str, currency: str) -> None:
    if due > MAX_AMOUNT:
        part, limit = (money_format(amount=a, currency=currency) for a in (due, MAX_AMOUNT))
        raise ValidationError(
            {
                field: f"FairOSS's part ({part}) is above the invoice limit of {limit}; "
                "record it in parts."
            }
        )


_SharedIn = TypeVar("_SharedIn", DividendDeclaration, CarryDistribution)


class _SharedInKind(NamedTuple):
    """How one kind of money an agreement shares in is recorded and invoiced."""

    agreement_kind: str
    on_field: str  # the record's date field
    source_prefix: str  # invoice source key: <prefix>:<record id>
    describe: str  # invoice description, formatted with the reference and the day
    what: str  # the record in a sentence ("A dividend declaration")


_SHARED_IN: dict[type[models.Model], _SharedInKind] = {
    DividendDeclaration: _SharedInKind(
        agreement_kind=Agreement.Kind.DIVIDEND,
        on_field="declared_on",
        source_prefix="dividend",
        describe="Dividend share, {reference}: declared {day}",
        what="A dividend declaration",
    ),
    CarryDistribution: _SharedInKind(
        agreement_kind=Agreement.Kind.CARRY,
        on_field="distributed_on",
        source_prefix="carry",
        describe="Carried interest, {reference}: {day}",
        what="A carry distribution",
    ),
}


def _shared_in_record(
    model: type[_SharedIn],
    *,
    agreement: Agreement,
    actor: User,
    amount: object,
    currency: object,
    on: object,
    confirm_duplicate: bool = False,
) -> _SharedIn:
    """Record money an agreement shares in (a dividend, realised carry); FairOSS's part
    ``floor(amount x share / 10,000,000)`` is invoiced once, under ``<source prefix>:<id>``.
    One identical to a record already there (same day and amount) is refused with
    ``DuplicateError`` unless ``confirm_duplicate``; the agreement row is locked first, so
    two identical requests at once cannot both pass the check."""
    kind, on_field, source_prefix, describe, what = _SHARED_IN[model]
    agreement = _active_agreement(agreement=agreement, kind=kind)
    require_money_actor(company=agreement.company, user=actor, allow_staff=True)
    amount, day = _event_values(
        agreement=agreement, amount=amount, currency=currency, on=on, on_field=on_field
    )
    if not confirm_duplicate:
        _duplicate_refuse(
            model.objects.filter(agreement=agreement, amount=amount, **{on_field: day}),
            what=what,
            amount=amount,
            currency=agreement.currency,
            day=day,
        )
    due = terms.share_of(amount=amount, millibips=agreement.share_millibips or 0)
    _due_clean(due, "amount", agreement.currency)
    record = model.objects.create(
        agreement=agreement,
        amount=amount,
        currency=agreement.currency,
        due_amount=due,
        recorded_by=actor,
        **{on_field: day},
    )
    _record_invoice(
        record,
        source_key=f"{source_prefix}:{record.pk}",
        description=describe.format(reference=agreement.reference, day=day),
    )
    return record


def _record_invoice(
    record: DividendDeclaration | CarryDistribution | LiquidityEvent,
    *,
    source_key: str,
    description: str,
) -> None:
    """Invoice a record's ``due_amount`` (once, under ``source_key``) unless it is nothing."""
    if record.due_amount > 0:
        record.invoice, _ = _invoice_create(
            agreement=record.agreement,
            source_key=source_key,
            description=description,
            amount=record.due_amount,
        )
        record.save(update_fields=["invoice"])


@transaction.atomic
def dividend_declare(
    *,
    agreement: Agreement,
    actor: User,
    amount: object,
    currency: object,
    declared_on: object,
    confirm_duplicate: bool = False,
) -> DividendDeclaration:
    """Record a dividend the company declared; FairOSS's part
    ``floor(amount x share / 10,000,000)`` is invoiced once. The same amount on the same day
    again needs ``confirm_duplicate``."""
    return _shared_in_record(
        DividendDeclaration,
        agreement=agreement,
        actor=actor,
        amount=amount,
        currency=currency,
        on=declared_on,
        confirm_duplicate=confirm_duplicate,
    )


@transaction.atomic
def liquidity_event_record(
    *,
    agreement: Agreement,
    actor: User,
    kind: str,
    occurred_on: object,
    proceeds: object,
    currency: object,
    portion_millibips: int | None = None,
    confirm_duplicate: bool = False,
) -> LiquidityEvent:
    """Record a liquidity event of an equity agreement; FairOSS's money due is
    ``floor(proceeds x stake x portion / 10¹⁴)`` where ``proceeds`` is the price of 100% of
    the fully diluted shares and ``portion`` the part of FairOSS's stake sold (by default all
    of the vested, unsold part). Only vested, unsold stake can be sold. An acquisition ends
    the agreement (unvested stake lapses). The same proceeds on the same day again need
    ``confirm_duplicate``."""
    agreement = _active_agreement(agreement=agreement, kind=Agreement.Kind.EQUITY)
    require_money_actor(company=agreement.company, user=actor, allow_staff=True)
    if kind not in LiquidityEvent.Kind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(LiquidityEvent.Kind.values)}."})
    proceeds, day = _event_values(
        agreement=agreement,
        amount=proceeds,
        currency=currency,
        on=occurred_on,
        field="proceeds",
        on_field="occurred_on",
    )
    if not confirm_duplicate:
        _duplicate_refuse(
            agreement.liquidity_events.filter(occurred_on=day, proceeds=proceeds),
            what="A liquidity event",
            amount=proceeds,
            currency=agreement.currency,
            day=day,
        )
    last = agreement.liquidity_events.order_by("-occurred_on").first()
    if last is not None and day < last.occurred_on:
        raise ValidationError(
            {"occurred_on": f"Record events in order: the last one was on {last.occurred_on}."}
        )
    vested = equity_vested_millibips(agreement=agreement, on=day)
    sold = agreement.liquidity_events.aggregate(t=Sum("portion_millibips"))["t"] or 0
    available = max(0, vested - sold)
    if portion_millibips is None or portion_millibips == "":
        portion = available
    else:
        portion = _share_clean(
            portion_millibips,
            field="portion_millibips",
            low=1,
            high=FULL_SHARE,
            what="the part of the stake sold",
        )
    if portion > available or portion == 0:
        raise ValidationError(
            {
                "portion_millibips": f"Only vested, unsold stake can be sold: on {day} "
                f"{format_percent(millibips=vested)} is vested and "
                f"{format_percent(millibips=sold)} already sold, so at "
                f"most {format_percent(millibips=available)} of the stake is available."
            }
        )
    due = terms.share_of_share(
        amount=proceeds, millibips=agreement.share_millibips or 0, portion_millibips=portion
    )
    _due_clean(due, "proceeds", agreement.currency)
    event = LiquidityEvent.objects.create(
        agreement=agreement,
        kind=kind,
        occurred_on=day,
        proceeds=proceeds,
        currency=agreement.currency,
        portion_millibips=portion,
        vested_millibips=vested,
        due_amount=due,
        recorded_by=actor,
    )
    _record_invoice(
        event,
        source_key=f"liquidity:{event.pk}",
        description=f"{event.get_kind_display()}, {agreement.reference}: {day}",
    )
    if kind == LiquidityEvent.Kind.ACQUISITION:
        _agreement_ended(agreement=agreement, actor=actor, reason=f"Acquisition on {day}.")
    return event


@transaction.atomic
def carry_distribution_record(
    *,
    agreement: Agreement,
    actor: User,
    amount: object,
    currency: object,
    distributed_on: object,
    confirm_duplicate: bool = False,
) -> CarryDistribution:
    """Record realised carried interest; FairOSS's part
    ``floor(amount x share / 10,000,000)`` is invoiced once. The same amount on the same day
    again needs ``confirm_duplicate``."""
    return _shared_in_record(
        CarryDistribution,
        agreement=agreement,
        actor=actor,
        amount=amount,
        currency=currency,
        on=distributed_on,
        confirm_duplicate=confirm_duplicate,
    )


@transaction.atomic
def pledge_invoices_issue(
    *, today: dt.date | None = None, agreement_ids: Sequence[int] | None = None
) -> list[Invoice]:
    """Issue the invoice of every pledge period that has begun (active pledges). Running it
    twice issues nothing new: an invoice's ``source_key`` is ``pledge:<agreement>:<start>``."""
    today = today or timezone.localdate()
    pledges = Agreement.objects.filter(
        kind=Agreement.Kind.PLEDGE, status=Agreement.Status.ACTIVE
    ).select_related("company")
    if agreement_ids is not None:
        pledges = pledges.filter(pk__in=list(agreement_ids))
    created = []
    for agreement in pledges:
        for first, last in terms.pledge_periods(
            start=agreement.start_date,
            period=agreement.period,
            until=today,
            end=agreement.end_date,
        ):
            invoice, new = _invoice_create(
                agreement=agreement,
                source_key=f"pledge:{agreement.pk}:{first.isoformat()}",
                description=(
                    f"Pledge, {agreement.reference}: {first} to {last} "
                    f"({agreement.developers} developer{'s' if agreement.developers != 1 else ''})"
                ),
                amount=agreement.pledge_total or 0,
                issued_on=first,
                period=(first, last),
            )
            if new:
                created.append(invoice)
    return created
