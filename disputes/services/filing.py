"""Filing a dispute and the conversation on it (parties and ombudsmen respond)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from faiross.kernel.errors import FieldErrors

from .. import selectors
from ..conf import setting
from ..models import Dispute, DisputeMessage, DisputeParty, Evidence
from ..webhook_events import dispute_opened_emit
from ._common import (
    _admin_link,
    _amount,
    _audit,
    _currency,
    _link,
    _lock,
    _notify_parties,
    _send_later,
    _text,
)
from .evidence import (
    _files_removed_on_error,
    _store_evidence,
    evidence_check_files,
    evidence_check_links,
)

# What a person may write so often per hour: the row's author field, the limit's setting, and
# the words of the refusal.
_RATE_LIMITS = {
    Dispute: ("filed_by", "FAIROSS_DISPUTE_FILINGS_PER_HOUR", "filed a dispute"),
    DisputeMessage: ("author", "FAIROSS_DISPUTE_MESSAGES_PER_HOUR", "posted a message"),
}


def _rate_limit(user: User, model: type[Dispute] | type[DisputeMessage]) -> None:
    field, limit_setting, what = _RATE_LIMITS[model]
    limit = setting(limit_setting)
    since = timezone.now() - dt.timedelta(hours=1)
    count = model.objects.filter(**{field: user, "created_at__gte": since}).count()
    if count >= limit:
        raise ValidationError(
            {
                "__all__": f"You have {what} {count} times in the last hour; the limit is {limit}. "
                "Please wait a little and try again."
            }
        )


def _audit_with_evidence(
    dispute: Dispute, actor: User, action: str, evidence: Sequence[Evidence], data: dict[str, Any]
) -> None:
    """The step on the trail; should writing it fail, the evidence files just stored go."""
    with _files_removed_on_error(evidence):
        _audit(dispute, actor, action, data)


def _add_parties(dispute: Dispute, filer: User, parties: Sequence[selectors.PartyRef]) -> set[int]:
    """The filer and each party the target names, once each; returns the users' ids."""
    DisputeParty.objects.create(dispute=dispute, user=filer, role=DisputeParty.Role.FILER)
    seen_users = {filer.pk}
    seen_emails: set[str] = set()
    for party in parties:
        if party.user is not None:
            if party.user.pk in seen_users:
                continue
            seen_users.add(party.user.pk)
            DisputeParty.objects.create(dispute=dispute, user=party.user, role=party.role)
        elif party.email and party.email.lower() not in seen_emails:
            seen_emails.add(party.email.lower())
            DisputeParty.objects.create(dispute=dispute, email=party.email, role=party.role)
    return seen_users


@transaction.atomic
def dispute_file(
    *,
    filer: User,
    target: str,
    kind: str,
    title: str,
    description: str,
    links: Sequence[str] = (),
    files: Sequence[UploadedFile] = (),
    amount_at_stake: int | None = None,
    currency: str = "",
) -> Dispute:
    """File a dispute about ``target`` (see :func:`selectors.target_describe`).

    Preconditions: ``filer`` is signed in and has filed fewer than
    ``FAIROSS_DISPUTE_FILINGS_PER_HOUR`` disputes in the last hour.
    Invariants: the filer and every party the target names (stewards, the named recipient,
    company owners) become parties and are emailed; evidence is checked before anything is
    stored.
    """
    if not filer.is_authenticated or not filer.is_active:
        raise PermissionDenied("Sign in to file a dispute.")
    # Lock the filer's row so two simultaneous filings cannot both pass the rate limit.
    User.objects.select_for_update().filter(pk=filer.pk).first()
    _rate_limit(filer, Dispute)
    errors = FieldErrors()
    about = errors.check(lambda: selectors.target_describe(target=target))
    if kind not in Dispute.Kind.values:
        errors.add("kind", "Choose what kind of dispute this is.")
    elif kind == Dispute.Kind.OWNERSHIP and about is not None and about.type != "project":
        errors.add(
            "kind",
            "An ownership dispute is about a project: file it from the project's page "
            "(Contest ownership).",
        )
    title = (
        errors.check(lambda: _text(title, field="title", label="a short title", limit=200)) or ""
    )
    description = (
        errors.check(lambda: _text(description, field="description", label="what happened")) or ""
    )
    links = errors.check(lambda: evidence_check_links(links=links)) or []
    checked = errors.check(lambda: evidence_check_files(files=files)) or []
    stake: int | None = None
    stake_currency = ""
    if amount_at_stake not in (None, ""):
        stake_currency = errors.check(lambda: _currency(currency)) or ""
        stake = errors.check(
            lambda: _amount(amount_at_stake, field="amount_at_stake", currency=stake_currency)
        )
    elif about is not None and about.amount:
        stake, stake_currency = about.amount, about.currency
    errors.raise_any()
    assert about is not None
    dispute = Dispute.objects.create(
        kind=kind,
        title=title,
        description=description,
        target_type=about.type,
        target_id=about.id,
        target_label=about.label[:300],
        project=about.project,
        table_owner=about.table_owner,
        recipient=about.recipient,
        amount_at_stake=stake,
        currency=stake_currency if stake else "",
        filed_by=filer,
        deadline=timezone.localdate() + dt.timedelta(days=setting("FAIROSS_DISPUTE_DEADLINE_DAYS")),
    )
    seen_users = _add_parties(dispute, filer, about.parties)
    evidence = _store_evidence(dispute=dispute, user=filer, links=links, files=checked)
    dispute_opened_emit(dispute=dispute)  # webhooks, sent once the transaction commits
    _audit_with_evidence(
        dispute,
        filer,
        "dispute.file",
        evidence,
        {
            "about": about.key,
            "kind": kind,
            "parties": [str(p) for p in dispute.parties.select_related("user")],
            "evidence": [str(e) for e in evidence],
            "amount_at_stake": stake,
            "currency": stake_currency,
        },
    )
    _notify_parties(
        dispute,
        "a dispute was filed",
        f"{filer.get_username()} filed a dispute about {about.label}.\n\n"
        f"Kind: {dispute.get_kind_display()}\n\n{description}\n\n"
        "As a party you can read it and respond on the dispute page. The ombudsman office "
        "will look into it.",
    )
    _send_later(
        f"New dispute #{dispute.pk} in the queue",
        f"A new dispute was filed: {title}\nAdmin: {_admin_link(dispute)}\n",
        [u.email for u in selectors.ombudsmen() if u.email and u.pk not in seen_users],
    )
    return dispute


@transaction.atomic
def dispute_respond(
    *,
    dispute: Dispute,
    author: User,
    body: str,
    links: Sequence[str] = (),
    files: Sequence[UploadedFile] = (),
) -> DisputeMessage:
    """Add a message (with evidence) to the conversation; parties and ombudsmen may.

    Everyone else in the conversation is emailed. Closed disputes take no more messages.
    """
    dispute = _lock(dispute)
    is_party = selectors.dispute_is_party(dispute=dispute, user=author)
    is_ombudsman = selectors.user_is_ombudsman(user=author)
    if not (is_party or is_ombudsman):
        raise PermissionDenied("Only the filer, the parties and the ombudsmen can respond.")
    if dispute.status == Dispute.Status.CLOSED:
        raise ValidationError({"body": "This dispute is closed; it takes no more messages."})
    _rate_limit(author, DisputeMessage)
    errors = FieldErrors()
    body = errors.check(lambda: _text(body, field="body", label="your message")) or ""
    links = errors.check(lambda: evidence_check_links(links=links)) or []
    checked = errors.check(lambda: evidence_check_files(files=files)) or []
    errors.raise_any()
    message = DisputeMessage.objects.create(
        dispute=dispute, author=author, body=body, from_ombudsman=not is_party
    )
    evidence = _store_evidence(
        dispute=dispute, user=author, links=links, files=checked, message=message
    )
    _audit_with_evidence(
        dispute,
        author,
        "message.post",
        evidence,
        {"message": message.pk, "evidence": [str(e) for e in evidence]},
    )
    who = "The ombudsman office" if not is_party else author.get_username()
    _notify_parties(dispute, "new message", f"{who} wrote:\n\n{body}", exclude=author)
    if dispute.assigned_to_id and dispute.assigned_to_id != author.pk and is_party:
        assigned_to = dispute.assigned_to
        assert assigned_to is not None  # assigned_to_id is set
        _send_later(
            f"Dispute #{dispute.pk}: new message from a party",
            f"{author.get_username()} wrote on dispute #{dispute.pk}.\n{_link(dispute)}\n",
            [assigned_to.email],
        )
    return message
