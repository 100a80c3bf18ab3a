"""Webhook events of the disputes layer (issue 12; the sending is in projects.webhooks).

``dispute.opened`` goes to the projects and companies a dispute concerns. It says that a
dispute exists and what kind it is; its title, text, evidence and parties stay on the
dispute page, where only parties and the ombudsman office read them.
"""

from __future__ import annotations

from django.urls import reverse

from companies.models import Agreement
from faiross.kernel.recipients import company_key, project_key
from projects.webhooks.emitters import site_url
from projects.webhooks.events import DISPUTE_OPENED
from projects.webhooks.services import event_emit

from .models import Dispute


def dispute_owner_keys(*, dispute: Dispute) -> set[str]:
    """The projects and companies ``dispute`` is about (its project, the disputed table's
    owner, a disputed agreement's company, a project or company whose money is at stake)."""
    keys: set[str] = set()
    if dispute.project is not None:
        keys.add(project_key(dispute.project.slug))
    if dispute.table_owner:
        keys.add(dispute.table_owner)
    if dispute.recipient.startswith(("project:", "company:")):
        keys.add(dispute.recipient)
    if dispute.target_type == Dispute.TargetType.AGREEMENT and dispute.target_id.isdigit():
        slug = (
            Agreement.objects.filter(pk=int(dispute.target_id))
            .values_list("company__slug", flat=True)
            .first()
        )
        if slug:
            keys.add(company_key(slug))
    return keys


def dispute_opened_emit(*, dispute: Dispute) -> None:
    """``dispute.opened``. Precondition: ``dispute`` was just filed in this transaction."""
    event_emit(
        owner_keys=dispute_owner_keys(dispute=dispute),
        event_type=DISPUTE_OPENED,
        data=lambda owner_key: {
            "dispute": {
                "id": dispute.pk,
                "kind": dispute.kind,
                "status": dispute.status,
                "target_type": dispute.target_type,
                "opened_at": dispute.created_at,
                "deadline": dispute.deadline,
                "url": site_url(reverse("disputes:detail", args=[dispute.pk])),
            },
            "concerns": owner_key,
        },
    )
