"""Operations of the ombudsman office (one function per use case).

Every function is keyword-only and runs in one database transaction: it either does all it
says, records it with :func:`audit_record` and queues its emails (sent after commit), or
raises ``ValidationError({field: message})`` / ``PermissionDenied`` having changed nothing.

Rules every acting function keeps:

- only active staff with the ``disputes.act_as_ombudsman`` permission act, and never on a
  dispute they filed or are a party to;
- after a resolution only an appeal reopens the dispute, and the appeal is decided by an
  ombudsman other than the one who resolved it;
- a hold never exceeds the recipient's balance in its source account, nor the money at stake;
- releases and redirects are balanced ledger transactions: no cent is created or lost, and
  the recipient's ``held`` balance always covers what its active holds still hold.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage, get_connection
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from companies.models import Company
from faiross.kernel.recipients import RecipientError, canonical_recipient, parse_recipient
from payouts.ledger import LedgerError, Leg, ledger_post
from payouts.models import Account, LedgerTransaction
from payouts.selectors import account_balance
from faiross.kernel.money import MAX_AMOUNT, currency_clean
from projects.models import Membership, Project, TableVersion
from projects.services.tables import EntryInput, table_propose

from . import selectors
from .conf import setting
from .models import (
    Appeal,
    AuditEvent,
    Dispute,
    DisputeMessage,
    DisputeParty,
    Evidence,
    Hold,
    HoldMovement,
    InternalNote,
)

MAX_TEXT = 10_000
MAX_REASON = 2_000
HOLD_SOURCES = ("available", "escrow", "reserve")


# --- the audit trail --------------------------------------------------------------------


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: str,
    data: dict[str, Any] | None = None,
    dispute: Dispute | None = None,
    reason: str = "",
    internal: bool = False,
) -> AuditEvent:
    """Append one event to the trail. The row can never be changed or deleted afterwards
    (database triggers); ``data`` must be JSON-serialisable."""
    return AuditEvent.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_name=actor.get_username() if actor is not None else "",
        action=action[:60],
        target=target[:300],
        dispute=dispute,
        reason=reason,
        data=data or {},
        internal=internal,
    )


# --- helpers ------------------------------------------------------------------------------


def _text(value: object, *, field: str, label: str, limit: int = MAX_TEXT) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError({field: f"Write {label}."})
    if len(text) > limit:
        raise ValidationError(
            {field: f"{label[0].upper()}{label[1:]} may be at most {limit:,} characters."}
        )
    return text


def _reason(reason: object) -> str:
    return _text(reason, field="reason", label="the reason for this action", limit=MAX_REASON)


def _amount(value: object, *, field: str = "amount", allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: "Give a whole number of minor units (cents), e.g. 2500."})
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_AMOUNT:
        raise ValidationError(
            {field: f"The amount must be from {low} to {MAX_AMOUNT:,} minor units."}
        )
    return value


def _currency(value: object, *, field: str = "currency") -> str:

    return currency_clean(currency=value, field=field)


def _lock(dispute: Dispute) -> Dispute:
    return Dispute.objects.select_for_update().get(pk=dispute.pk)


def _require_ombudsman(actor: User, dispute: Dispute | None = None) -> None:
    if not selectors.user_is_ombudsman(user=actor):
        raise PermissionDenied("Only staff with the ombudsman permission can do this.")
    if dispute is not None and selectors.dispute_is_party(dispute=dispute, user=actor):
        raise PermissionDenied(
            "You filed this dispute or are a party to it: another ombudsman must act on it."
        )


def _require_acting(actor: User, dispute: Dispute) -> None:
    """Ombudsman actions need an active dispute; on appeal, not its first resolver."""
    _require_ombudsman(actor, dispute)
    if not dispute.is_active:
        raise ValidationError(
            {
                "dispute": f"Dispute #{dispute.pk} is {dispute.get_status_display().lower()}; "
                "only an appeal reopens it."
            }
        )
    if dispute.status == Dispute.Status.APPEALED and dispute.resolved_by_id == actor.pk:
        raise PermissionDenied(
            "You resolved this dispute; its appeal must be handled by another ombudsman."
        )


def _take_case(dispute: Dispute, actor: User) -> None:
    """The first ombudsman to act on an unassigned dispute is assigned to it."""
    if dispute.assigned_to_id is None:
        dispute.assigned_to = actor
        if dispute.status == Dispute.Status.OPEN:
            dispute.status = Dispute.Status.IN_REVIEW
        dispute.save(update_fields=["assigned_to", "status", "updated_at"])
        audit_record(
            actor=actor,
            action="dispute.assign",
            target=f"dispute:{dispute.pk}",
            dispute=dispute,
            data={"assigned_to": actor.get_username(), "automatic": True},
        )


def _link(dispute: Dispute) -> str:
    return f"{settings.SITE_URL}{reverse('disputes:detail', kwargs={'pk': dispute.pk})}"


def _send_later(subject: str, body: str, addresses: Sequence[str]) -> None:
    """One email per address (parties never see each other's addresses), after commit."""
    addresses = [a for a in dict.fromkeys(addresses) if a]
    if not addresses:
        return

    def send() -> None:
        connection = get_connection()
        connection.send_messages(
            [
                EmailMessage(subject=f"[FairOSS] {subject}", body=body, to=[address])
                for address in addresses
            ]
        )

    transaction.on_commit(send)


def _notify_parties(
    dispute: Dispute, subject: str, body: str, *, exclude: User | None = None
) -> None:
    addresses = selectors.party_emails(
        dispute=dispute, exclude_user_id=getattr(exclude, "pk", None)
    )
    _send_later(
        f"Dispute #{dispute.pk}: {subject}",
        f"{body}\n\nDispute #{dispute.pk}: {dispute.title}\nSee it and answer here: "
        f"{_link(dispute)}\n",
        addresses,
    )


def _money(amount: int, currency: str) -> str:
    whole, rest = divmod(abs(amount), 100)
    return f"{'-' if amount < 0 else ''}{whole:,}.{rest:02d} {currency.upper()}"


# --- evidence -------------------------------------------------------------------------------

FILE_TYPES = {
    "pdf": ("application/pdf", ("pdf",)),
    "png": ("image/png", ("png",)),
    "jpeg": ("image/jpeg", ("jpg", "jpeg")),
    "txt": ("text/plain", ("txt",)),
}


@dataclass(frozen=True)
class CheckedFile:
    upload: UploadedFile
    filename: str
    content_type: str
    size: int


def _sniff(head: bytes, content: bytes | None) -> str | None:
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content is not None:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if all(ch in "\t\n\r\f" or unicodedata.category(ch) != "Cc" for ch in text):
            return "txt"
    return None


def _clean_filename(name: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    return name.strip()[:150] or "file"


def evidence_check_files(*, files: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Check uploads: how many, the size of each, and the type by content (magic bytes)
    matching the extension. Allowed: PDF, PNG, JPEG and UTF-8 plain text."""
    max_files = setting("FAIROSS_DISPUTE_MAX_FILES")
    max_bytes = setting("FAIROSS_DISPUTE_MAX_FILE_BYTES")
    files = [f for f in files if f]
    if len(files) > max_files:
        raise ValidationError({"files": f"Attach at most {max_files} files."})
    checked: list[CheckedFile] = []
    errors: list[str] = []
    for upload in files:
        name = _clean_filename(upload.name or "")
        size = upload.size or 0
        if size > max_bytes:
            errors.append(f"{name}: the file is larger than {max_bytes // (1024 * 1024)} MiB.")
            continue
        if size == 0:
            errors.append(f"{name}: the file is empty.")
            continue
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        wanted = next((k for k, (_, exts) in FILE_TYPES.items() if ext in exts), None)
        if wanted is None:
            errors.append(f"{name}: only PDF, PNG, JPEG and plain-text (.txt) files are accepted.")
            continue
        upload.seek(0)
        content = upload.read() if wanted == "txt" else None
        upload.seek(0)
        head = upload.read(8)
        upload.seek(0)
        found = _sniff(head, content)
        if found != wanted:
            errors.append(
                f"{name}: the content is not a {wanted.upper()} file (checked by its bytes, "
                "not only its name)."
            )
            continue
        checked.append(CheckedFile(upload, name, FILE_TYPES[wanted][0], size))
    if errors:
        raise ValidationError({"files": errors})
    return checked


def evidence_check_links(*, links: Sequence[str]) -> list[str]:
    max_links = setting("FAIROSS_DISPUTE_MAX_LINKS")
    cleaned = [link.strip() for link in links if link and link.strip()]
    if len(cleaned) > max_links:
        raise ValidationError({"links": f"Give at most {max_links} links."})
    errors = []
    validate = URLValidator(schemes=["http", "https"])
    for link in cleaned:
        try:
            if len(link) > 500:
                raise ValidationError("too long")
            validate(link)
        except ValidationError:
            errors.append(f"'{link[:80]}' is not a valid http(s) URL of at most 500 characters.")
    if errors:
        raise ValidationError({"links": errors})
    return list(dict.fromkeys(cleaned))


def _store_evidence(
    *,
    dispute: Dispute,
    user: User,
    links: Sequence[str],
    files: Sequence[CheckedFile],
    message: DisputeMessage | None = None,
) -> list[Evidence]:
    rows = [
        Evidence.objects.create(dispute=dispute, message=message, url=u, added_by=user)
        for u in links
    ]
    for f in files:
        evidence = Evidence(
            dispute=dispute,
            message=message,
            filename=f.filename,
            content_type=f.content_type,
            size=f.size,
            added_by=user,
        )
        evidence.file.save(f.filename, f.upload, save=False)
        evidence.save()
        rows.append(evidence)
    return rows


def _remove_files(rows: Sequence[Evidence]) -> None:
    """Storage is not transactional: files of a filing that failed later are removed."""
    from django.core.files.storage import default_storage

    for row in rows:
        if row.file.name:
            default_storage.delete(row.file.name)


# --- filing and the conversation ----------------------------------------------------------


def _rate_limit(
    *, user: User, model: type[Dispute] | type[DisputeMessage], field: str, limit: int, what: str
) -> None:
    since = timezone.now() - dt.timedelta(hours=1)
    count = model.objects.filter(**{field: user, "created_at__gte": since}).count()
    if count >= limit:
        raise ValidationError(
            {
                "__all__": f"You have {what} {count} times in the last hour; the limit is {limit}. "
                "Please wait a little and try again."
            }
        )


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
    _rate_limit(
        user=filer,
        model=Dispute,
        field="filed_by",
        limit=setting("FAIROSS_DISPUTE_FILINGS_PER_HOUR"),
        what="filed a dispute",
    )
    errors: dict[str, list[str]] = {}

    def check(fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except ValidationError as exc:
            for f, msgs in exc.message_dict.items():
                errors.setdefault(f, []).extend(msgs)
            return None

    about = check(lambda: selectors.target_describe(target=target))
    if kind not in Dispute.Kind.values:
        errors["kind"] = ["Choose what kind of dispute this is."]
    title = check(lambda: _text(title, field="title", label="a short title", limit=200)) or ""
    description = (
        check(lambda: _text(description, field="description", label="what happened")) or ""
    )
    links = check(lambda: evidence_check_links(links=links)) or []
    checked = check(lambda: evidence_check_files(files=files)) or []
    stake: int | None = None
    stake_currency = ""
    if amount_at_stake not in (None, ""):
        stake = check(lambda: _amount(amount_at_stake, field="amount_at_stake"))
        stake_currency = check(lambda: _currency(currency)) or ""
    elif about is not None and about.amount:
        stake, stake_currency = about.amount, about.currency
    if errors:
        raise ValidationError(errors)
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
    DisputeParty.objects.create(dispute=dispute, user=filer, role=DisputeParty.Role.FILER)
    seen_users = {filer.pk}
    seen_emails: set[str] = set()
    for party in about.parties:
        if party.user is not None:
            if party.user.pk in seen_users:
                continue
            seen_users.add(party.user.pk)
            DisputeParty.objects.create(dispute=dispute, user=party.user, role=party.role)
        elif party.email and party.email.lower() not in seen_emails:
            seen_emails.add(party.email.lower())
            DisputeParty.objects.create(dispute=dispute, email=party.email, role=party.role)
    evidence = _store_evidence(dispute=dispute, user=filer, links=links, files=checked)
    try:
        audit_record(
            actor=filer,
            action="dispute.file",
            target=f"dispute:{dispute.pk}",
            dispute=dispute,
            data={
                "about": about.key,
                "kind": kind,
                "parties": [str(p) for p in dispute.parties.select_related("user")],
                "evidence": [str(e) for e in evidence],
                "amount_at_stake": stake,
                "currency": stake_currency,
            },
        )
    except Exception:
        _remove_files(evidence)
        raise
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
        f"A new dispute was filed: {title}\nAdmin: {settings.SITE_URL}"
        f"{reverse('admin:disputes_dispute_change', args=[dispute.pk])}\n",
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
    _rate_limit(
        user=author,
        model=DisputeMessage,
        field="author",
        limit=setting("FAIROSS_DISPUTE_MESSAGES_PER_HOUR"),
        what="posted a message",
    )
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, fn in (
        ("body", lambda: _text(body, field="body", label="your message")),
        ("links", lambda: evidence_check_links(links=links)),
        ("files", lambda: evidence_check_files(files=files)),
    ):
        try:
            cleaned[name] = fn()
        except ValidationError as exc:
            for f, msgs in exc.message_dict.items():
                errors.setdefault(f, []).extend(msgs)
    if errors:
        raise ValidationError(errors)
    message = DisputeMessage.objects.create(
        dispute=dispute, author=author, body=cleaned["body"], from_ombudsman=not is_party
    )
    evidence = _store_evidence(
        dispute=dispute,
        user=author,
        links=cleaned["links"],
        files=cleaned["files"],
        message=message,
    )
    try:
        audit_record(
            actor=author,
            action="message.post",
            target=f"dispute:{dispute.pk}",
            dispute=dispute,
            data={"message": message.pk, "evidence": [str(e) for e in evidence]},
        )
    except Exception:
        _remove_files(evidence)
        raise
    who = "The ombudsman office" if not is_party else author.get_username()
    _notify_parties(dispute, "new message", f"{who} wrote:\n\n{cleaned['body']}", exclude=author)
    if dispute.assigned_to_id and dispute.assigned_to_id != author.pk and is_party:
        assigned_to = dispute.assigned_to
        assert assigned_to is not None  # assigned_to_id is set
        _send_later(
            f"Dispute #{dispute.pk}: new message from a party",
            f"{author.get_username()} wrote on dispute #{dispute.pk}.\n{_link(dispute)}\n",
            [assigned_to.email],
        )
    return message


# --- case management ------------------------------------------------------------------------


@transaction.atomic
def dispute_note_add(*, dispute: Dispute, actor: User, body: str) -> InternalNote:
    """An internal note: seen by ombudsmen only, recorded in the trail as internal."""
    dispute = _lock(dispute)
    _require_ombudsman(actor, dispute)
    body = _text(body, field="body", label="the note")
    note = InternalNote.objects.create(dispute=dispute, author=actor, body=body)
    audit_record(
        actor=actor,
        action="note.add",
        target=f"dispute:{dispute.pk}",
        dispute=dispute,
        data={"note": note.pk, "text": body},
        internal=True,
    )
    return note


@transaction.atomic
def dispute_assign(*, dispute: Dispute, actor: User, assignee: User | None, reason: str) -> Dispute:
    """Assign the dispute to an ombudsman (or nobody). The assignee must hold the
    permission and not be a party; on appeal, not the one who resolved it."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    if assignee is not None:
        if not selectors.user_is_ombudsman(user=assignee):
            raise ValidationError(
                {
                    "assignee": f"{assignee.get_username()} is not an ombudsman (staff with the "
                    "ombudsman permission)."
                }
            )
        if selectors.dispute_is_party(dispute=dispute, user=assignee):
            raise ValidationError({"assignee": f"{assignee.get_username()} is a party to it."})
        if dispute.status == Dispute.Status.APPEALED and dispute.resolved_by_id == assignee.pk:
            raise ValidationError(
                {"assignee": "The appeal must go to someone other than the first resolver."}
            )
    before = dispute.assigned_to.get_username() if dispute.assigned_to is not None else None
    dispute.assigned_to = assignee
    if assignee is not None and dispute.status == Dispute.Status.OPEN:
        dispute.status = Dispute.Status.IN_REVIEW
    dispute.save(update_fields=["assigned_to", "status", "updated_at"])
    if dispute.status == Dispute.Status.APPEALED:
        dispute.appeals.filter(decision="").update(assigned_to=assignee)
    audit_record(
        actor=actor,
        action="dispute.assign",
        target=f"dispute:{dispute.pk}",
        dispute=dispute,
        reason=reason,
        data={"before": before, "assigned_to": assignee.get_username() if assignee else None},
    )
    return dispute


@transaction.atomic
def dispute_deadline_set(
    *, dispute: Dispute, actor: User, deadline: dt.date | None, reason: str
) -> Dispute:
    """Set (or clear) the date by which the office means to decide; not in the past."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    if deadline is not None and deadline < timezone.localdate():
        raise ValidationError({"deadline": "The deadline cannot be in the past."})
    before = dispute.deadline.isoformat() if dispute.deadline else None
    dispute.deadline = deadline
    dispute.save(update_fields=["deadline", "updated_at"])
    _take_case(dispute, actor)
    audit_record(
        actor=actor,
        action="dispute.deadline",
        target=f"dispute:{dispute.pk}",
        dispute=dispute,
        reason=reason,
        data={"before": before, "deadline": deadline.isoformat() if deadline else None},
    )
    return dispute


def _held_for_dispute(dispute: Dispute, currency: str) -> int:
    total = Hold.objects.filter(
        dispute=dispute, currency=currency, status=Hold.Status.ACTIVE
    ).aggregate(t=Sum("remaining"))["t"]
    return int(total or 0)


@transaction.atomic
def dispute_stake_set(
    *, dispute: Dispute, actor: User, amount: int, currency: str, reason: str
) -> Dispute:
    """Set the money at stake (the most the dispute's holds may freeze); never below what
    its active holds already hold."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    amount = _amount(amount)
    currency = _currency(currency)
    other = Hold.objects.filter(dispute=dispute, status=Hold.Status.ACTIVE).exclude(
        currency=currency
    )
    if other.filter(remaining__gt=0).exists():
        raise ValidationError({"currency": "Active holds of this dispute are in another currency."})
    held = _held_for_dispute(dispute, currency)
    if amount < held:
        raise ValidationError(
            {
                "amount": f"The holds of this dispute already hold {_money(held, currency)}; "
                "release some first."
            }
        )
    before = [dispute.amount_at_stake, dispute.currency]
    dispute.amount_at_stake, dispute.currency = amount, currency
    dispute.save(update_fields=["amount_at_stake", "currency", "updated_at"])
    _take_case(dispute, actor)
    audit_record(
        actor=actor,
        action="dispute.stake",
        target=f"dispute:{dispute.pk}",
        dispute=dispute,
        reason=reason,
        data={"before": before, "amount_at_stake": amount, "currency": currency},
    )
    return dispute


# --- money: hold, release, redirect -----------------------------------------------------------


def default_source(recipient: str) -> str:
    """Where a recipient's money waits: people's in ``available``, identities not yet on
    FairOSS in ``escrow``, projects in their ``reserve``."""
    kind = recipient.split(":", 1)[0]
    return {"user": "available", "project": "reserve"}.get(kind, "escrow")


def _money_recipient(value: object, *, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({field: "Name a recipient, e.g. user:alice or github:octocat."})
    try:
        # Kept as written: ledger owners are the recipient strings of the tables.
        recipient = value.strip()
        kind, ident = parse_recipient(recipient)
    except RecipientError as exc:
        raise ValidationError({field: exc.message}) from None
    if kind == "purl":
        raise ValidationError(
            {field: "A package is not a money holder: name its project (project:<slug>)."}
        )
    if kind == "user" and not get_user_model().objects.filter(username=ident).exists():
        raise ValidationError({field: f"There is no FairOSS user '{ident}'."})
    if kind == "project" and not Project.objects.filter(slug=ident).exists():
        raise ValidationError({field: f"There is no project '{ident}'."})
    return recipient


def _lock_account(owner: str, purpose: str, currency: str) -> None:
    Account.objects.select_for_update().filter(
        owner=owner, purpose=purpose, currency=currency
    ).first()


def _check_held_covers(recipient: str, currency: str) -> None:
    """Invariant: the recipient's ``held`` balance is what its active holds still hold."""
    held = account_balance(owner=recipient, purpose="held", currency=currency)
    owed = (
        Hold.objects.filter(
            recipient=recipient, currency=currency, status=Hold.Status.ACTIVE
        ).aggregate(t=Sum("remaining"))["t"]
        or 0
    )
    if held < owed or held < 0:
        raise ValidationError(
            {
                "amount": f"The ledger's held balance of {recipient} ({_money(held, currency)}) "
                f"does not cover its holds ({_money(int(owed), currency)}); nothing was moved."
            }
        )


def _post(key: str, kind: str, dispute: Dispute, legs: list[Leg], memo: str) -> LedgerTransaction:
    try:
        txn, _ = ledger_post(
            idempotency_key=key, kind=kind, reference=f"dispute:{dispute.pk}", legs=legs, memo=memo
        )
    except LedgerError as exc:
        raise ValidationError({"amount": str(exc)}) from None
    return txn


@transaction.atomic
def hold_place(
    *,
    dispute: Dispute,
    actor: User,
    amount: int,
    currency: str,
    reason: str,
    recipient: str = "",
    source: str = "",
) -> Hold:
    """Freeze ``amount`` of ``recipient``'s money: ledger ``source`` → ``held``.

    Preconditions: an acting ombudsman; ``amount`` ≤ the recipient's ``source`` balance and,
    when the dispute states the money at stake, the dispute's active holds plus ``amount``
    ≤ that stake. ``amount`` 0 is a freeze: nothing moves but payouts stop.
    Invariants: one balanced ledger transaction (kind ``hold``); while active, the recipient
    is not paid out (:func:`selectors.recipient_is_held`).
    """
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    recipient = _money_recipient(recipient or dispute.recipient, field="recipient")
    currency = _currency(currency)
    amount = _amount(amount, allow_zero=True)
    source = source or default_source(recipient)
    if source not in HOLD_SOURCES:
        raise ValidationError({"source": f"Hold from one of: {', '.join(HOLD_SOURCES)}."})
    if dispute.amount_at_stake:
        if dispute.currency != currency:
            raise ValidationError(
                {"currency": f"The money at stake is in {dispute.currency.upper()}."}
            )
        held = _held_for_dispute(dispute, currency)
        if held + amount > dispute.amount_at_stake:
            raise ValidationError(
                {
                    "amount": f"A hold cannot exceed the money at stake: "
                    f"{_money(dispute.amount_at_stake, currency)} at stake, "
                    f"{_money(held, currency)} already held."
                }
            )
    _lock_account(recipient, source, currency)
    balance = account_balance(owner=recipient, purpose=source, currency=currency)
    if amount > balance:
        raise ValidationError(
            {
                "amount": f"{recipient} has only {_money(balance, currency)} in {source}; a hold "
                "cannot exceed the balance."
            }
        )
    hold = Hold.objects.create(
        dispute=dispute,
        recipient=recipient,
        source=source,
        currency=currency,
        amount=amount,
        remaining=amount,
        reason=reason,
        placed_by=actor,
    )
    if amount:
        hold.ledger_transaction = _post(
            f"dispute-hold:{hold.pk}",
            LedgerTransaction.Kind.HOLD,
            dispute,
            [
                Leg(recipient, source, currency, -amount),
                Leg(recipient, "held", currency, amount),
            ],
            f"Hold {hold.pk} for dispute #{dispute.pk}: {reason}"[:2000],
        )
        hold.save(update_fields=["ledger_transaction"])
    _check_held_covers(recipient, currency)
    _take_case(dispute, actor)
    audit_record(
        actor=actor,
        action="hold.place" if amount else "hold.freeze",
        target=f"hold:{hold.pk}",
        dispute=dispute,
        reason=reason,
        data={
            "recipient": recipient,
            "source": source,
            "amount": amount,
            "currency": currency,
            "ledger_transaction": hold.ledger_transaction_id,
        },
    )
    _notify_parties(
        dispute,
        "money on hold",
        (
            f"The ombudsman office put {_money(amount, currency)} of {recipient} on hold"
            if amount
            else f"The ombudsman office froze payouts to {recipient}"
        )
        + f" while the dispute is decided.\n\nReason: {reason}",
    )
    return hold


def _lock_hold(hold: Hold) -> tuple[Hold, Dispute]:
    dispute = _lock(hold.dispute)
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    if hold.status != Hold.Status.ACTIVE:
        raise ValidationError({"hold": f"Hold {hold.pk} has already ended."})
    return hold, dispute


def _move(
    *,
    hold: Hold,
    dispute: Dispute,
    actor: User,
    kind: str,
    amount: int,
    to_recipient: str,
    to_purpose: str,
    reason: str,
) -> HoldMovement:
    n = hold.movements.count() + 1
    movement = HoldMovement(
        hold=hold,
        kind=kind,
        amount=amount,
        to_recipient=to_recipient,
        to_purpose=to_purpose,
        reason=reason,
        actor=actor,
    )
    if amount:
        movement.ledger_transaction = _post(
            f"dispute-hold:{hold.pk}:move:{n}",
            LedgerTransaction.Kind.RELEASE
            if kind == HoldMovement.Kind.RELEASE
            else LedgerTransaction.Kind.REDIRECT,
            dispute,
            [
                Leg(hold.recipient, "held", hold.currency, -amount),
                Leg(to_recipient, to_purpose, hold.currency, amount),
            ],
            f"{kind} of hold {hold.pk} for dispute #{dispute.pk}: {reason}"[:2000],
        )
    movement.save()
    hold.remaining -= amount
    if hold.remaining == 0:
        hold.status = Hold.Status.ENDED
        hold.ended_at = timezone.now()
    hold.save(update_fields=["remaining", "status", "ended_at"])
    _check_held_covers(hold.recipient, hold.currency)
    return movement


@transaction.atomic
def hold_release(*, hold: Hold, actor: User, reason: str) -> Hold:
    """Give back what the hold still holds: ``held`` → its source; the hold ends."""
    hold, dispute = _lock_hold(hold)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    amount = hold.remaining
    movement = _move(
        hold=hold,
        dispute=dispute,
        actor=actor,
        kind=HoldMovement.Kind.RELEASE,
        amount=amount,
        to_recipient=hold.recipient,
        to_purpose=hold.source,
        reason=reason,
    )
    if hold.status != Hold.Status.ENDED:  # a freeze (amount 0) ends here too
        hold.status = Hold.Status.ENDED
        hold.ended_at = timezone.now()
        hold.save(update_fields=["status", "ended_at"])
    _take_case(dispute, actor)
    audit_record(
        actor=actor,
        action="hold.release",
        target=f"hold:{hold.pk}",
        dispute=dispute,
        reason=reason,
        data={
            "recipient": hold.recipient,
            "amount": amount,
            "currency": hold.currency,
            "ledger_transaction": movement.ledger_transaction_id,
        },
    )
    _notify_parties(
        dispute,
        "hold released",
        f"The hold on {hold.recipient} ({_money(amount, hold.currency)}) was released.\n\n"
        f"Reason: {reason}",
    )
    return hold


@transaction.atomic
def hold_redirect(
    *,
    hold: Hold,
    actor: User,
    to_recipient: str,
    reason: str,
    amount: int | None = None,
) -> HoldMovement:
    """Move held money (all that remains, or ``amount`` of it) to another recipient:
    ``held`` of the held recipient → ``available`` (people), ``escrow`` (``github:``,
    ``email:``) or ``reserve`` (projects) of ``to_recipient``. One balanced transaction."""
    hold, dispute = _lock_hold(hold)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    to_recipient = _money_recipient(to_recipient, field="to_recipient")
    if canonical_recipient(to_recipient) == canonical_recipient(hold.recipient):
        raise ValidationError(
            {"to_recipient": "That is the held recipient itself: release the hold instead."}
        )
    if hold.remaining == 0:
        raise ValidationError({"amount": "This hold is a freeze; it holds no money to redirect."})
    amount = hold.remaining if amount in (None, "") else _amount(amount)
    if amount > hold.remaining:
        raise ValidationError(
            {"amount": f"The hold holds only {_money(hold.remaining, hold.currency)}."}
        )
    to_purpose = default_source(to_recipient)
    movement = _move(
        hold=hold,
        dispute=dispute,
        actor=actor,
        kind=HoldMovement.Kind.REDIRECT,
        amount=amount,
        to_recipient=to_recipient,
        to_purpose=to_purpose,
        reason=reason,
    )
    _take_case(dispute, actor)
    audit_record(
        actor=actor,
        action="hold.redirect",
        target=f"hold:{hold.pk}",
        dispute=dispute,
        reason=reason,
        data={
            "from": hold.recipient,
            "to": to_recipient,
            "to_purpose": to_purpose,
            "amount": amount,
            "currency": hold.currency,
            "still_held": hold.remaining,
            "ledger_transaction": movement.ledger_transaction_id,
        },
    )
    _notify_parties(
        dispute,
        "held money redirected",
        f"{_money(amount, hold.currency)} held from {hold.recipient} went to {to_recipient}.\n\n"
        f"Reason: {reason}",
    )
    return movement


# --- tables and governance --------------------------------------------------------------------


def entries_parse(*, text: str) -> list[EntryInput]:
    """Rows ``<recipient> <millibips> [note]``, one per line (blank lines and # ignored)."""
    entries: list[EntryInput] = []
    errors: list[str] = []
    for i, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[1].replace("_", "").replace(",", "").isdigit():
            errors.append(
                f"line {i}: write '<recipient> <millibips> [note]', e.g. 'user:bob 2500000'."
            )
            continue
        millibips = int(parts[1].replace("_", "").replace(",", ""))
        entries.append(EntryInput(parts[0], millibips, parts[2] if len(parts) > 2 else ""))
    if errors:
        raise ValidationError({"entries": errors})
    return entries


@transaction.atomic
def table_correct(
    *,
    dispute: Dispute,
    actor: User,
    entries: Sequence[EntryInput],
    reason: str,
    owner_key: str = "",
) -> Any:
    """Create and activate a new version of the disputed table on its owner's behalf,
    marked ``ombudsman:dispute-<id>``; the stewards and parties are emailed.

    Every table rule holds as for any version (sum ≤ 100%, recipients exist, no closed
    cycle); a refused table changes nothing.
    """

    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    owner_key = (
        owner_key
        or dispute.table_owner
        or (f"project:{dispute.project.slug}" if dispute.project is not None else "")
    )
    if not owner_key:
        raise ValidationError({"owner_key": "This dispute is not about a share table."})
    kind, _, ident = owner_key.partition(":")
    exists = (kind == "project" and Project.objects.filter(slug=ident).exists()) or (
        kind == "company" and Company.objects.filter(slug=ident).exists()
    )
    if not exists:
        raise ValidationError(
            {
                "owner_key": f"'{owner_key[:130]}' is not the table of an existing project "
                "(project:<slug>) or company (company:<slug>)."
            }
        )
    before = list(
        TableVersion.objects.filter(table__owner_key=owner_key, status="active").values_list(
            "number", flat=True
        )
    )
    version = table_propose(
        owner_key=owner_key,
        actor=actor,
        entries=list(entries),
        source=f"ombudsman:dispute-{dispute.pk}",
        note=f"Ombudsman correction for dispute #{dispute.pk}: {reason}"[:500],
        ombudsman=True,
    )
    _take_case(dispute, actor)
    audit_record(
        actor=actor,
        action="table.correct",
        target=f"table:{owner_key}",
        dispute=dispute,
        reason=reason,
        data={
            "version": version.number,
            "version_id": version.pk,
            "replaced_version": before[0] if before else None,
            "entries": [[e.recipient, e.millibips] for e in version.entries.order_by("position")],
            "reserve_millibips": version.reserve_millibips,
        },
    )
    stewards = [
        p.user.email
        for p in selectors.parties_of_recipient(recipient=owner_key, role="steward")
        if p.user is not None and p.user.email
    ]
    body = (
        f"The ombudsman office corrected the share table of {owner_key}: version "
        f"{version.number} is now active.\n\nReason: {reason}"
    )
    _send_later(
        f"Share table of {owner_key} corrected (dispute #{dispute.pk})",
        f"{body}\n\nDispute: {_link(dispute)}\n",
        [a for a in stewards if a not in selectors.party_emails(dispute=dispute)],
    )
    _notify_parties(dispute, "share table corrected", body)
    return version


@transaction.atomic
def project_stewards_set(
    *,
    dispute: Dispute,
    actor: User,
    project: Project,
    stewards: Sequence[str],
    reason: str,
    former: str = "maintainer",
) -> list[str]:
    """Make exactly ``stewards`` (usernames) the project's stewards: transfer of ownership
    or a change of stewards. Former stewards become maintainers (``former="maintainer"``)
    or leave (``"remove"``). An unclaimed project becomes claimed.

    Invariant: the project keeps at least one steward.
    """
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    reason = _reason(reason)
    if former not in ("maintainer", "remove"):
        raise ValidationError({"former": "Choose 'maintainer' or 'remove'."})
    names = list(dict.fromkeys(s.strip() for s in stewards if s and s.strip()))
    if not names:
        raise ValidationError({"stewards": "Name at least one steward: a project keeps one."})
    if len(names) > 20:
        raise ValidationError({"stewards": "Name at most 20 stewards."})
    users = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    missing = [n for n in names if n not in users]
    if missing:
        raise ValidationError(
            {"stewards": [f"There is no active FairOSS user '{n}'." for n in missing]}
        )
    project = Project.objects.select_for_update().get(pk=project.pk)
    rows = list(Membership.objects.select_for_update().filter(project=project).order_by("pk"))
    before = sorted(m.user.username for m in rows if m.role == Membership.Role.STEWARD)
    wanted = {users[n].pk for n in names}
    for m in rows:
        if m.role == Membership.Role.STEWARD and m.user_id not in wanted:
            if former == "remove":
                m.delete()
            else:
                m.role = Membership.Role.MAINTAINER
                m.save(update_fields=["role"])
    by_user = {m.user_id: m for m in rows}
    for n in names:
        membership = by_user.get(users[n].pk)
        if membership is None:
            Membership.objects.create(project=project, user=users[n], role=Membership.Role.STEWARD)
        elif membership.role != Membership.Role.STEWARD:
            membership.role = Membership.Role.STEWARD
            membership.save(update_fields=["role"])
    claimed = False
    if project.status == Project.Status.UNCLAIMED:
        project.status = Project.Status.CLAIMED
        project.save(update_fields=["status"])
        claimed = True
    after = sorted(names)
    _take_case(dispute, actor)
    audit_record(
        actor=actor,
        action="project.stewards",
        target=f"project:{project.slug}",
        dispute=dispute,
        reason=reason,
        data={"before": before, "after": after, "former": former, "claimed": claimed},
    )
    body = (
        f"The ombudsman office changed the stewards of {project.name}: "
        f"{', '.join(before) or 'none'} → {', '.join(after)}.\n\nReason: {reason}"
    )
    old_and_new = [u.email for u in User.objects.filter(username__in=[*before, *after]) if u.email]
    _send_later(
        f"Stewards of {project.name} changed (dispute #{dispute.pk})",
        f"{body}\n\nDispute: {_link(dispute)}\n",
        [a for a in old_and_new if a not in selectors.party_emails(dispute=dispute)],
    )
    _notify_parties(dispute, "stewards changed", body)
    return after


# --- resolution and appeal --------------------------------------------------------------------


def _no_active_holds(dispute: Dispute) -> None:
    active = dispute.holds.filter(status=Hold.Status.ACTIVE).count()
    if active:
        raise ValidationError(
            {
                "outcome": f"This dispute still has {active} active hold(s): release or redirect "
                "them first, so the resolution leaves no money frozen."
            }
        )


@transaction.atomic
def dispute_resolve(*, dispute: Dispute, actor: User, outcome: str, resolution: str) -> Dispute:
    """Decide the dispute (upheld, rejected or settled) with a written resolution, mailed
    to every party. Preconditions: an acting ombudsman who is not a party; no active
    holds. Afterwards each party may appeal once within ``FAIROSS_DISPUTE_APPEAL_DAYS``."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    if dispute.status == Dispute.Status.APPEALED:
        raise ValidationError({"outcome": "This dispute is on appeal: decide the appeal."})
    if outcome not in Dispute.Outcome.values:
        raise ValidationError({"outcome": "Choose upheld, rejected or settled."})
    resolution = _text(resolution, field="resolution", label="the resolution")
    _no_active_holds(dispute)
    dispute.outcome = outcome
    dispute.resolution = resolution
    dispute.resolved_by = actor
    dispute.resolved_at = timezone.now()
    dispute.status = Dispute.Status.RESOLVED
    if dispute.assigned_to_id is None:
        dispute.assigned_to = actor
    dispute.save()
    audit_record(
        actor=actor,
        action="dispute.resolve",
        target=f"dispute:{dispute.pk}",
        dispute=dispute,
        reason=resolution,
        data={"outcome": outcome},
    )
    days = setting("FAIROSS_DISPUTE_APPEAL_DAYS")
    _notify_parties(
        dispute,
        f"resolved ({dispute.get_outcome_display().lower()})",
        f"The ombudsman office resolved the dispute: {dispute.get_outcome_display()}.\n\n"
        f"Resolution:\n{resolution}\n\nEach party may appeal once within {days} days, on the "
        "dispute page; another ombudsman will decide the appeal.",
    )
    return dispute


def appeal_deadline(*, dispute: Dispute) -> dt.datetime | None:
    if dispute.resolved_at is None:
        return None
    return dispute.resolved_at + dt.timedelta(days=setting("FAIROSS_DISPUTE_APPEAL_DAYS"))


@transaction.atomic
def appeal_file(*, dispute: Dispute, appellant: User, reason: str) -> Appeal:
    """A party appeals the resolution: once per party, within the window. The dispute goes
    to an ombudsman other than the one who resolved it (the least busy one)."""
    dispute = _lock(dispute)
    if not selectors.dispute_is_party(dispute=dispute, user=appellant):
        raise PermissionDenied("Only the filer and the parties can appeal.")
    if dispute.status not in (Dispute.Status.RESOLVED, Dispute.Status.APPEALED):
        raise ValidationError({"reason": "Only a resolved dispute can be appealed."})
    deadline = appeal_deadline(dispute=dispute)
    if deadline is None or timezone.now() > deadline:
        raise ValidationError({"reason": "The time to appeal this resolution has passed."})
    if dispute.appeals.filter(appellant=appellant).exists():
        raise ValidationError({"reason": "You have already appealed; each party may appeal once."})
    reason = _text(reason, field="reason", label="why you appeal")
    reviewer = dispute.assigned_to if dispute.status == Dispute.Status.APPEALED else None
    if reviewer is None:
        from django.db.models import Count, Q

        party_ids = set(dispute.parties.exclude(user=None).values_list("user_id", flat=True))
        candidates = (
            selectors.ombudsmen()
            .exclude(pk=dispute.resolved_by_id)
            .exclude(pk__in=party_ids)
            .annotate(
                load=Count(
                    "disputes_assigned",
                    filter=Q(disputes_assigned__status__in=selectors.ACTIVE_STATUSES),
                    distinct=True,
                )
            )
            .order_by("load", "username")
        )
        reviewer = candidates.first()
    appeal = Appeal.objects.create(
        dispute=dispute, appellant=appellant, reason=reason, assigned_to=reviewer
    )
    dispute.status = Dispute.Status.APPEALED
    dispute.assigned_to = reviewer
    dispute.save(update_fields=["status", "assigned_to", "updated_at"])
    audit_record(
        actor=appellant,
        action="appeal.file",
        target=f"appeal:{appeal.pk}",
        dispute=dispute,
        reason=reason,
        data={"assigned_to": reviewer.get_username() if reviewer else None},
    )
    _notify_parties(
        dispute,
        "appealed",
        f"{appellant.get_username()} appealed the resolution:\n\n{reason}\n\n"
        "Another ombudsman will decide the appeal.",
    )
    if reviewer is not None and reviewer.email:
        _send_later(
            f"Appeal on dispute #{dispute.pk} assigned to you",
            f"{settings.SITE_URL}{reverse('admin:disputes_dispute_change', args=[dispute.pk])}\n",
            [reviewer.email],
        )
    return appeal


@transaction.atomic
def appeal_decide(
    *,
    dispute: Dispute,
    actor: User,
    decision: str,
    text: str,
    outcome: str = "",
) -> Dispute:
    """Decide the pending appeal(s): confirm the resolution or overturn it with a new
    ``outcome``. Only an ombudsman other than the first resolver, and not a party.
    The decision is final: the dispute closes and everyone is emailed."""
    dispute = _lock(dispute)
    _require_acting(actor, dispute)
    if dispute.status != Dispute.Status.APPEALED:
        raise ValidationError({"decision": "This dispute has no pending appeal."})
    if decision not in Appeal.Decision.values:
        raise ValidationError({"decision": "Choose confirmed or overturned."})
    if decision == Appeal.Decision.OVERTURNED and outcome not in Dispute.Outcome.values:
        raise ValidationError({"outcome": "An overturned resolution needs the new outcome."})
    text = _text(text, field="text", label="the decision")
    _no_active_holds(dispute)
    now = timezone.now()
    pending = list(dispute.appeals.filter(decision=""))
    for appeal in pending:
        appeal.decision, appeal.decision_text = decision, text
        appeal.decided_by, appeal.decided_at = actor, now
        appeal.save(update_fields=["decision", "decision_text", "decided_by", "decided_at"])
    before = dispute.outcome
    if decision == Appeal.Decision.OVERTURNED:
        dispute.outcome = outcome
    dispute.status = Dispute.Status.CLOSED
    dispute.save()
    audit_record(
        actor=actor,
        action="appeal.decide",
        target=f"dispute:{dispute.pk}",
        dispute=dispute,
        reason=text,
        data={
            "decision": decision,
            "appeals": [a.pk for a in pending],
            "outcome_before": before,
            "outcome": dispute.outcome,
        },
    )
    _notify_parties(
        dispute,
        f"appeal {decision}",
        f"The appeal was decided: {Appeal.Decision(decision).label}. Final outcome: "
        f"{dispute.get_outcome_display()}.\n\n{text}\n\nThis decision is final.",
    )
    return dispute
