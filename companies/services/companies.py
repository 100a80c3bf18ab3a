"""Companies and their people: onboarding, details, invitations, members and roles.

Owners manage the company and its members; anyone may leave; the last owner always stays.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from projects.models import slug_validator
from projects.selectors import invitation_is_for, invitee_find

from ..models import Company, CompanyInvitation, CompanyMember
from ..selectors import user_has_mfa
from ._common import _require_owner, _text_clean

RESERVED_SLUGS = {"new", "groundwater", "invitations", "projects", "api", "admin"}


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
    user, email = invitee_find(target=target)
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


def _pending_invitation(invitation: CompanyInvitation) -> CompanyInvitation:
    """The invitation, locked; refused unless it is still pending."""
    invitation = CompanyInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != CompanyInvitation.Status.PENDING:
        raise ValidationError({"invitation": f"This invitation is already {invitation.status}."})
    return invitation


@transaction.atomic
def company_invitation_answer(
    *, invitation: CompanyInvitation, user: User, accept: bool
) -> CompanyMember | None:
    """Accept (returns the membership) or decline a pending invitation addressed to ``user``."""
    invitation = _pending_invitation(invitation)
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
    invitation = _pending_invitation(invitation)
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
