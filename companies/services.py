"""Operations on companies: onboarding, members, agreements and their events, money in.

Every function is keyword-only and transactional; it raises ``ValidationError({field: msg})``
for bad input or a broken rule and ``PermissionDenied`` for a caller who may not act, and on
either nothing is stored. Amounts are integer minor units with a lower-case currency.

Who may act (see README, "Companies and agreements"):

- owners manage the company and its members; owners and finance members act on money
  (create, sign and end agreements, record declarations and events, pay invoices); viewers
  read. When the company requires MFA, acting on money needs two-factor authentication on
  the member's account.
- FairOSS staff countersign, mark milestones met, record wires, and may record a company's
  declarations and events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from payouts.models import Inflow
from faiross.kernel.money import MAX_AMOUNT, amount_clean, currency_clean
from payouts.services import inflow_record
from payouts.stripe_client import stripe_client
from projects.models import slug_validator
from projects.selectors import invitation_is_for

from . import terms
from .models import (
    Agreement,
    AgreementSignature,
    CarryDistribution,
    Company,
    CompanyInvitation,
    CompanyMember,
    DividendDeclaration,
    Invoice,
    LiquidityEvent,
    Milestone,
)
from .selectors import MONEY_ROLES, company_role, user_has_mfa

log = logging.getLogger(__name__)

RESERVED_SLUGS = {"new", "groundwater", "invitations", "projects", "api", "admin"}
MAX_SHARE_MILLIBIPS = 5_000_000  # 50%: a larger share of a company's dividends, equity or
# carry is refused as absurd (README, Limits)
MAX_PROCEEDS = 10**15  # minor units: proceeds of a liquidity event, dividends, carry
MAX_DEVELOPERS = 100_000
MAX_MILESTONES = 20
MAX_SHARE_COUNT = 10**15
MAX_VESTING_MONTHS = 120
EARLIEST_DATE = dt.date(2000, 1, 1)
INVOICE_DAYS = 30


# --- helpers ----------------------------------------------------------------------------


def _int_clean(value: object, *, field: str, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: f"Give {what} as a whole number."})
    if not low <= value <= high:
        raise ValidationError(
            {field: f"{what[0].upper()}{what[1:]} must be from {low:,} to {high:,}."}
        )
    return value


def _date_clean(value: object, *, field: str, latest: dt.date | None = None) -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError({field: "Give a date as YYYY-MM-DD."}) from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationError({field: "Give a date as YYYY-MM-DD."})
    latest = latest or timezone.localdate() + dt.timedelta(days=366)
    if not EARLIEST_DATE <= value <= latest:
        raise ValidationError({field: f"The date must be from {EARLIEST_DATE} to {latest}."})
    return value


def _text_clean(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be text."})
    value = value.strip()
    if "\x00" in value:
        raise ValidationError({field: "NUL bytes are not allowed."})
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def _require_member(*, company: Company, user: User | AnonymousUser) -> str:
    role = company_role(slug=company.slug, user=user)
    if role is None:
        raise PermissionDenied("Only the company's members can do this.")
    return role


def _require_owner(*, company: Company, user: User | AnonymousUser) -> None:
    if company_role(slug=company.slug, user=user) != CompanyMember.Role.OWNER:
        raise PermissionDenied("Only the company's owners can do this.")


def require_money_actor(
    *, company: Company, user: User | AnonymousUser, allow_staff: bool = False
) -> None:
    """Owners and finance members act on money; with ``require_mfa``, only with MFA on.

    ``allow_staff``: FairOSS staff may act too (recording declarations, events, wires).
    """
    if allow_staff and getattr(user, "is_staff", False):
        return
    role = company_role(slug=company.slug, user=user)
    if role not in MONEY_ROLES:
        if role is None:
            raise PermissionDenied("Only the company's owners and finance members can do this.")
        raise PermissionDenied(
            "Viewers cannot act on money: ask an owner to make you a finance member."
        )
    if company.require_mfa and not user_has_mfa(user=user):
        raise PermissionDenied(
            f"{company.name} requires two-factor authentication for acting on money: "
            "turn it on in your account settings (Two-factor authentication) first."
        )


def _require_staff(user: User | AnonymousUser) -> None:
    if not getattr(user, "is_staff", False):
        raise PermissionDenied("Only FairOSS staff can do this.")


# --- companies --------------------------------------------------------------------------


def company_values_clean(
    *, slug: object, name: object, country: object, website: object, kind: object
) -> dict[str, str]:
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    slug = slug.strip().lower() if isinstance(slug, str) else ""
    try:
        slug_validator(slug)
        if slug in RESERVED_SLUGS:
            raise ValidationError(f"'{slug}' is reserved; choose another slug.")
    except ValidationError as exc:
        errors["slug"] = " ".join(exc.messages)
    values["slug"] = slug
    given = {"name": name, "country": country, "website": website}
    for field, length in (("name", 200), ("country", 2), ("website", 300)):
        try:
            values[field] = _text_clean(
                given[field], field=field, max_length=length, required=field == "name"
            )
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    if values.get("country"):
        values["country"] = values["country"].upper()
        if not (len(values["country"]) == 2 and values["country"].isalpha()):
            errors["country"] = "Give the two-letter ISO 3166 country code, e.g. US or DE."
    if values.get("website"):
        try:
            URLValidator(schemes=["http", "https"])(values["website"])
        except ValidationError:
            errors["website"] = "Give an http(s) address, e.g. https://example.com."
    if kind not in Company.Kind.values:
        errors["kind"] = f"Choose one of: {', '.join(Company.Kind.values)}."
    else:
        values["kind"] = str(kind)
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def company_create(
    *,
    creator: User,
    slug: str,
    name: str,
    country: str = "",
    website: str = "",
    kind: str = Company.Kind.STARTUP,
    require_mfa: bool = False,
) -> Company:
    """Create a company; its creator becomes its first owner."""
    if not creator.is_authenticated:
        raise PermissionDenied("Sign in to create a company.")
    values = company_values_clean(slug=slug, name=name, country=country, website=website, kind=kind)
    if Company.objects.filter(slug=values["slug"]).exists():
        raise ValidationError({"slug": f"The slug '{values['slug']}' is taken."})
    try:
        with transaction.atomic():
            company = Company.objects.create(
                **values, require_mfa=bool(require_mfa), created_by=creator
            )
    except IntegrityError:
        raise ValidationError({"slug": f"The slug '{values['slug']}' is taken."}) from None
    CompanyMember.objects.create(company=company, user=creator, role=CompanyMember.Role.OWNER)
    return company


@transaction.atomic
def company_update(
    *,
    company: Company,
    actor: User,
    name: str | None = None,
    country: str | None = None,
    website: str | None = None,
    kind: str | None = None,
    require_mfa: bool | None = None,
) -> Company:
    """Change a company's details (owners). The slug never changes."""
    _require_owner(company=company, user=actor)
    values = company_values_clean(
        slug=company.slug,
        name=company.name if name is None else name,
        country=company.country if country is None else country,
        website=company.website if website is None else website,
        kind=company.kind if kind is None else kind,
    )
    company = Company.objects.select_for_update().get(pk=company.pk)
    for field in ("name", "country", "website", "kind"):
        setattr(company, field, values[field])
    if require_mfa is not None:
        if not isinstance(require_mfa, bool):
            raise ValidationError({"require_mfa": "Must be true or false."})
        if require_mfa and not user_has_mfa(user=actor):
            raise ValidationError(
                {
                    "require_mfa": "Turn on two-factor authentication for your own account "
                    "before requiring it of everyone."
                }
            )
        company.require_mfa = require_mfa
    company.save()
    return company


def _find_user(target: str) -> User | None:
    from allauth.account.models import EmailAddress

    if "@" in target:
        address = EmailAddress.objects.filter(email__iexact=target, verified=True).first()
        return address.user if address else None
    return User.objects.filter(username__iexact=target).first()


@transaction.atomic
def company_invite(*, company: Company, actor: User, target: str, role: str) -> CompanyInvitation:
    """Invite someone by username or email address as owner, finance or viewer (owners)."""
    _require_owner(company=company, user=actor)
    if role not in CompanyMember.Role.values:
        raise ValidationError({"role": "Choose owner, finance or viewer."})
    target = (target or "").strip() if isinstance(target, str) else ""
    if not target or len(target) > 254 or "\x00" in target:
        raise ValidationError({"target": "Enter a username or an email address."})
    Company.objects.select_for_update().get(pk=company.pk)
    email = ""
    if "@" in target:
        try:
            validate_email(target)
        except ValidationError:
            raise ValidationError({"target": f"'{target}' is not a valid email address."}) from None
        email = target.lower()
    user = _find_user(target)
    if user is None and not email:
        raise ValidationError({"target": f"There is no FairOSS user named '{target}'."})
    if user is not None and CompanyMember.objects.filter(company=company, user=user).exists():
        raise ValidationError({"target": f"{target} is already a member of {company.name}."})
    pending = CompanyInvitation.objects.filter(
        company=company, status=CompanyInvitation.Status.PENDING
    )
    if (user is not None and pending.filter(user=user).exists()) or (
        email and pending.filter(email__iexact=email).exists()
    ):
        raise ValidationError({"target": f"{target} has already been invited."})
    invitation = CompanyInvitation.objects.create(
        company=company,
        email=email,
        user=user,
        role=role,
        token=secrets.token_urlsafe(32),
        invited_by=actor,
    )
    recipient = email or getattr(user, "email", "")
    if recipient:
        link = settings.SITE_URL + reverse(
            "companies:invitation", kwargs={"token": invitation.token}
        )
        transaction.on_commit(
            lambda: send_mail(
                subject=f"[FairOSS] You are invited to {company.name}",
                message=(
                    f"{actor} invites you to join {company.name} on FairOSS as {role}.\n\n"
                    f"Answer here: {link}\n"
                ),
                from_email=None,
                recipient_list=[recipient],
            )
        )
    return invitation


@transaction.atomic
def company_invitation_answer(
    *, invitation: CompanyInvitation, user: User, accept: bool
) -> CompanyMember | None:
    """Accept (returns the membership) or decline a pending invitation addressed to ``user``."""
    invitation = CompanyInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != CompanyInvitation.Status.PENDING:
        raise ValidationError({"invitation": f"This invitation is already {invitation.status}."})
    if not invitation_is_for(invitation=invitation, user=user):
        raise PermissionDenied(
            "This invitation is for someone else: sign in as the invited person, or verify "
            "the invited email address."
        )
    member = None
    if accept:
        member, _ = CompanyMember.objects.get_or_create(
            company=invitation.company, user=user, defaults={"role": invitation.role}
        )
    invitation.status = (
        CompanyInvitation.Status.ACCEPTED if accept else CompanyInvitation.Status.DECLINED
    )
    invitation.user = user
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "user", "answered_at"])
    return member


@transaction.atomic
def company_invitation_revoke(*, invitation: CompanyInvitation, actor: User) -> None:
    _require_owner(company=invitation.company, user=actor)
    invitation = CompanyInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != CompanyInvitation.Status.PENDING:
        raise ValidationError({"invitation": f"This invitation is already {invitation.status}."})
    invitation.status = CompanyInvitation.Status.REVOKED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])


@transaction.atomic
def company_invitations_attach_email(*, user: User, email: str) -> int:
    """Address pending email invitations to the user who just verified that address."""
    return CompanyInvitation.objects.filter(
        status=CompanyInvitation.Status.PENDING, email__iexact=email, user__isnull=True
    ).update(user=user)


@transaction.atomic
def company_member_set(
    *, company: Company, actor: User, user: User, role: str | None
) -> CompanyMember | None:
    """Change a member's role, or remove them (``role=None``). Owners may change anyone;
    anyone may leave. The last owner can never be removed or demoted."""
    if role is not None and role not in CompanyMember.Role.values:
        raise ValidationError({"role": "Choose owner, finance or viewer."})
    if not (actor.pk == user.pk and role is None):
        _require_owner(company=company, user=actor)
    rows = list(CompanyMember.objects.select_for_update().filter(company=company).order_by("pk"))
    target = next((m for m in rows if m.user_id == user.pk), None)
    if target is None:
        raise ValidationError({"user": f"{user} is not a member of {company.name}."})
    owners = [m for m in rows if m.role == CompanyMember.Role.OWNER]
    if target.role == CompanyMember.Role.OWNER and len(owners) == 1 and role != "owner":
        raise ValidationError(
            {"user": "The last owner cannot be removed or demoted: make someone else owner first."}
        )
    if role is None:
        target.delete()
        return None
    target.role = role
    target.save(update_fields=["role"])
    return target


# --- agreements: terms ------------------------------------------------------------------


def agreement_terms_clean(
    *, kind: object, company: Company, data: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Validate the terms of a new agreement; returns model field values and milestones.

    Every problem is reported at once, per field.
    """
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    milestones: list[tuple[str, int]] = []

    def check(_name: str, func: Any, /, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            return None

    if kind not in Agreement.Kind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(Agreement.Kind.values)}."})
    allowed = {
        "pledge": {"amount", "developers", "period"},
        "dividend": {"share_millibips"},
        "equity": {
            "share_millibips",
            "share_count",
            "share_class",
            "cliff_months",
            "vesting_months",
            "time_vesting_millibips",
            "milestones",
        },
        "carry": {"share_millibips", "fund_name"},
    }[str(kind)] | {"kind", "currency", "start_date", "end_date"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        errors["non_field_errors"] = [
            f"Unknown field(s) for a {kind} agreement: {', '.join(map(str, unknown))}."
        ]
    values["kind"] = kind
    values["currency"] = check("currency", currency_clean, currency=data.get("currency"))
    start = check("start_date", _date_clean, data.get("start_date"), field="start_date")
    values["start_date"] = start
    if data.get("end_date") not in (None, ""):
        end = check(
            "end_date",
            _date_clean,
            data.get("end_date"),
            field="end_date",
            latest=dt.date(2100, 1, 1),
        )
        if end and start and end <= start:
            errors.setdefault("end_date", []).append("The end date must be after the start date.")
        values["end_date"] = end
    if kind == Agreement.Kind.PLEDGE:
        amount = check("amount", amount_clean, amount=data.get("amount"))
        developers = check(
            "developers",
            _int_clean,
            data.get("developers", 1),
            field="developers",
            low=1,
            high=MAX_DEVELOPERS,
            what="the number of developers",
        )
        if amount and developers and amount * developers > MAX_AMOUNT:
            errors.setdefault("amount", []).append(
                f"The pledge per period (amount x developers) must be at most {MAX_AMOUNT:,} "
                "minor units."
            )
        period = data.get("period")
        if period not in Agreement.Period.values:
            errors.setdefault("period", []).append("Choose monthly, quarterly or yearly.")
        values.update(amount=amount, developers=developers, period=period)
    else:
        values["share_millibips"] = check(
            "share_millibips",
            _int_clean,
            data.get("share_millibips"),
            field="share_millibips",
            low=1,
            high=MAX_SHARE_MILLIBIPS,
            what="the share in millibips (100,000 = 1%)",
        )
    if kind == Agreement.Kind.CARRY:
        if company.kind != Company.Kind.VC_FUND:
            errors.setdefault("kind", []).append(
                "Carried-interest agreements are for VC funds; change the company's kind first."
            )
        values["fund_name"] = check(
            "fund_name", _text_clean, data.get("fund_name"), field="fund_name", max_length=200
        )
    if kind == Agreement.Kind.EQUITY:
        values["share_count"] = check(
            "share_count",
            _int_clean,
            data.get("share_count"),
            field="share_count",
            low=1,
            high=MAX_SHARE_COUNT,
            what="the number of shares",
        )
        values["share_class"] = check(
            "share_class", _text_clean, data.get("share_class"), field="share_class", max_length=60
        )
        cliff = check(
            "cliff_months",
            _int_clean,
            data.get("cliff_months", 0),
            field="cliff_months",
            low=0,
            high=MAX_VESTING_MONTHS,
            what="the cliff in months",
        )
        months = check(
            "vesting_months",
            _int_clean,
            data.get("vesting_months", 0),
            field="vesting_months",
            low=0,
            high=MAX_VESTING_MONTHS,
            what="the vesting period in months",
        )
        if cliff is not None and months is not None and cliff > months:
            errors.setdefault("cliff_months", []).append(
                f"The cliff ({cliff} months) cannot be longer than the vesting period "
                f"({months} months)."
            )
        time_part = check(
            "time_vesting_millibips",
            _int_clean,
            data.get("time_vesting_millibips", terms.WHOLE),
            field="time_vesting_millibips",
            low=0,
            high=terms.WHOLE,
            what="the part vesting over time, in millibips",
        )
        raw = data.get("milestones") or []
        if not isinstance(raw, list) or len(raw) > MAX_MILESTONES:
            errors.setdefault("milestones", []).append(
                f"Give at most {MAX_MILESTONES} milestones as a list of {{title, millibips}}."
            )
            raw = []
        for i, row in enumerate(raw, start=1):
            title = row.get("title") if isinstance(row, dict) else None
            part = row.get("millibips") if isinstance(row, dict) else None
            if (
                not isinstance(title, str)
                or not title.strip()
                or len(title) > 200
                or "\x00" in title
            ):
                errors.setdefault("milestones", []).append(
                    f"milestone {i}: give a title of 1 to 200 characters."
                )
                continue
            if isinstance(part, bool) or not isinstance(part, int) or not 0 < part <= terms.WHOLE:
                errors.setdefault("milestones", []).append(
                    f"milestone {i} ({title.strip()}): its part must be from 1 to 10,000,000 "
                    "millibips."
                )
                continue
            milestones.append((title.strip(), part))
        if time_part is not None and not errors.get("milestones"):
            total = time_part + sum(p for _, p in milestones)
            if total != terms.WHOLE:
                errors.setdefault("milestones", []).append(
                    f"Vesting must add up to 100%: the time-vesting part "
                    f"({time_part / 100_000:g}%) and the milestones "
                    f"({sum(p for _, p in milestones) / 100_000:g}%) add up to "
                    f"{total / 100_000:g}%."
                )
        if time_part and months == 0 and cliff:
            errors.setdefault("vesting_months", []).append("A cliff needs a vesting period.")
        values.update(cliff_months=cliff, vesting_months=months, time_vesting_millibips=time_part)
    if errors:
        raise ValidationError(errors)
    return values, milestones


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
    return AgreementSignature.objects.create(
        agreement=agreement,
        party=AgreementSignature.Party.COMPANY,
        user=actor,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:500],
        document_sha256=digest,
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
    AgreementSignature.objects.create(
        agreement=agreement,
        party=AgreementSignature.Party.FAIROSS,
        user=staff,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:500],
        document_sha256=agreement.document_sha256,
    )
    agreement.status = Agreement.Status.ACTIVE
    agreement.activated_at = timezone.now()
    agreement.save(update_fields=["status", "activated_at"])
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
    agreement.status = Agreement.Status.ENDED
    agreement.ended_at = timezone.now()
    agreement.ended_by = actor
    agreement.end_reason = reason
    agreement.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
    return agreement


@transaction.atomic
def milestone_mark_met(
    *, milestone: Milestone, staff: User, met_on: dt.date | None = None
) -> Milestone:
    """Staff mark an equity milestone met (once)."""
    _require_staff(staff)
    milestone = (
        Milestone.objects.select_for_update().select_related("agreement").get(pk=milestone.pk)
    )
    if milestone.met_on is not None:
        raise ValidationError(
            {"milestone": f"'{milestone.title}' was already met on {milestone.met_on}."}
        )
    if milestone.agreement.status not in (Agreement.Status.ACTIVE, Agreement.Status.SIGNED):
        raise ValidationError(
            {"milestone": "Milestones are marked on signed or active agreements only."}
        )
    met_on = _date_clean(
        met_on or timezone.localdate(), field="met_on", latest=timezone.localdate()
    )
    if met_on < milestone.agreement.start_date:
        raise ValidationError({"met_on": "A milestone cannot be met before the agreement starts."})
    milestone.met_on = met_on
    milestone.met_by = staff
    milestone.save(update_fields=["met_on", "met_by"])
    return milestone


def equity_vested_millibips(*, agreement: Agreement, on: dt.date) -> int:
    """The part of FairOSS's stake vested on ``on`` (time vesting + milestones met by then)."""
    time_part = terms.time_vested_millibips(
        start=agreement.start_date,
        cliff_months=agreement.cliff_months or 0,
        vesting_months=agreement.vesting_months or 0,
        time_millibips=agreement.time_vesting_millibips or 0,
        on=on,
    )
    milestones = (
        agreement.milestones.filter(met_on__isnull=False, met_on__lte=on).aggregate(
            t=Sum("millibips")
        )["t"]
        or 0
    )
    return min(terms.WHOLE, time_part + milestones)


# --- money due ----------------------------------------------------------------------------


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
    existing = Invoice.objects.filter(source_key=source_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                company=agreement.company,
                agreement=agreement,
                source_key=source_key,
                description=description[:300],
                amount=amount,
                currency=agreement.currency,
                issued_on=issued_on,
                due_on=max(issued_on, timezone.localdate()) + dt.timedelta(days=INVOICE_DAYS),
                period_start=period[0] if period else None,
                period_end=period[1] if period else None,
            )
    except IntegrityError:
        return Invoice.objects.get(source_key=source_key), False
    return invoice, True


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
    *, agreement: Agreement, amount: object, currency: object, on: object, field: str, on_field: str
) -> tuple[int, dt.date]:
    errors: dict[str, list[str]] = {}
    value = None
    day = None
    if isinstance(amount, bool) or not isinstance(amount, int):
        errors[field] = ["Give a whole number of minor units (cents)."]
    elif not 0 < amount <= MAX_PROCEEDS:
        errors[field] = [f"The amount must be from 1 to {MAX_PROCEEDS:,} minor units."]
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


def _due_clean(due: int, field: str) -> None:
    if due > MAX_AMOUNT:
        raise ValidationError(
            {
                field: f"FairOSS's part ({due:,}) is above the invoice limit of {MAX_AMOUNT:,} "
                "minor units; record it in parts."
            }
        )


def _share_event_record(
    *,
    agreement: Agreement,
    kind: str,
    actor: User,
    amount: object,
    currency: object,
    on: object,
    on_field: str,
    model: type[DividendDeclaration] | type[CarryDistribution],
    source_prefix: str,
    describe: str,
) -> DividendDeclaration | CarryDistribution:
    """Record money an agreement shares in (a dividend, realised carry); FairOSS's part
    ``floor(amount x share / 10,000,000)`` is invoiced once, under ``<source_prefix>:<id>``."""
    agreement = _active_agreement(agreement=agreement, kind=kind)
    require_money_actor(company=agreement.company, user=actor, allow_staff=True)
    amount, day = _event_values(
        agreement=agreement,
        amount=amount,
        currency=currency,
        on=on,
        field="amount",
        on_field=on_field,
    )
    due = terms.share_of(amount=amount, millibips=agreement.share_millibips or 0)
    _due_clean(due, "amount")
    record = model.objects.create(
        agreement=agreement,
        amount=amount,
        currency=agreement.currency,
        due_amount=due,
        recorded_by=actor,
        **{on_field: day},
    )
    if due > 0:
        record.invoice, _ = _invoice_create(
            agreement=agreement,
            source_key=f"{source_prefix}:{record.pk}",
            description=describe.format(reference=agreement.reference, day=day),
            amount=due,
        )
        record.save(update_fields=["invoice"])
    return record


@transaction.atomic
def dividend_declare(
    *,
    agreement: Agreement,
    actor: User,
    amount: object,
    currency: object,
    declared_on: object,
) -> DividendDeclaration:
    """Record a dividend the company declared; FairOSS's part
    ``floor(amount x share / 10,000,000)`` is invoiced once."""
    record = _share_event_record(
        agreement=agreement,
        kind=Agreement.Kind.DIVIDEND,
        actor=actor,
        amount=amount,
        currency=currency,
        on=declared_on,
        on_field="declared_on",
        model=DividendDeclaration,
        source_prefix="dividend",
        describe="Dividend share, {reference}: declared {day}",
    )
    assert isinstance(record, DividendDeclaration)
    return record


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
) -> LiquidityEvent:
    """Record a liquidity event of an equity agreement; FairOSS's money due is
    ``floor(proceeds x stake x portion / 10¹⁴)`` where ``proceeds`` is the price of 100% of
    the fully diluted shares and ``portion`` the part of FairOSS's stake sold (by default all
    of the vested, unsold part). Only vested, unsold stake can be sold. An acquisition ends
    the agreement (unvested stake lapses)."""
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
        portion = _int_clean(
            portion_millibips,
            field="portion_millibips",
            low=1,
            high=terms.WHOLE,
            what="the part of the stake sold, in millibips",
        )
    if portion > available or portion == 0:
        raise ValidationError(
            {
                "portion_millibips": f"Only vested, unsold stake can be sold: on {day} "
                f"{vested / 100_000:g}% is vested and {sold / 100_000:g}% already sold, so at "
                f"most {available / 100_000:g}% of the stake is available."
            }
        )
    due = terms.share_of_share(
        amount=proceeds, millibips=agreement.share_millibips or 0, portion_millibips=portion
    )
    _due_clean(due, "proceeds")
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
    if due > 0:
        event.invoice, _ = _invoice_create(
            agreement=agreement,
            source_key=f"liquidity:{event.pk}",
            description=f"{event.get_kind_display()}, {agreement.reference}: {day}",
            amount=due,
        )
        event.save(update_fields=["invoice"])
    if kind == LiquidityEvent.Kind.ACQUISITION:
        agreement.status = Agreement.Status.ENDED
        agreement.ended_at = timezone.now()
        agreement.ended_by = actor
        agreement.end_reason = f"Acquisition on {day}."
        agreement.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
    return event


@transaction.atomic
def carry_distribution_record(
    *,
    agreement: Agreement,
    actor: User,
    amount: object,
    currency: object,
    distributed_on: object,
) -> CarryDistribution:
    """Record realised carried interest; FairOSS's part
    ``floor(amount x share / 10,000,000)`` is invoiced once."""
    record = _share_event_record(
        agreement=agreement,
        kind=Agreement.Kind.CARRY,
        actor=actor,
        amount=amount,
        currency=currency,
        on=distributed_on,
        on_field="distributed_on",
        model=CarryDistribution,
        source_prefix="carry",
        describe="Carried interest, {reference}: {day}",
    )
    assert isinstance(record, CarryDistribution)
    return record


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


# --- money in -----------------------------------------------------------------------------


def _invoice_paid(
    *,
    invoice: Invoice,
    amount: int,
    currency: str,
    source: str,
    payment_reference: str,
    recorded_by: User | None = None,
) -> tuple[Invoice, bool]:
    """Mark ``invoice`` paid and record its inflow, once. Precondition: in a transaction.

    The inflow's reference is ``invoice:<id>``, so whatever confirms the payment first (the
    return from Checkout, the webhook, a replay, a wire) makes the one inflow and the others
    change nothing. Returns ``(invoice, newly paid)``.
    """
    invoice = Invoice.objects.select_for_update().select_related("company").get(pk=invoice.pk)
    if invoice.status == Invoice.Status.PAID:
        if invoice.payment_reference != payment_reference:
            log.warning(
                "invoice %s was paid again (%s, already paid by %s): refund by hand",
                invoice.number,
                payment_reference,
                invoice.payment_reference,
            )
        return invoice, False
    if invoice.status == Invoice.Status.VOID:
        raise ValidationError({"invoice": f"{invoice.number} is void."})
    if (amount, currency) != (invoice.amount, invoice.currency):
        raise ValidationError(
            {
                "amount": f"{invoice.number} is for {invoice.amount} {invoice.currency}; "
                f"the payment was {amount} {currency}."
            }
        )
    inflow, _ = inflow_record(
        company=invoice.company,
        amount=amount,
        currency=currency,
        reference=f"invoice:{invoice.pk}",
        source=source,
        recorded_by=recorded_by,
    )
    invoice.status = Invoice.Status.PAID
    invoice.paid_at = timezone.now()
    invoice.paid_via = source
    invoice.payment_reference = payment_reference[:200]
    invoice.inflow = inflow
    invoice.save(update_fields=["status", "paid_at", "paid_via", "payment_reference", "inflow"])
    return invoice, True


@transaction.atomic
def invoice_wire_received(*, invoice: Invoice, staff: User, reference: str = "") -> Invoice:
    """Staff record that an invoice was paid by wire; idempotent."""
    _require_staff(staff)
    reference = _text_clean(reference, field="reference", max_length=150, required=False)
    invoice, _ = _invoice_paid(
        invoice=invoice,
        amount=invoice.amount,
        currency=invoice.currency,
        source=Inflow.Source.WIRE,
        payment_reference=f"wire:{reference or invoice.number}",
        recorded_by=staff,
    )
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice, staff: User) -> Invoice:
    """Staff void an open invoice (money no longer due, e.g. issued in error)."""
    _require_staff(staff)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != Invoice.Status.OPEN:
        raise ValidationError({"invoice": f"{invoice.number} is {invoice.status}, not open."})
    invoice.status = Invoice.Status.VOID
    invoice.save(update_fields=["status"])
    return invoice


def _stripe() -> Any:

    return stripe_client()


def _stripe_unavailable(exc: Exception) -> ValidationError:
    log.warning("Stripe call failed: %s", exc)
    return ValidationError(
        {
            "invoice": "Stripe could not be reached or refused the request; try again in a "
            "moment, or pay by wire quoting the invoice number."
        }
    )


def invoice_checkout_start(
    *, invoice: Invoice, actor: User, success_url: str, cancel_url: str
) -> str:
    """See :func:`_invoice_checkout_start`; Stripe failures become a ValidationError."""
    import stripe

    try:
        return _invoice_checkout_start(
            invoice=invoice, actor=actor, success_url=success_url, cancel_url=cancel_url
        )
    except stripe.StripeError as exc:
        raise _stripe_unavailable(exc) from None


def _invoice_checkout_start(
    *, invoice: Invoice, actor: User, success_url: str, cancel_url: str
) -> str:
    """The Stripe Checkout page for an open invoice (owners and finance members).

    An open session of the invoice is reused (a double click opens the same page); a paid
    one is recorded; an expired one is replaced. Stripe calls carry idempotency keys
    ``invoice-<id>-checkout-<attempt>``.
    """
    require_money_actor(company=invoice.company, user=actor)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != Invoice.Status.OPEN:
            raise ValidationError({"invoice": f"{invoice.number} is {invoice.status}."})
        client = _stripe()
        if invoice.stripe_checkout_session:
            session = client.v1.checkout.sessions.retrieve(invoice.stripe_checkout_session)
            if session.status == "open" and session.url:
                return str(session.url)
            if session.status == "complete":
                _record_session(invoice=invoice, session=session)
                raise ValidationError({"invoice": f"{invoice.number} is already paid."})
        invoice.checkout_attempts += 1
        metadata = {"faiross_invoice": str(invoice.pk), "faiross_company": invoice.company.slug}
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": invoice.currency,
                            "unit_amount": invoice.amount,
                            "product_data": {
                                "name": f"FairOSS {invoice.number}: {invoice.description}"[:250]
                            },
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "client_reference_id": f"invoice-{invoice.pk}",
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
            },
            options={
                "idempotency_key": f"invoice-{invoice.pk}-checkout-{invoice.checkout_attempts}"
            },
        )
        invoice.stripe_checkout_session = session.id
        invoice.save(update_fields=["stripe_checkout_session", "checkout_attempts"])
        return str(session.url)


def _metadata(obj: Any, key: str) -> str:
    """A metadata value of a Stripe object, '' when missing."""
    metadata = getattr(obj, "metadata", None)
    if not metadata:
        return ""
    try:
        return str(metadata[key])
    except KeyError:
        return ""


def _record_session(*, invoice: Invoice, session: Any) -> bool:
    """Record a Checkout Session's payment if Stripe says it is paid; True when paid."""
    if session.status != "complete" or session.payment_status != "paid":
        return False
    if _metadata(session, "faiross_invoice") != str(invoice.pk):
        raise ValidationError({"session_id": "This Checkout Session is for another invoice."})
    _invoice_paid(
        invoice=invoice,
        amount=int(session.amount_total),
        currency=str(session.currency).lower(),
        source=Inflow.Source.STRIPE,
        payment_reference=f"stripe:{session.payment_intent or session.id}",
    )
    return True


def invoice_checkout_confirm(*, invoice: Invoice, session_id: str) -> bool:
    """On return from Checkout: look the session up at Stripe (never trust the URL) and
    record the payment if it is paid. True when the invoice is paid. Stripe failures become
    a ValidationError (the webhook records the payment later)."""
    import stripe

    try:
        return _invoice_checkout_confirm(invoice=invoice, session_id=session_id)
    except stripe.StripeError as exc:
        raise _stripe_unavailable(exc) from None


@transaction.atomic
def _invoice_checkout_confirm(*, invoice: Invoice, session_id: str) -> bool:
    if not isinstance(session_id, str) or not session_id.startswith("cs_") or len(session_id) > 100:
        raise ValidationError({"session_id": "This is not a Checkout Session id."})
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status == Invoice.Status.PAID:
        return True
    session = _stripe().v1.checkout.sessions.retrieve(session_id)
    return _record_session(invoice=invoice, session=session)


PAYMENT_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
}


@transaction.atomic
def stripe_payment_event_handle(*, event: dict) -> None:
    """Handle a verified Stripe payment event (called by the webhook endpoint).

    The object is looked up through the Stripe API rather than trusted from the payload;
    the invoice comes from its ``faiross_invoice`` metadata. Replays and duplicates change
    nothing (see :func:`_invoice_paid`). Events of other types, or for no FairOSS invoice,
    are ignored.
    """
    kind = event.get("type") if isinstance(event, dict) else None
    if kind not in PAYMENT_EVENTS:
        return
    obj = (event.get("data") or {}).get("object") or {}
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(object_id, str):
        return
    client = _stripe()
    if kind == "payment_intent.succeeded":
        intent = client.v1.payment_intents.retrieve(object_id)
        invoice_id = _metadata(intent, "faiross_invoice")
        invoice = (
            Invoice.objects.filter(pk=int(invoice_id)).first()
            if str(invoice_id or "").isdigit()
            else None
        )
        if invoice is None or intent.status != "succeeded":
            return
        try:
            _invoice_paid(
                invoice=invoice,
                amount=int(intent.amount_received or intent.amount),
                currency=str(intent.currency).lower(),
                source=Inflow.Source.STRIPE,
                payment_reference=f"stripe:{intent.id}",
            )
        except ValidationError as exc:
            log.error("Stripe event %s for %s not recorded: %s", event.get("id"), invoice, exc)
        return
    session = client.v1.checkout.sessions.retrieve(object_id)
    invoice_id = _metadata(session, "faiross_invoice")
    if not str(invoice_id or "").isdigit():
        return
    invoice = Invoice.objects.filter(pk=int(invoice_id)).first()
    if invoice is None:
        return
    try:
        _record_session(invoice=invoice, session=session)
    except ValidationError as exc:
        # A payment that does not match its invoice is for staff to look at; retrying the
        # event would not change it.
        log.error("Stripe event %s for %s not recorded: %s", event.get("id"), invoice, exc)
