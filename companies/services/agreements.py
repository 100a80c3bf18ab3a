"""Agreements: a draft from cleaned terms, its document, the company's signature, FairOSS's
countersignature, and ending (draft → signed → active → ended)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Agreement, AgreementSignature, Company, Milestone
from ..notifications import agreement_countersigned_notify
from ..webhook_events import agreement_countersigned_emit
from ._common import _agreement_ended, _require_staff, _text_clean, require_money_actor
from .agreement_terms import agreement_terms_clean
from .billing import pledge_invoices_issue


@transaction.atomic
def agreement_create(
    *, company: Company, actor: User, kind: object, terms_data: Mapping[str, Any]
) -> Agreement:
    """A draft agreement with validated terms (owners and finance members)."""
    require_money_actor(company=company, user=actor)
    values, milestones = agreement_terms_clean(
        kind=kind, company=company, data={**terms_data, "kind": kind}
    )
    agreement = Agreement.objects.create(company=company, created_by=actor, **values)
    Milestone.objects.bulk_create(
        [
            Milestone(agreement=agreement, position=i, title=title, millibips=part)
            for i, (title, part) in enumerate(milestones)
        ]
    )
    return agreement


def agreement_document_html(*, agreement: Agreement) -> str:
    """The human-readable agreement generated from its terms (what is signed)."""
    from django.template.loader import render_to_string

    return render_to_string(
        "companies/agreement_document_body.html",
        {
            "agreement": agreement,
            "company": agreement.company,
            "milestones": list(agreement.milestones.all()),
        },
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _signature_record(
    *,
    agreement: Agreement,
    party: str,
    user: User,
    ip_address: str | None,
    user_agent: str,
) -> AgreementSignature:
    """A party's signature of the agreement's fixed document (who, when, from where)."""
    return AgreementSignature.objects.create(
        agreement=agreement,
        party=party,
        user=user,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:500],
        document_sha256=agreement.document_sha256,
    )


@transaction.atomic
def agreement_sign(
    *, agreement: Agreement, actor: User, ip_address: str | None, user_agent: str
) -> AgreementSignature:
    """The company signs a draft (owners and finance members): draft → signed.

    The document is fixed at this moment: its HTML and SHA-256 are stored with the agreement
    and the signature record (who, when, IP address, user agent).
    """
    agreement = Agreement.objects.select_for_update().select_related("company").get(pk=agreement.pk)
    require_money_actor(company=agreement.company, user=actor)
    if agreement.status != Agreement.Status.DRAFT:
        raise ValidationError(
            {"status": f"Only a draft can be signed; this agreement is {agreement.status}."}
        )
    html = agreement_document_html(agreement=agreement)
    digest = _sha256(html)
    now = timezone.now()
    agreement.document_html = html
    agreement.document_sha256 = digest
    agreement.status = Agreement.Status.SIGNED
    agreement.signed_at = now
    agreement.save(update_fields=["document_html", "document_sha256", "status", "signed_at"])
    return _signature_record(
        agreement=agreement,
        party=AgreementSignature.Party.COMPANY,
        user=actor,
        ip_address=ip_address,
        user_agent=user_agent,
    )


@transaction.atomic
def agreement_countersign(
    *,
    agreement: Agreement,
    staff: User,
    ip_address: str | None = None,
    user_agent: str = "",
) -> Agreement:
    """FairOSS staff countersign a signed agreement: signed → active. A pledge issues the
    invoices of the periods that have begun."""
    _require_staff(staff)
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.status != Agreement.Status.SIGNED:
        raise ValidationError(
            {
                "status": f"{agreement.reference} is {agreement.get_status_display().lower()}; "
                "only an agreement signed by the company can be countersigned."
            }
        )
    _signature_record(
        agreement=agreement,
        party=AgreementSignature.Party.FAIROSS,
        user=staff,
        ip_address=ip_address,
        user_agent=user_agent,
    )
    agreement.status = Agreement.Status.ACTIVE
    agreement.activated_at = timezone.now()
    agreement.save(update_fields=["status", "activated_at"])
    agreement_countersigned_emit(agreement=agreement)  # webhooks, sent after commit
    agreement_countersigned_notify(agreement=agreement)  # emails, sent after commit
    if agreement.kind == Agreement.Kind.PLEDGE:
        pledge_invoices_issue(agreement_ids=[agreement.pk])
    return agreement


@transaction.atomic
def agreement_end(*, agreement: Agreement, actor: User, reason: str) -> Agreement:
    """End an agreement (company owners/finance, or staff); history is kept. Open invoices
    stay payable: money already due stays due."""
    agreement = Agreement.objects.select_for_update().select_related("company").get(pk=agreement.pk)
    require_money_actor(company=agreement.company, user=actor, allow_staff=True)
    reason = _text_clean(reason, field="reason", max_length=500)
    if agreement.status == Agreement.Status.ENDED:
        raise ValidationError({"status": "This agreement has already ended."})
    _agreement_ended(agreement=agreement, actor=actor, reason=reason)
    return agreement
