"""Listing a project: its ticker, the broker-dealer's approval and halts, the series record.

Rules every function keeps:

- only a steward of a *verified* project that received money in at least one done run lists
  it; a ticker is 2-8 capital letters, unique, and not a reserved word
  (:data:`market.conf.RESERVED_TICKERS`); one ticker per project;
- nothing is sold before the broker-dealer (permission ``market.broker_dealer``) approves the
  listing; the broker-dealer halts and resumes a ticker;
- the cap (the most of the table the stewards allow to be sold) is set by a steward, never
  above what the table's reserve and the units already sold allow, and never below the units
  already sold or offered;
- the series record is kept by the broker-dealer; an offering needs a formed series.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from faiross.kernel.money import currency_clean
from faiross.kernel.shares import FULL_SHARE, format_percent
from payouts.models import ProjectReceived
from projects.models import Project, ShareTable, TableEntry
from projects.services.tables import project_table_roles

from ..conf import RESERVED_TICKERS
from ..models import Offering, Series, Ticker
from ._common import require_broker_dealer, text_clean

SYMBOL_RE = re.compile(r"[A-Z]{2,8}")


def _require_steward(*, project: Project, actor: User) -> None:
    if not project_table_roles(slug=project.slug, user=actor)[1]:
        raise PermissionDenied("Only the project's stewards can do this.")


def project_has_received(*, project: Project) -> bool:
    """Did a done run bring the project money (its public per-project totals)?"""
    return ProjectReceived.objects.filter(project=project, funder="").exists()


def symbol_clean(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError({"symbol": "Give 2 to 8 capital letters."})
    symbol = value.strip()
    if not SYMBOL_RE.fullmatch(symbol):
        raise ValidationError({"symbol": "A ticker is 2 to 8 capital letters A-Z, e.g. NUMPY."})
    if symbol in RESERVED_TICKERS:
        raise ValidationError({"symbol": f"{symbol} is a reserved word; choose another ticker."})
    return symbol


def table_market_millibips(*, project: Project) -> tuple[int, int]:
    """(the active table's reserve, its ``market:`` entries) in millibips; a project without
    an active version has its whole table as reserve (the default table's shares to
    dependencies aside)."""
    table = ShareTable.objects.filter(owner_key=project.owner_key).first()
    if table is None or table.active_version_id is None:
        from projects.services.tables import default_table_entries

        return FULL_SHARE - sum(m for _, m in default_table_entries(project=project)), 0
    sold = (
        TableEntry.objects.filter(
            version_id=table.active_version_id, recipient__startswith="market:"
        ).aggregate(t=Sum("millibips"))["t"]
        or 0
    )
    return table.active_version.reserve_millibips, int(sold)  # type: ignore[union-attr]


@transaction.atomic
def ticker_list(
    *,
    project: Project,
    actor: User,
    symbol: object,
    currency: object = "usd",
    unit_millibips: object = 1,
    cap_millibips: object = 0,
) -> Ticker:
    """A steward lists the project; the ticker waits for the broker-dealer's approval."""
    _require_steward(project=project, actor=actor)
    if not project.is_verified:
        raise ValidationError({"project": "Only a verified project can be listed."})
    if not project_has_received(project=project):
        raise ValidationError(
            {"project": "A project is listed once a distribution run has brought it money."}
        )
    clean = symbol_clean(symbol)
    if Ticker.objects.filter(project=project).exists():
        raise ValidationError({"project": "This project is listed already."})
    if Ticker.objects.filter(symbol=clean).exists():
        raise ValidationError({"symbol": f"{clean} is taken."})
    cur = currency_clean(currency=currency)
    if isinstance(unit_millibips, bool) or not isinstance(unit_millibips, int):
        raise ValidationError({"unit_millibips": "Must be a whole number."})
    if not 1 <= unit_millibips <= 100_000:
        raise ValidationError({"unit_millibips": "One unit is 1 to 100,000 millibips (1%)."})
    ticker = Ticker.objects.create(
        symbol=clean, project=project, currency=cur, unit_millibips=unit_millibips, listed_by=actor
    )
    if cap_millibips:
        ticker_cap_set(ticker=ticker, actor=actor, cap_millibips=cap_millibips)
    return ticker


def sold_or_offered_millibips(*, ticker: Ticker) -> int:
    """Millibips sold by closed offerings or waiting in a proposed or open one."""
    rows = Offering.objects.filter(ticker=ticker)
    sold = sum(
        o.units_sold * ticker.unit_millibips for o in rows.filter(status=Offering.Status.SUCCEEDED)
    )
    pending = sum(
        o.millibips
        for o in rows.filter(status__in=[Offering.Status.PROPOSED, Offering.Status.OPEN])
    )
    return sold + pending


@transaction.atomic
def ticker_cap_set(*, ticker: Ticker, actor: User, cap_millibips: object) -> Ticker:
    """A steward sets the most of the table that may ever be sold to investors.

    Invariant: ``sold or offered <= cap <= sold + the table's reserve now``."""
    ticker = Ticker.objects.select_for_update().select_related("project").get(pk=ticker.pk)
    _require_steward(project=ticker.project, actor=actor)
    if isinstance(cap_millibips, bool) or not isinstance(cap_millibips, int) or cap_millibips < 0:
        raise ValidationError({"cap_millibips": "Must be a whole number of millibips."})
    reserve, sold = table_market_millibips(project=ticker.project)
    if cap_millibips > reserve + sold:
        most = format_percent(millibips=reserve + sold)
        raise ValidationError(
            {"cap_millibips": f"The cap may be at most {most} (the table's reserve plus sold)."}
        )
    taken = sold_or_offered_millibips(ticker=ticker)
    if cap_millibips < taken:
        raise ValidationError(
            {
                "cap_millibips": f"{format_percent(millibips=taken)} is sold or offered already; "
                "the cap cannot be lower."
            }
        )
    ticker.cap_millibips = cap_millibips
    ticker.save(update_fields=["cap_millibips"])
    return ticker


@transaction.atomic
def ticker_approve(*, ticker: Ticker, actor: User) -> Ticker:
    """The broker-dealer approves a pending listing."""
    require_broker_dealer(actor)
    ticker = Ticker.objects.select_for_update().get(pk=ticker.pk)
    if ticker.status != Ticker.Status.PENDING:
        raise ValidationError({"ticker": f"{ticker.symbol} is {ticker.get_status_display()}."})
    ticker.status = Ticker.Status.APPROVED
    ticker.approved_by = actor
    ticker.approved_at = timezone.now()
    ticker.save(update_fields=["status", "approved_by", "approved_at"])
    return ticker


@transaction.atomic
def ticker_halt(*, ticker: Ticker, actor: User, reason: object) -> Ticker:
    """The broker-dealer halts trading and commitments on a ticker."""
    require_broker_dealer(actor)
    text = text_clean(reason, field="reason", max_length=500)
    ticker = Ticker.objects.select_for_update().get(pk=ticker.pk)
    if ticker.status == Ticker.Status.PENDING:
        raise ValidationError({"ticker": "A pending listing is not trading; nothing to halt."})
    ticker.status = Ticker.Status.HALTED
    ticker.halted_by = actor
    ticker.halted_at = timezone.now()
    ticker.halt_reason = text
    ticker.save(update_fields=["status", "halted_by", "halted_at", "halt_reason"])
    return ticker


@transaction.atomic
def ticker_resume(*, ticker: Ticker, actor: User) -> Ticker:
    require_broker_dealer(actor)
    ticker = Ticker.objects.select_for_update().get(pk=ticker.pk)
    if ticker.status != Ticker.Status.HALTED:
        raise ValidationError({"ticker": f"{ticker.symbol} is not halted."})
    ticker.status = Ticker.Status.APPROVED
    ticker.halt_reason = ""
    ticker.save(update_fields=["status", "halt_reason"])
    return ticker


def _documents_clean(value: object) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 50:
        raise ValidationError({"documents": "A list of at most 50 {title, reference}."})
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise ValidationError({"documents": "Each document is {title, reference}."})
        out.append(
            {
                "title": text_clean(item.get("title"), field="documents", max_length=200),
                "reference": text_clean(item.get("reference"), field="documents", max_length=300),
            }
        )
    return out


@transaction.atomic
def series_record(
    *,
    ticker: Ticker,
    actor: User,
    name: object,
    status: object,
    jurisdiction: object = "Delaware, United States",
    formation_date: dt.date | None = None,
    documents: Any = None,
) -> Series:
    """The broker-dealer records (or updates) the ticker's series of the series LLC.

    A formed series has a formation date; document references point at documents kept
    outside FairOSS (never the documents themselves)."""
    require_broker_dealer(actor)
    clean_name = text_clean(name, field="name", max_length=200)
    if status not in Series.Status.values:
        raise ValidationError({"status": "Choose planned, formed or dissolved."})
    if status == Series.Status.FORMED and formation_date is None:
        raise ValidationError({"formation_date": "A formed series has a formation date."})
    if formation_date is not None and formation_date > timezone.now().date():
        raise ValidationError({"formation_date": "Cannot be in the future."})
    series, _ = Series.objects.update_or_create(
        ticker=ticker,
        defaults={
            "name": clean_name,
            "status": status,
            "jurisdiction": text_clean(jurisdiction, field="jurisdiction", max_length=100),
            "formation_date": formation_date,
            "documents": _documents_clean(documents),
            "recorded_by": actor,
        },
    )
    return series
