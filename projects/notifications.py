"""Notifications to people, by kind, with each person's preferences (issue 12).

Every layer tells people about what concerns them through :func:`notification_send` (or
:func:`notifications_send_many` for a run's many people): share tables here, runs and payouts
in ``payouts``, invoices and agreements in ``companies``, dispute steps in ``disputes``. The
service lives in the lowest app so that all of them can reach it.

Rules every function keeps:

- a message is a :class:`~projects.models.UserNotification` row written in the transaction of
  the event, so nothing is sent when that transaction rolls back; it is sent after commit, by a
  Celery task (in-process when tasks run eagerly), and never makes the event fail or wait;
- a message goes to one person and says only what that person may see (privacy rule 9: their
  own amount, never someone else's, and no other recipient's address);
- ``key`` is unique: the same event told twice (a retried task, a re-run) is one message;
- a kind the person turned off is not written at all; no preference row means the kind's
  default (``KINDS``); inactive people and people without an address get nothing.

Kinds: ``KINDS`` below (who gets each, and its default, in ``docs/notifications.md``).
Channels: only ``email`` now; a preference row names its channel, so another channel (e.g.
in-app) is a new choice and a new sender, not a new model.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from faiross.kernel.registry import Registry

from .models import (
    Approval,
    Membership,
    NotificationPreference,
    TableEntry,
    TableVersion,
    UserNotification,
)

log = logging.getLogger(__name__)

EMAIL = NotificationPreference.Channel.EMAIL.value

# --- kinds -------------------------------------------------------------------------------------

TABLE_APPROVAL_NEEDED = "table_approval_needed"
TABLE_VERSION_DECIDED = "table_version_decided"
TABLE_NAMED_YOU = "table_named_you"
TABLE_NAMED_PROJECT = "table_named_project"
INVOICE_ISSUED = "invoice_issued"
INVOICE_DUE = "invoice_due"
INVOICE_OVERDUE = "invoice_overdue"
AGREEMENT_COUNTERSIGNED = "agreement_countersigned"
RUN_CREDITED = "run_credited"
PAYOUT_SENT = "payout_sent"
PAYOUT_FAILED = "payout_failed"
DISPUTE_UPDATE = "dispute_update"
ASK_UPDATE = "ask_update"
CONTACT_REQUEST = "contact_request"


@dataclass(frozen=True)
class NotificationKind:
    key: str
    group: str
    label: str
    help: str
    default: bool = True


KINDS: tuple[NotificationKind, ...] = (
    NotificationKind(
        TABLE_APPROVAL_NEEDED,
        "Share tables",
        "A proposal waits for your approval",
        "A member proposed a new version of a table you approve (also on your dashboard).",
    ),
    NotificationKind(
        TABLE_VERSION_DECIDED,
        "Share tables",
        "Your proposal took effect or was withdrawn",
        "A version you proposed became active, or a steward withdrew it.",
    ),
    NotificationKind(
        TABLE_NAMED_YOU,
        "Share tables",
        "You are named in a table",
        "A table that took effect names you and its previous version did not.",
    ),
    # Off by default: a popular project is named by many tables, and each would mail every
    # one of its stewards.
    NotificationKind(
        TABLE_NAMED_PROJECT,
        "Share tables",
        "Your project is named in a table",
        "A table that took effect names a project you steward and its previous version did not.",
        default=False,
    ),
    NotificationKind(
        RUN_CREDITED,
        "Money",
        "A distribution run credited you",
        "A run finished and credited you; the email says your own amount.",
    ),
    NotificationKind(PAYOUT_SENT, "Money", "A payout was sent", "Money is on its way to you."),
    NotificationKind(
        PAYOUT_FAILED,
        "Money",
        "A payout failed",
        "A payout could not be sent; the money is back in your balance.",
    ),
    NotificationKind(
        INVOICE_ISSUED,
        "Companies",
        "An invoice was issued",
        "An invoice of a company where you are an owner or finance member.",
    ),
    NotificationKind(
        INVOICE_DUE,
        "Companies",
        "An invoice is due soon",
        "An open invoice is due within a week.",
    ),
    NotificationKind(
        INVOICE_OVERDUE,
        "Companies",
        "An invoice is overdue",
        "An invoice is still open after its due date.",
    ),
    NotificationKind(
        AGREEMENT_COUNTERSIGNED,
        "Companies",
        "An agreement was countersigned",
        "FairOSS countersigned an agreement of your company: it is active.",
    ),
    NotificationKind(
        DISPUTE_UPDATE,
        "Disputes",
        "Dispute steps",
        "A dispute you are part of, or about a table you steward, moved on: a new message, "
        "a hold, a decision, an appeal.",
    ),
    NotificationKind(
        ASK_UPDATE,
        "Company asks",
        "Feature requests",
        "A feature request of your company, or one to a project you steward, moved on: "
        "filed, accepted, declined, changes proposed, delivered, confirmed, disputed.",
    ),
    NotificationKind(
        CONTACT_REQUEST,
        "Company asks",
        "Contact requests",
        "A company asked to contact you through your contributor profile, or a person "
        "answered your company's request.",
    ),
)
KINDS_BY_KEY: dict[str, NotificationKind] = {k.key: k for k in KINDS}


def notification_kind(key: str) -> NotificationKind:
    """The kind named ``key``; an unknown name is a programming error (``ValueError``)."""
    try:
        return KINDS_BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown notification kind {key!r}") from None


# --- who approves a table (filled per owner kind at start-up) ------------------------------


class TableApprovers(Protocol):
    def __call__(self, *, slug: str) -> QuerySet[User]: ...


table_approvers: Registry[TableApprovers] = Registry(
    "projects.notifications.table_approvers",
    required={"project": "projects", "company": "companies"},
)
"""The people who approve versions of a ``<kind>:<slug>`` table (a project's stewards, a
company's owners): they are told about proposals and see them as to-dos."""


class ApprovableOwners(Protocol):
    def __call__(self, *, user: User) -> list[str]: ...


approvable_owners: Registry[ApprovableOwners] = Registry(
    "projects.notifications.approvable_owners",
    required={"project": "projects", "company": "companies"},
)
"""The owner keys of the tables ``user`` approves, per owner kind (the dashboard's to-dos)."""


# --- preferences --------------------------------------------------------------------------------


def notification_settings(*, user: User, channel: str = EMAIL) -> dict[str, bool]:
    """Whether each kind is on for ``user`` on ``channel`` (defaults where no choice is stored)."""
    stored = dict(
        NotificationPreference.objects.filter(user=user, channel=channel).values_list(
            "kind", "enabled"
        )
    )
    return {k.key: stored.get(k.key, k.default) for k in KINDS}


def notification_wanted(*, user: User, kind: str, channel: str = EMAIL) -> bool:
    """Whether ``user`` gets ``kind`` on ``channel``."""
    default = notification_kind(kind).default
    stored = (
        NotificationPreference.objects.filter(user=user, kind=kind, channel=channel)
        .values_list("enabled", flat=True)
        .first()
    )
    return default if stored is None else bool(stored)


@transaction.atomic
def notification_preferences_set(
    *, user: User, enabled: Mapping[str, bool], channel: str = EMAIL
) -> dict[str, bool]:
    """Store ``user``'s choice for the kinds in ``enabled``; other kinds keep theirs.

    Preconditions: every key is a kind of ``KINDS`` and ``channel`` a known channel, else a
    ``ValidationError`` naming it and nothing is stored. Returns the settings after the change.
    """
    unknown = sorted(k for k in enabled if k not in KINDS_BY_KEY)
    if unknown:
        raise ValidationError({"kind": [f"Unknown notification kind: {', '.join(unknown)}."]})
    if channel not in NotificationPreference.Channel.values:
        raise ValidationError({"channel": [f"Unknown channel {channel!r}."]})
    for kind, on in enabled.items():
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, channel=channel, defaults={"enabled": bool(on)}
        )
    return notification_settings(user=user, channel=channel)


def _users_with_kind_off(*, user_ids: Iterable[int], kind: str, channel: str) -> set[int]:
    """Of ``user_ids``, those who do not get ``kind`` on ``channel`` (one query)."""
    ids = set(user_ids)
    if not ids:
        return set()
    default = notification_kind(kind).default
    rows = NotificationPreference.objects.filter(
        user_id__in=ids, kind=kind, channel=channel
    ).values_list("user_id", "enabled")
    stored = dict(rows)
    return {i for i in ids if not stored.get(i, default)}


# --- sending ----------------------------------------------------------------------------------


def _absolute(url: str) -> str:
    return str(settings.SITE_URL).rstrip("/") + url if url.startswith("/") else url


@dataclass(frozen=True)
class NotificationDraft:
    """One message for :func:`notifications_send_many`."""

    user: User
    subject: str
    body: str
    url: str = ""
    key: str = ""


def notification_send(
    *, user: User, kind: str, subject: str, body: str, url: str = "", key: str = ""
) -> UserNotification | None:
    """Tell ``user`` about ``kind``: record the message and send it after commit.

    Preconditions: called inside the transaction of the event (or in autocommit); ``body``
    says only what ``user`` may see. ``url`` is a path on FairOSS or an absolute link; ``key``
    identifies the event for this person (e.g. ``run:12:user:5``), so telling it twice sends
    once; without one, every call is a new message.
    Returns the message, or ``None`` when nothing is sent (kind off, inactive person, no
    address, already told). Never raises because of mail.
    """
    sent = notifications_send_many(
        kind=kind, drafts=[NotificationDraft(user, subject, body, url, key)]
    )
    return sent[0] if sent else None


def notifications_send_many(
    *, kind: str, drafts: Sequence[NotificationDraft], channel: str = EMAIL
) -> list[UserNotification]:
    """:func:`notification_send` for many people at once (a run's people): a constant number
    of queries, whatever the number of drafts. Same preconditions and invariants; returns
    the messages recorded now."""
    notification_kind(kind)
    people = [d for d in drafts if d.user.is_active and d.user.email]
    off = _users_with_kind_off(user_ids=[d.user.pk for d in people], kind=kind, channel=channel)
    rows = [
        UserNotification(
            key=(d.key or f"{kind}:{uuid.uuid4()}")[:300],
            user=d.user,
            kind=kind,
            channel=channel,
            subject=d.subject[:200],
            body=d.body,
            url=_absolute(d.url)[:500],
        )
        for d in people
        if d.user.pk not in off
    ]
    if not rows:
        return []
    keys = [r.key for r in rows]
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's work intact
            existing = set(
                UserNotification.objects.filter(key__in=keys).values_list("key", flat=True)
            )
            fresh = [r for r in rows if r.key not in existing]
            created = UserNotification.objects.bulk_create(fresh)
    except IntegrityError:  # told at this very moment by a concurrent transaction
        return []
    except Exception:
        log.exception("notifications of kind %s could not be recorded", kind)
        return []
    ids = [n.pk for n in created]
    if ids:
        transaction.on_commit(lambda: notifications_enqueue(notification_ids=ids), robust=True)
    return created


def notifications_for_addresses(
    *, addresses: Sequence[str], kind: str, subject: str, body: str, url: str = ""
) -> list[str]:
    """Route mail meant for ``addresses`` through people's preferences: each address of an
    active account becomes a :func:`notification_send` to that person (and is dropped when they
    turned ``kind`` off); returns the addresses of nobody on FairOSS, for the caller to mail as
    before. Same preconditions as :func:`notification_send`."""
    wanted = [a for a in dict.fromkeys(addresses) if a]
    if not wanted:
        return []
    match = Q()
    for address in wanted:
        match |= Q(email__iexact=address)
    by_address: dict[str, User] = {}
    for user in User.objects.filter(match, is_active=True).order_by("pk"):
        by_address.setdefault(user.email.lower(), user)
    notifications_send_many(
        kind=kind,
        drafts=[
            NotificationDraft(by_address[a.lower()], subject, body, url)
            for a in wanted
            if a.lower() in by_address
        ],
    )
    return [a for a in wanted if a.lower() not in by_address]


def _footer() -> str:
    link = _absolute(reverse("notifications"))
    return f"\n\n--\nChoose which emails FairOSS sends you: {link}\n"


@transaction.atomic
def notification_deliver(*, notification_id: int) -> bool:
    """Send one recorded message if it is still unsent; whether it was sent now.

    The row is locked while sending, so two workers never send it twice; a mail error is
    recorded on the row (the sweep tries again later) and never raised.
    """
    notification = (
        UserNotification.objects.select_for_update(skip_locked=True)
        .select_related("user")
        .filter(pk=notification_id, sent_at__isnull=True)
        .first()
    )
    if notification is None:
        return False
    notification.attempts += 1
    body = notification.body + (f"\n\n{notification.url}" if notification.url else "") + _footer()
    try:
        EmailMessage(
            subject=f"[FairOSS] {notification.subject}",
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.user.email],
        ).send()
    except Exception as exc:
        log.warning("notification %s could not be sent: %s", notification.pk, exc)
        notification.error = f"{type(exc).__name__}: {exc}"[:300]
        notification.save(update_fields=["attempts", "error"])
        return False
    notification.sent_at = timezone.now()
    notification.error = ""
    notification.save(update_fields=["attempts", "error", "sent_at"])
    return True


def notifications_enqueue(*, notification_ids: Sequence[int]) -> None:
    """Hand recorded messages to a sender; never raises.

    With a Celery worker, one task for the batch. When tasks run eagerly (the embedded
    default, tests) they are sent here, in-process: the mail backend there is the console or
    the test outbox, which does not wait on a server.
    """
    from celery import current_app

    from . import tasks  # tasks import this module

    ids = list(notification_ids)
    if not ids:
        return
    if current_app.conf.task_always_eager:
        for notification_id in ids:
            try:
                notification_deliver(notification_id=notification_id)
            except Exception:
                log.exception("notification %s could not be sent", notification_id)
        return
    try:
        tasks.notifications_send_task.delay(ids)
    except Exception:  # the broker is down: the messages stay unsent for the sweep
        log.exception("could not queue notifications %s", ids)


SWEEP_AFTER_MINUTES = 5
MAX_ATTEMPTS = 10


def notifications_unsent() -> list[int]:
    """Messages still unsent a few minutes after they were recorded (a lost task, a mail
    server that was down), oldest first, except those that failed ``MAX_ATTEMPTS`` times."""
    before = timezone.now() - dt.timedelta(minutes=SWEEP_AFTER_MINUTES)
    return list(
        UserNotification.objects.filter(
            sent_at__isnull=True, created_at__lt=before, attempts__lt=MAX_ATTEMPTS
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:1000]
    )


# --- share tables: the kinds of this app --------------------------------------------------------


def _table_where(owner_key: str, number: int | None = None) -> tuple[str, str]:
    """(owner name to show, path of the table's page or of version ``number``)."""
    kind, _, slug = owner_key.partition(":")
    if kind == "project":
        if number is not None:
            return slug, reverse("projects:table_version", args=[slug, number])
        return slug, reverse("projects:detail", args=[slug])
    return slug, reverse("companies:table_history", kwargs={"slug": slug})


def table_proposal_notify(*, version: TableVersion, proposer: User | None) -> None:
    """Tell the approvers of the version's table (except the proposer and those who already
    approved) that ``version`` waits for them. Precondition: it was just proposed and is
    still proposed."""
    owner_key = version.table.owner_key
    kind, _, slug = owner_key.partition(":")
    approved = set(Approval.objects.filter(version=version).values_list("user_id", flat=True))
    name, path = _table_where(owner_key, version.number)
    who = proposer.username if proposer is not None else "Someone"
    drafts = [
        NotificationDraft(
            user,
            f"Approve version {version.number} of {name}'s share table?",
            f"{who} proposed version {version.number} of the share table of {name}. It waits "
            "for your approval.",
            path,
            f"table:{version.pk}:approval:{user.pk}",
        )
        for user in table_approvers.get(kind)(slug=slug).order_by("pk")
        if user.pk not in approved and (proposer is None or user.pk != proposer.pk)
    ]
    notifications_send_many(kind=TABLE_APPROVAL_NEEDED, drafts=drafts)


def table_withdrawal_notify(*, version: TableVersion, actor: User) -> None:
    """Tell the proposer that a steward withdrew ``version`` (not when they did it
    themselves). Precondition: the version was just withdrawn."""
    proposer = version.proposed_by
    if proposer is None or proposer.pk == actor.pk:
        return
    name, path = _table_where(version.table.owner_key, version.number)
    notification_send(
        user=proposer,
        kind=TABLE_VERSION_DECIDED,
        subject=f"Your version {version.number} of {name}'s share table was withdrawn",
        body=f"{actor.username} withdrew version {version.number} of the share table of "
        f"{name}, which you proposed. It stays in the table's history.",
        url=path,
        key=f"table:{version.pk}:withdrawn",
    )


class _Entry(Protocol):
    @property
    def recipient(self) -> str: ...
    @property
    def millibips(self) -> int: ...


def table_activation_notify(
    *, version: TableVersion, entries: Sequence[_Entry], previous_version_id: int | None
) -> None:
    """On activation of ``version`` (with ``entries``), tell:

    - its proposer, when others' approvals made it active (not when their own proposal took
      effect at once, and not for an ombudsman correction, which the dispute tells about);
    - each person the table newly names (``user:`` rows absent from the previous active
      version), with the share of their own row (tables are public);
    - the stewards of each project it newly names.

    Precondition: ``version`` was just activated in the caller's transaction.
    """
    from faiross.kernel.recipients import recipient_split
    from faiross.kernel.shares import format_percent

    owner_key = version.table.owner_key
    name, path = _table_where(owner_key, version.number)
    proposer = version.proposed_by
    if (
        proposer is not None
        and Approval.objects.filter(version=version).exclude(user=proposer).exists()
    ):
        notification_send(
            user=proposer,
            kind=TABLE_VERSION_DECIDED,
            subject=f"Your version {version.number} of {name}'s share table is active",
            body=f"Version {version.number} of the share table of {name}, which you proposed, "
            "was approved and is now active.",
            url=path,
            key=f"table:{version.pk}:active",
        )
    before: set[str] = set()
    if previous_version_id is not None:
        before = set(
            TableEntry.objects.filter(version_id=previous_version_id).values_list(
                "recipient", flat=True
            )
        )
    new = {e.recipient: e.millibips for e in entries if e.recipient not in before}
    people = {recipient_split(r)[1]: m for r, m in new.items() if r.startswith("user:")}
    projects = {recipient_split(r)[1]: m for r, m in new.items() if r.startswith("project:")}
    notifications_send_many(
        kind=TABLE_NAMED_YOU,
        drafts=[
            NotificationDraft(
                user,
                f"You are named in the share table of {name}",
                f"Version {version.number} of the share table of {name} gives you "
                f"{format_percent(millibips=people[user.username])}. Money that reaches "
                f"{name} flows on to the people and projects its table names.",
                path,
                f"table:{version.pk}:named:{user.pk}",
            )
            for user in User.objects.filter(username__in=list(people)).order_by("pk")
        ],
    )
    if not projects:
        return
    stewards = (
        Membership.objects.filter(project__slug__in=list(projects), role=Membership.Role.STEWARD)
        .select_related("user", "project")
        .order_by("project__slug", "user_id")
    )
    notifications_send_many(
        kind=TABLE_NAMED_PROJECT,
        drafts=[
            NotificationDraft(
                m.user,
                f"{m.project.name} is named in the share table of {name}",
                f"Version {version.number} of the share table of {name} gives your project "
                f"{m.project.name} {format_percent(millibips=projects[m.project.slug])}.",
                path,
                f"table:{version.pk}:named-project:{m.project.slug}:{m.user_id}",
            )
            for m in stewards
        ],
    )


# --- the dashboard's to-dos -------------------------------------------------------------------


def proposals_awaiting(*, user: User) -> QuerySet[TableVersion]:
    """Proposed versions of the tables ``user`` approves that ``user`` has not approved yet,
    oldest first (the dashboard's to-dos)."""
    owners: list[str] = []
    for _kind, lookup in approvable_owners.items():
        owners.extend(lookup(user=user))
    return (
        TableVersion.objects.filter(
            table__owner_key__in=owners, status=TableVersion.Status.PROPOSED
        )
        .exclude(approvals__user=user)
        .select_related("table", "proposed_by")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class ApprovalTodo:
    """A proposal waiting for one person's approval, as the dashboard lists it."""

    owner_key: str
    owner_name: str
    number: int
    proposed_by: str
    proposed_at: dt.datetime
    url: str


def approval_todos(*, user: User) -> list[ApprovalTodo]:
    """:func:`proposals_awaiting` with the owner's name and the page to approve it on."""
    from .models import Project

    versions = list(proposals_awaiting(user=user))
    slugs = [
        v.table.owner_key.partition(":")[2]
        for v in versions
        if v.table.owner_key.startswith("project:")
    ]
    names = dict(Project.objects.filter(slug__in=slugs).values_list("slug", "name"))
    todos = []
    for v in versions:
        kind, _, slug = v.table.owner_key.partition(":")
        _, path = _table_where(v.table.owner_key, v.number)
        todos.append(
            ApprovalTodo(
                owner_key=v.table.owner_key,
                owner_name=names.get(slug, slug) if kind == "project" else slug,
                number=v.number,
                proposed_by=v.proposed_by.username if v.proposed_by else "",
                proposed_at=v.created_at,
                url=path,
            )
        )
    return todos


def project_table_approvers(*, slug: str) -> QuerySet[User]:
    """A project's stewards (they approve its table)."""
    return User.objects.filter(
        project_memberships__project__slug=slug,
        project_memberships__role=Membership.Role.STEWARD,
        is_active=True,
    )


def project_tables_approved_by(*, user: User) -> list[str]:
    """``project:<slug>`` of the projects ``user`` stewards."""
    slugs = Membership.objects.filter(user=user, role=Membership.Role.STEWARD).values_list(
        "project__slug", flat=True
    )
    return [f"project:{slug}" for slug in slugs]
