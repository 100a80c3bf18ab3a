"""Reads of the ombudsman office: who may see and do what, holds, targets, the trail."""

from __future__ import annotations

from dataclasses import dataclass, field

from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse

from companies.models import Agreement, CompanyMember
from faiross.kernel.money import money_format
from faiross.kernel.recipients import project_key, user_key
from faiross.kernel.shares import format_percent
from payouts.models import Payout, RunAllocation
from payouts.selectors import recipient_money_visible_to
from projects.models import Membership, Project, TableEntry, TableVersion
from projects.privacy import recipient_shown, viewer_is_staff

from .models import AuditEvent, Dispute, DisputeParty, Hold

OMBUDSMAN_PERM = "disputes.act_as_ombudsman"
ACTIVE_STATUSES = (Dispute.Status.OPEN, Dispute.Status.IN_REVIEW, Dispute.Status.APPEALED)


# --- holds: what the payouts engineer calls -------------------------------------------


def recipient_is_held(*, recipient: str) -> bool:
    """True while any hold (or freeze) of ``recipient`` is active: do not pay it out."""
    return Hold.objects.filter(recipient=recipient, status=Hold.Status.ACTIVE).exists()


def holds_for(recipient: str) -> QuerySet[Hold]:
    """The active holds of ``recipient`` (newest first), with their disputes."""
    return Hold.objects.filter(recipient=recipient, status=Hold.Status.ACTIVE).select_related(
        "dispute"
    )


def held_recipients() -> set[str]:
    """Every recipient with an active hold (one query, for a payout run's batch)."""
    return set(Hold.objects.filter(status=Hold.Status.ACTIVE).values_list("recipient", flat=True))


# --- people ---------------------------------------------------------------------------


def user_is_ombudsman(*, user: User | AnonymousUser | None) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(OMBUDSMAN_PERM)
    )


def ombudsmen() -> QuerySet:
    """Active staff who hold the ombudsman permission (directly, by group, or superuser)."""
    perm = Permission.objects.filter(
        content_type__app_label="disputes", codename="act_as_ombudsman"
    ).first()
    q = Q(is_superuser=True)
    if perm is not None:
        q |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    return User.objects.filter(q, is_active=True, is_staff=True).distinct().order_by("username")


def dispute_is_party(*, dispute: Dispute, user: User | AnonymousUser) -> bool:
    """The filer and every party with an account."""
    if not user.is_authenticated:
        return False
    return dispute.filed_by_id == user.pk or dispute.parties.filter(user=user).exists()


def dispute_visible_to(*, dispute: Dispute, user: User | AnonymousUser) -> bool:
    return dispute_is_party(dispute=dispute, user=user) or user_is_ombudsman(user=user)


def disputes_for_user(*, user: User) -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(Q(filed_by=user) | Q(parties__user=user))
        .distinct()
        .order_by("-created_at")
    )


def party_emails(*, dispute: Dispute, exclude_user_id: int | None = None) -> list[str]:
    """Addresses of the filer and every party, each once, in a stable order."""
    out: list[str] = []
    rows = dispute.parties.select_related("user").order_by("id")
    for party in rows:
        if party.user_id is not None and party.user_id == exclude_user_id:
            continue
        address = party.user.email if party.user is not None else party.email
        if address and address.lower() not in {a.lower() for a in out}:
            out.append(address)
    return out


# --- public facts (no content) ----------------------------------------------------------


def open_dispute_count_on_table(*, owner_key: str) -> int:
    return Dispute.objects.filter(table_owner=owner_key, status__in=ACTIVE_STATUSES).count()


def open_dispute_count_on_project(*, project: Project) -> int:
    return Dispute.objects.filter(
        Q(project=project) | Q(table_owner=project_key(project.slug)), status__in=ACTIVE_STATUSES
    ).count()


# --- the trail --------------------------------------------------------------------------


def audit_trail(*, dispute: Dispute) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(dispute=dispute).order_by("created_at", "id")


def dispute_queue() -> QuerySet[Dispute]:
    return Dispute.objects.select_related("filed_by", "assigned_to", "project")


# --- targets ------------------------------------------------------------------------------


@dataclass
class PartyRef:
    role: str
    user: User | None = None
    email: str = ""


@dataclass
class Target:
    """What a dispute is about, looked up from a target string like ``table_entry:12``."""

    type: str
    id: str
    label: str
    project: Project | None = None
    table_owner: str = ""
    recipient: str = ""
    amount: int | None = None
    currency: str = ""
    parties: list[PartyRef] = field(default_factory=list)
    url: str = ""
    entries: list[TableEntry] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.type}:{self.id}"


def parties_of_recipient(*, recipient: str, role: str) -> list[PartyRef]:
    """Who can be told about money addressed to ``recipient``.

    ``user:`` that user; ``email:`` the account that verified it, else the address itself;
    ``github:`` the account that claimed it (nobody to tell before that); ``project:`` its
    stewards; ``company:`` its owners.
    """
    kind, _, ident = recipient.partition(":")
    if kind == "user":
        user = User.objects.filter(username=ident).first()
        return [PartyRef(role, user=user)] if user else []
    if kind == "email":
        address = EmailAddress.objects.filter(email__iexact=ident, verified=True).first()
        if address is not None:
            return [PartyRef(role, user=address.user)]
        return [PartyRef(role, email=ident)]
    if kind == "github":
        claimed = _claimed_identity_user(recipient)
        return [PartyRef(role, user=claimed)] if claimed else []
    if kind == "project":
        stewards = Membership.objects.filter(
            project__slug=ident, role=Membership.Role.STEWARD
        ).select_related("user")
        return [PartyRef(DisputeParty.Role.STEWARD, user=m.user) for m in stewards]
    if kind == "company":
        return _company_owners(slug=ident)
    return []


def _claimed_identity_user(identity: str) -> User | None:
    try:
        model = apps.get_model("payouts", "ClaimedIdentity")
    except LookupError:
        return None
    row = model.objects.filter(identity=identity).select_related("user").first()
    return row.user if row else None


def _company_owners(*, slug: str) -> list[PartyRef]:

    owners = CompanyMember.objects.filter(
        company__slug=slug, role=CompanyMember.Role.OWNER
    ).select_related("user")
    return [PartyRef(DisputeParty.Role.COMPANY_OWNER, user=m.user) for m in owners]


def _owner_parties(owner_key: str) -> list[PartyRef]:
    return parties_of_recipient(recipient=owner_key, role=DisputeParty.Role.STEWARD)


def _project_of_owner(owner_key: str) -> Project | None:
    kind, _, ident = owner_key.partition(":")
    return Project.objects.filter(slug=ident).first() if kind == "project" else None


def _bad(message: str) -> ValidationError:
    return ValidationError({"target": message})


def target_describe(*, target: str) -> Target:
    """Look up a target string; raises ``ValidationError({"target": ...})`` when unknown.

    Forms: ``table_entry:<id>``, ``table_version:<id>``, ``project:<slug>``,
    ``agreement:<id>``, ``payout:<id>``, ``distribution_line:<id>``.
    """
    kind, sep, ident = (target or "").strip().partition(":")
    if not sep or not ident or kind not in Dispute.TargetType.values:
        raise _bad(
            "Choose what the dispute is about, e.g. table_entry:12, table_version:3, "
            "project:numpy, agreement:4, payout:9 or distribution_line:21."
        )
    if kind != "project" and not ident.isdigit():
        raise _bad(f"'{ident}' is not a valid id for a {kind.replace('_', ' ')}.")
    if kind == "table_entry":
        entry = TableEntry.objects.select_related("version__table").filter(pk=int(ident)).first()
        if entry is None:
            raise _bad(f"There is no share-table entry {ident}.")
        owner = entry.version.table.owner_key
        project = _project_of_owner(owner)
        t = Target(
            kind,
            ident,
            f"{owner} v{entry.version.number}: {entry.recipient} "
            f"({format_percent(millibips=entry.millibips)})",
            project=project,
            table_owner=owner,
            recipient=entry.recipient,
        )
        t.parties = _owner_parties(owner) + parties_of_recipient(
            recipient=entry.recipient, role=DisputeParty.Role.RECIPIENT
        )
        if project is not None:
            t.url = reverse(
                "projects:table_version",
                kwargs={"slug": project.slug, "number": entry.version.number},
            )
        return t
    if kind == "table_version":
        version = TableVersion.objects.select_related("table").filter(pk=int(ident)).first()
        if version is None:
            raise _bad(f"There is no share-table version {ident}.")
        owner = version.table.owner_key
        project = _project_of_owner(owner)
        t = Target(
            kind,
            ident,
            f"{owner} version {version.number} ({version.status})",
            project=project,
            table_owner=owner,
        )
        t.parties = _owner_parties(owner)
        t.entries = list(version.entries.order_by("position"))
        if project is not None:
            t.url = reverse(
                "projects:table_version", kwargs={"slug": project.slug, "number": version.number}
            )
        return t
    if kind == "project":
        project = Project.objects.filter(slug=ident).first()
        if project is None:
            raise _bad(f"There is no project '{ident}'.")
        t = Target(
            kind,
            ident,
            f"{project.name} (project:{project.slug}): ownership and governance",
            project=project,
            table_owner="",
            url=project.get_absolute_url(),
        )
        t.parties = _owner_parties(project_key(project.slug))
        return t
    if kind == "distribution_line":
        line = RunAllocation.objects.filter(pk=int(ident)).first()
        if line is None:
            raise _bad(f"There is no distribution line {ident}.")
        t = Target(
            kind,
            ident,
            f"run {line.run_id}: {line.recipient} "
            f"{money_format(amount=line.amount, currency=line.currency)}",
            recipient=line.recipient,
            amount=line.amount,
            currency=line.currency,
        )
        t.parties = parties_of_recipient(recipient=line.recipient, role=DisputeParty.Role.RECIPIENT)
        return t
    if kind == "agreement":
        obj = _generic_object("companies", "Agreement", ident)
        company = getattr(obj, "company", None)
        t = Target(kind, ident, f"agreement {ident}: {obj}"[:300])
        if company is not None:
            t.parties = _company_owners(slug=company.slug)
        return t
    # payout
    obj = _generic_object("payouts", "Payout", ident)
    recipient = str(getattr(obj, "recipient", "") or "")
    user = getattr(obj, "user", None)
    if not recipient and user is not None:
        recipient = user_key(user.get_username())
    amount = getattr(obj, "amount", None)
    currency = str(getattr(obj, "currency", "") or "")
    shown = (
        money_format(amount=amount, currency=currency)
        if isinstance(amount, int) and currency
        else ""
    )
    t = Target(
        kind,
        ident,
        f"payout {ident} of {shown} to {recipient}"[:300],
        recipient=recipient,
        amount=amount if isinstance(amount, int) and amount > 0 else None,
        currency=currency,
    )
    if recipient:
        t.parties = parties_of_recipient(recipient=recipient, role=DisputeParty.Role.RECIPIENT)
    return t


def _generic_object(app_label: str, model_name: str, ident: str) -> object:
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        raise _bad(f"{model_name}s cannot be disputed yet: FairOSS has none.") from None
    obj = model.objects.filter(pk=int(ident)).first()
    if obj is None:
        raise _bad(f"There is no {model_name.lower()} {ident}.")
    return obj


# --- who may see a target ---------------------------------------------------------------

NEUTRAL_TARGET_MESSAGE = (
    "There is nothing you can dispute as {about!r}. A dispute is filed from the thing it is "
    "about: open the project, the table version, your payout or your agreement and use its "
    '"Dispute" link.'
)


def target_visible_to(*, target: Target, user: User | AnonymousUser) -> bool:
    """Whether ``user`` may learn anything about ``target`` (money rule 9).

    Tables and projects are public. A distribution line of a project, company or package is
    public; a person's line only that person's. A payout only its payee's. An agreement
    (drafts included) only its company's members'. Staff see everything."""
    if viewer_is_staff(user=user):
        return True
    if target.type in ("project", "table_entry", "table_version"):
        return True
    if target.type == "distribution_line":
        return recipient_money_visible_to(recipient=target.recipient, user=user)
    if not user.is_authenticated:
        return False
    if target.type == "payout":
        return Payout.objects.filter(pk=int(target.id), user_id=user.pk).exists()
    if target.type == "agreement":
        return Agreement.objects.filter(
            pk=int(target.id), company__members__user_id=user.pk
        ).exists()
    return False


def target_describe_for(*, target: str, user: User | AnonymousUser) -> Target:
    """:func:`target_describe` for ``user``: a target they may not see raises the same
    neutral ``ValidationError({"target": ...})`` as one that does not exist, so nothing is
    learnt about it (not even that it exists). Labels name recipients as ``user`` may see
    them (email addresses masked)."""
    about = (target or "").strip()
    try:
        described = target_describe(target=about)
    except ValidationError as exc:
        kind, sep, ident = about.partition(":")
        if (
            sep
            and ident
            and kind in Dispute.TargetType.values
            and (kind == "project" or ident.isdigit())
        ):
            raise _bad(NEUTRAL_TARGET_MESSAGE.format(about=about[:80])) from None
        raise exc
    if not target_visible_to(target=described, user=user):
        raise _bad(NEUTRAL_TARGET_MESSAGE.format(about=about[:80]))
    if described.recipient:
        shown = recipient_shown(key=described.recipient, user=user)
        described.label = described.label.replace(described.recipient, shown)
    return described
