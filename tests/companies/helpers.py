"""Shared steps for the company tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from companies import services
from companies.models import Agreement, Company
from projects.services.tables import EntryInput, table_propose

TERMS: dict[str, dict[str, Any]] = {
    "pledge": {"amount": 200_000, "developers": 3, "period": "yearly"},
    "dividend": {"share_millibips": 100_000},
    "equity": {
        "share_millibips": 50_000,
        "share_count": 5_000,
        "share_class": "Common Stock",
        "cliff_months": 12,
        "vesting_months": 48,
        "time_vesting_millibips": 7_500_000,
        "milestones": [{"title": "Series A closed", "millibips": 2_500_000}],
    },
    "carry": {"share_millibips": 200_000, "fund_name": "Seed Fund I"},
}


def active_agreement(
    *, company: Company, actor, staff, kind: str, start: dt.date | None = None, **extra: Any
) -> Agreement:
    data = {"currency": "usd", "start_date": start or dt.date(2024, 1, 1), **TERMS[kind], **extra}
    agreement = services.agreement_create(company=company, actor=actor, kind=kind, terms_data=data)
    services.agreement_sign(
        agreement=agreement, actor=actor, ip_address="10.0.0.1", user_agent="UA"
    )
    return services.agreement_countersign(agreement=agreement, staff=staff)


def company_table(*, company: Company, actor, rows: list[tuple[str, int]]) -> None:
    table_propose(
        owner_key=company.owner_key,
        actor=actor,
        entries=[EntryInput(r, m) for r, m in rows],
    )
