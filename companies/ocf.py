"""Open Cap Format (OCF 1.2) export of FairOSS's position under an equity agreement.

OCF is a set of JSON files tied together by a manifest. The export is one JSON object whose
keys are the file names and whose values are the OCF files: ``Manifest.ocf.json`` (issuer:
the company), ``Stakeholders.ocf.json`` (FairOSS), ``StockClasses.ocf.json`` (the share class),
``VestingTerms.ocf.json`` (cliff + monthly schedule and the milestones as vesting events) and
``Transactions.ocf.json`` (the issuance, the vesting start, milestones met, and liquidity
events as repurchases/transfers). The manifest lists each file with the MD5 of its canonical
JSON (sorted keys, no spaces), so the bundle can be checked.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from math import gcd
from typing import Any

from django.utils import timezone

from faiross.kernel.money import minor_to_decimal_str
from faiross.kernel.shares import FULL_SHARE, format_percent

from .models import Agreement, LiquidityEvent

OCF_VERSION = "1.2.0"
NAMESPACE = uuid.UUID("6f2b0c55-3a3c-4a43-9a5f-5b8f2f4e0a11")


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


def _ratio(numerator: int, denominator: int) -> dict[str, str]:
    g = gcd(numerator, denominator) or 1
    return {"numerator": str(numerator // g), "denominator": str(denominator // g)}


def _fraction(millibips: int) -> dict[str, str]:
    return _ratio(millibips, FULL_SHARE)


def _money(minor: int, currency: str) -> dict[str, str]:
    """OCF's Monetary: a decimal string in the currency's units and an upper-case code."""
    return {"amount": minor_to_decimal_str(minor, currency), "currency": currency.upper()}


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def ocf_export(*, agreement: Agreement) -> dict[str, Any]:
    """The OCF bundle of an equity agreement (see the module doc)."""
    if agreement.kind != Agreement.Kind.EQUITY:
        raise ValueError("only equity agreements have an OCF export")
    company = agreement.company
    currency = agreement.currency
    share_millibips = agreement.share_millibips or 0
    share_count = agreement.share_count or 0
    # Fully diluted shares implied by the stake: count / (millibips / 10^7), rounded down.
    fully_diluted = share_count * FULL_SHARE // share_millibips if share_millibips else 0
    issuer_id = _id("issuer", company.slug)
    stakeholder_id = _id("stakeholder", "faiross")
    class_id = _id("class", agreement.pk)
    terms_id = _id("vesting", agreement.pk)
    security_id = _id("security", agreement.pk)
    preferred = "preferred" in agreement.share_class.lower()

    conditions: list[dict[str, Any]] = [
        {
            "id": "vesting-start",
            "description": "The date on which vesting begins",
            "quantity": "0",
            "trigger": {"type": "VESTING_START_DATE"},
            "next_condition_ids": [],
        }
    ]
    time_part = agreement.time_vesting_millibips or 0
    months = agreement.vesting_months or 0
    cliff = agreement.cliff_months or 0
    if time_part and months:
        first = "cliff" if cliff else "monthly"
        conditions[0]["next_condition_ids"].append(first)
        if cliff:
            conditions.append(
                {
                    "id": "cliff",
                    "description": f"{cliff} month cliff",
                    "portion": _ratio(time_part * cliff, FULL_SHARE * months),
                    "trigger": {
                        "type": "VESTING_SCHEDULE_RELATIVE",
                        "period": {
                            "length": cliff,
                            "type": "MONTHS",
                            "occurrences": 1,
                            "day_of_month": "VESTING_START_DAY_OR_LAST_DAY_OF_MONTH",
                        },
                        "relative_to_condition_id": "vesting-start",
                    },
                    "next_condition_ids": ["monthly"] if months > cliff else [],
                }
            )
        if months > cliff:
            conditions.append(
                {
                    "id": "monthly",
                    "description": "Monthly thereafter",
                    "portion": _ratio(time_part, FULL_SHARE * months),
                    "trigger": {
                        "type": "VESTING_SCHEDULE_RELATIVE",
                        "period": {
                            "length": 1,
                            "type": "MONTHS",
                            "occurrences": months - cliff,
                            "day_of_month": "VESTING_START_DAY_OR_LAST_DAY_OF_MONTH",
                        },
                        "relative_to_condition_id": "cliff" if cliff else "vesting-start",
                    },
                    "next_condition_ids": [],
                }
            )
    elif time_part:
        conditions[0]["portion"] = _fraction(time_part)
        conditions[0].pop("quantity")
    milestones = list(agreement.milestones.all())
    for m in milestones:
        cid = f"milestone-{m.position + 1}"
        conditions[0]["next_condition_ids"].append(cid)
        conditions.append(
            {
                "id": cid,
                "description": m.title,
                "portion": _fraction(m.millibips),
                "trigger": {"type": "VESTING_EVENT"},
                "next_condition_ids": [],
            }
        )

    issuance_date = (agreement.activated_at or agreement.signed_at or timezone.now()).date()
    transactions: list[dict[str, Any]] = [
        {
            "object_type": "TX_STOCK_ISSUANCE",
            "id": _id("issuance", agreement.pk),
            "security_id": security_id,
            "custom_id": agreement.reference,
            "date": issuance_date.isoformat(),
            "stakeholder_id": stakeholder_id,
            "stock_class_id": class_id,
            "share_price": _money(0, currency),
            "quantity": str(share_count),
            "vesting_terms_id": terms_id,
            "cost_basis": _money(0, currency),
            "security_law_exemptions": [],
            "stock_legend_ids": [],
            "comments": [
                f"FairOSS stake: {share_millibips} millibips of fully diluted shares "
                f"({agreement.reference})."
            ],
        },
        {
            "object_type": "TX_VESTING_START",
            "id": _id("vesting-start", agreement.pk),
            "security_id": security_id,
            "date": agreement.start_date.isoformat(),
            "vesting_condition_id": "vesting-start",
        },
    ]
    for m in milestones:
        if m.met_on:
            transactions.append(
                {
                    "object_type": "TX_VESTING_EVENT",
                    "id": _id("milestone", m.pk),
                    "security_id": security_id,
                    "date": m.met_on.isoformat(),
                    "vesting_condition_id": f"milestone-{m.position + 1}",
                }
            )
    for event in agreement.liquidity_events.order_by("occurred_on", "id"):
        quantity = share_count * event.portion_millibips // FULL_SHARE
        price = event.proceeds // fully_diluted if fully_diluted else 0
        common = {
            "id": _id("liquidity", event.pk),
            "security_id": security_id,
            "date": event.occurred_on.isoformat(),
            "quantity": str(quantity),
            "comments": [
                f"{event.get_kind_display()}: proceeds {_money(event.proceeds, currency)['amount']}"
                f" {currency.upper()} for all fully diluted shares; FairOSS due "
                f"{_money(event.due_amount, currency)['amount']} {currency.upper()}."
            ],
        }
        if event.kind == LiquidityEvent.Kind.BUYBACK:
            transactions.append(
                {
                    "object_type": "TX_STOCK_REPURCHASE",
                    **common,
                    "price": _money(price, currency),
                    "consideration_text": "Cash",
                }
            )
        else:
            transactions.append(
                {
                    "object_type": "TX_STOCK_TRANSFER",
                    **common,
                    "resulting_security_ids": [],
                    "consideration_text": f"Cash ({event.get_kind_display()})",
                }
            )

    files: dict[str, Any] = {
        "Stakeholders.ocf.json": {
            "file_type": "OCF_STAKEHOLDERS_FILE",
            "items": [
                {
                    "object_type": "STAKEHOLDER",
                    "id": stakeholder_id,
                    "name": {"legal_name": "FairOSS"},
                    "stakeholder_type": "INSTITUTION",
                    "current_relationships": ["INVESTOR"],
                    "comments": ["Holds the stake for the open source the issuer depends on."],
                }
            ],
        },
        "StockClasses.ocf.json": {
            "file_type": "OCF_STOCK_CLASSES_FILE",
            "items": [
                {
                    "object_type": "STOCK_CLASS",
                    "id": class_id,
                    "name": agreement.share_class,
                    "class_type": "PREFERRED" if preferred else "COMMON",
                    "default_id_prefix": "PS-" if preferred else "CS-",
                    "initial_shares_authorized": str(fully_diluted),
                    "votes_per_share": "1",
                    "seniority": "1",
                    "conversion_rights": [],
                    "comments": [
                        "Shares authorized = the fully diluted count implied by FairOSS's stake."
                    ],
                }
            ],
        },
        "VestingTerms.ocf.json": {
            "file_type": "OCF_VESTING_TERMS_FILE",
            "items": [
                {
                    "object_type": "VESTING_TERMS",
                    "id": terms_id,
                    "name": f"{agreement.reference} vesting",
                    "description": (
                        f"{format_percent(millibips=time_part, locale='en')} over {months} "
                        f"months with a {cliff} month "
                        f"cliff; {len(milestones)} milestone(s)."
                    ),
                    "allocation_type": "CUMULATIVE_ROUND_DOWN",
                    "vesting_conditions": conditions,
                }
            ],
        },
        "Transactions.ocf.json": {"file_type": "OCF_TRANSACTIONS_FILE", "items": transactions},
    }
    now = timezone.now()
    manifest: dict[str, Any] = {
        "ocf_version": OCF_VERSION,
        "file_type": "OCF_MANIFEST_FILE",
        "issuer": {
            "object_type": "ISSUER",
            "id": issuer_id,
            "legal_name": company.name,
            "country_of_formation": company.country or "US",
            "comments": [] if company.country else ["Country of formation not given."],
        },
        "as_of": timezone.localdate().isoformat(),
        "generated_at": now.isoformat(timespec="seconds"),
        "stakeholders_files": [_ref("Stakeholders.ocf.json", files)],
        "stock_classes_files": [_ref("StockClasses.ocf.json", files)],
        "vesting_terms_files": [_ref("VestingTerms.ocf.json", files)],
        "transactions_files": [_ref("Transactions.ocf.json", files)],
        "stock_plans_files": [],
        "stock_legend_templates_files": [],
        "valuations_files": [],
        "financings_files": [],
        "comments": [f"FairOSS's position under {agreement.reference}, exported by FairOSS."],
    }
    if company.website:
        manifest["issuer"]["comments"].append(f"Website: {company.website}")
    return {"Manifest.ocf.json": manifest, **files}


def _ref(name: str, files: dict[str, Any]) -> dict[str, str]:
    return {"filepath": f"./{name}", "md5": hashlib.md5(canonical(files[name])).hexdigest()}  # noqa: S324
