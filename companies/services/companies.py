"""Companies and their people: onboarding, details, invitations, members and roles.

Owners manage the company and its members; anyone may leave; the last owner always stays.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from projects.models import slug_validator
from projects.services.invitations import (
    invitation_close,
    invitation_create,
    invitation_lock_for,
    invitation_lock_pending,
    invitations_attach,
)

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
    return invitation_create(
        group=company,
        members=company.members,
        invitations=company.invitations,
        target=target,
        role=role,
        actor=actor,
        answer_url_name="companies:invitation",
        already_invited="has already been invited.",
    )


@transaction.atomic
def company_invitation_answer(
    *, invitation: CompanyInvitation, user: User, accept: bool
) -> CompanyMember | None:
    """Accept (returns the membership) or decline a pending invitation addressed to ``user``."""
    invitation = invitation_lock_for(
        invitation,
        user=user,
        someone_else="This invitation is for someone else: sign in as the invited person, or "
        "verify the invited email address.",
    )
    member = None
    if accept:
        member, _ = CompanyMember.objects.get_or_create(
            company=invitation.company, user=user, defaults={"role": invitation.role}
        )
    invitation_close(
        invitation,
        status=CompanyInvitation.Status.ACCEPTED if accept else CompanyInvitation.Status.DECLINED,
        user=user,
    )
    return member


@transaction.atomic
def company_invitation_revoke(*, invitation: CompanyInvitation, actor: User) -> None:
    _require_owner(company=invitation.company, user=actor)
    invitation_close(invitation_lock_pending(invitation), status=CompanyInvitation.Status.REVOKED)


@transaction.atomic
def company_invitations_attach_email(*, user: User, email: str) -> int:
    """Address pending email invitations to the user who just verified that address."""
    return invitations_attach(CompanyInvitation.objects, user=user, email=email)


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
