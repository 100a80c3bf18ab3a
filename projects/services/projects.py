"""Operations that change projects, their members and invitations.

Every function is keyword-only, runs in one database transaction and either does all it says
or raises (``ValidationError`` with a per-field message dict, or ``PermissionDenied``) having
changed nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, NotRequired, TypedDict, Unpack, cast, get_args

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from ..models import Invitation, Membership, Project, ProjectPurl, slug_validator
from ..purls import PurlError, purl_normalize
from ..selectors import user_is_steward
from ..verification.services import repository_owner
from .invitations import (
    invitation_close,
    invitation_create,
    invitation_lock_for,
    invitation_lock_pending,
    invitations_attach,
)

MAX_PURLS = 50


class ProjectValues(TypedDict):
    """The cleaned fields ``project_validate`` returns (``slug`` only when it was checked)."""

    slug: NotRequired[str]
    name: str
    repo_url: str
    homepage: str
    description: str
    purls: list[str]


# What a steward may change (the slug never changes; the package URLs are rows of their own).
DetailField = Literal["name", "repo_url", "homepage", "description"]
DETAIL_FIELDS: tuple[DetailField, ...] = get_args(DetailField)

RESERVED_SLUGS = frozenset(
    {"new", "api", "admin", "accounts", "mine", "search", "static", "invitations"}
)


def _clean_slug(slug: str) -> str:
    slug = (slug or "").strip()
    try:
        slug_validator(slug)
    except ValidationError:
        raise ValidationError({"slug": slug_validator.message}) from None
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"'{slug}' is reserved; choose another slug."})
    return slug


def _clean_url(field: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ValidationError(
            {field: f"'{value}' is not a valid http(s) URL, e.g. https://github.com/org/repo."}
        ) from None
    if len(value) > 300:
        raise ValidationError({field: "A URL may be at most 300 characters."})
    return value


def purls_clean(*, values: Iterable[str], project: Project | None = None) -> list[str]:
    """Normalise and check package URLs; each may belong to one project only.

    Raises ``ValidationError({"purls": [...]})`` naming each bad value.
    """
    cleaned: list[str] = []
    errors: list[str] = []
    for raw in values:
        if not (raw or "").strip():
            continue
        try:
            purl = purl_normalize(value=raw)
        except PurlError as exc:
            errors.append(str(exc))
            continue
        if purl in cleaned:
            errors.append(f"{purl} is listed twice.")
            continue
        cleaned.append(purl)
    if len(cleaned) > MAX_PURLS:
        errors.append(f"A project may list at most {MAX_PURLS} package URLs.")
    # Unverified claims of one package may coexist until one project proves it; a proved
    # package is that project's alone (projects/verification/services.py).
    taken = ProjectPurl.objects.filter(purl__in=cleaned, verified=True)
    if project is not None:
        taken = taken.exclude(project=project)
    for row in taken.select_related("project"):
        errors.append(
            f"{row.purl} belongs to the verified project '{row.project.slug}'. If it is "
            f"yours, contest the ownership with the ombudsman office from that project's page."
        )
    if errors:
        raise ValidationError({"purls": errors})
    return cleaned


def _repository_free(repo_url: str, project: Project | None) -> str:
    """A repository a verified project proved is that project's alone."""
    owner = repository_owner(repo_url=repo_url, exclude=project)
    if owner is not None:
        raise ValidationError(
            {
                "repo_url": f"{repo_url} is the repository of the verified project "
                f"'{owner.slug}'. If it is yours, contest the ownership with the ombudsman "
                "office from that project's page."
            }
        )
    return repo_url


def project_validate(
    *,
    slug: str,
    name: str,
    repo_url: str = "",
    homepage: str = "",
    description: str = "",
    purls: Iterable[str] = (),
    project: Project | None = None,
) -> ProjectValues:
    """Check every field of a project at once and return the cleaned values.

    Raises one ``ValidationError`` whose dict names every bad field. A package or repository
    that another, verified project proved is refused; unverified claims may coexist.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def check(field: str, fn):  # type: ignore[no-untyped-def]
        try:
            cleaned[field] = fn()
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.message_dict.get(field, exc.messages))

    if project is None or slug != project.slug:
        check("slug", lambda: _clean_slug(slug))
        if "slug" in cleaned and Project.objects.filter(slug=cleaned["slug"]).exists():
            errors.setdefault("slug", []).append(f"The slug '{slug}' is already taken.")
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the project a name."]
    elif len(name) > 120:
        errors["name"] = ["A name may be at most 120 characters."]
    cleaned["name"] = name
    check("repo_url", lambda: _repository_free(_clean_url("repo_url", repo_url), project))
    check("homepage", lambda: _clean_url("homepage", homepage))
    description = (description or "").strip()
    if len(description) > 2000:
        errors["description"] = ["A description may be at most 2000 characters."]
    cleaned["description"] = description
    check("purls", lambda: purls_clean(values=purls, project=project))
    if errors:
        raise ValidationError(errors)
    return cast(ProjectValues, cleaned)


class ProjectOptionalFields(TypedDict, total=False):
    """The fields a new project may leave out (``project_validate``'s defaults)."""

    repo_url: str
    homepage: str
    description: str
    purls: Iterable[str]


@transaction.atomic
def project_create(
    *, creator: User, slug: str, name: str, **optional: Unpack[ProjectOptionalFields]
) -> Project:
    """Onboard a project; the creator becomes its first steward.

    Invariant: a claimed project always has at least one steward.
    """
    values = project_validate(slug=slug, name=name, **optional)
    try:
        with transaction.atomic():
            project = Project.objects.create(
                slug=values["slug"],
                **{field: values[field] for field in DETAIL_FIELDS},
                status=Project.Status.CLAIMED,
                created_by=creator,
            )
            ProjectPurl.objects.bulk_create(
                [ProjectPurl(project=project, purl=p) for p in values["purls"]]
            )
    except IntegrityError:
        # Lost a race with another request for the same slug or purl.
        raise ValidationError(
            {"slug": f"The slug '{slug}' or one of the package URLs was just taken."}
        ) from None
    Membership.objects.create(project=project, user=creator, role=Membership.Role.STEWARD)
    return project


@transaction.atomic
def project_update(
    *,
    project: Project,
    actor: User,
    name: str | None = None,
    repo_url: str | None = None,
    homepage: str | None = None,
    description: str | None = None,
    purls: Iterable[str] | None = None,
) -> Project:
    """Change a project's details. Only stewards may; the slug never changes."""
    if not user_is_steward(user=actor, project=project):
        raise PermissionDenied("Only the project's stewards can change it.")
    project = Project.objects.select_for_update().get(pk=project.pk)
    current_purls = list(project.purls.values_list("purl", flat=True))
    values = project_validate(
        slug=project.slug,
        name=project.name if name is None else name,
        repo_url=project.repo_url if repo_url is None else repo_url,
        homepage=project.homepage if homepage is None else homepage,
        description=project.description if description is None else description,
        purls=current_purls if purls is None else list(purls),
        project=project,
    )
    for field in DETAIL_FIELDS:
        setattr(project, field, values[field])
    project.save(update_fields=list(DETAIL_FIELDS))
    if purls is not None:
        new = set(values["purls"])
        project.purls.exclude(purl__in=new).delete()
        ProjectPurl.objects.bulk_create(
            [ProjectPurl(project=project, purl=p) for p in sorted(new - set(current_purls))]
        )
    return project


@transaction.atomic
def project_invite(*, project: Project, actor: User, target: str, role: str) -> Invitation:
    """Invite a person, by username or email address, as steward or maintainer.

    Preconditions: ``actor`` is a steward. A username must exist; an email address need not
    (the invitation waits for whoever verifies that address).
    Invariant: at most one pending invitation per person per project; members are not invited.
    """
    if not user_is_steward(user=actor, project=project):
        raise PermissionDenied("Only the project's stewards can invite people.")
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose 'steward' or 'maintainer'."})
    target = (target or "").strip()
    if not target:
        raise ValidationError({"target": "Enter a username or an email address."})
    return invitation_create(
        group=project,
        members=project.memberships,
        invitations=project.invitations,
        target=target,
        role=role,
        actor=actor,
        answer_url_name="projects:invitation",
        already_invited="has already been invited and has not answered yet.",
    )


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Accept a pending invitation addressed to ``user`` (by name or verified email)."""
    invitation = invitation_lock_for(
        invitation,
        user=user,
        someone_else="This invitation is for someone else: sign in as the invited person, or "
        "verify the invited email address in your account settings.",
    )
    membership, _ = Membership.objects.get_or_create(
        project=invitation.project, user=user, defaults={"role": invitation.role}
    )
    invitation_close(invitation, status=Invitation.Status.ACCEPTED, user=user)
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, user: User) -> None:
    invitation = invitation_lock_for(
        invitation, user=user, someone_else="This invitation is for someone else."
    )
    invitation_close(invitation, status=Invitation.Status.DECLINED)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    if not user_is_steward(user=actor, project=invitation.project):
        raise PermissionDenied("Only the project's stewards can revoke invitations.")
    invitation_close(invitation_lock_pending(invitation), status=Invitation.Status.REVOKED)


@transaction.atomic
def membership_remove(*, project: Project, actor: User, user: User) -> None:
    """Remove a member. Stewards may remove anyone; anyone may leave.

    Invariant: the last steward can never be removed, so a claimed project keeps a steward.
    """
    if actor.pk != user.pk and not user_is_steward(user=actor, project=project):
        raise PermissionDenied("Only the project's stewards can remove members.")
    # Lock every membership row of the project in a fixed order, so two concurrent
    # removals cannot both see "another steward remains".
    rows = list(Membership.objects.select_for_update().filter(project=project).order_by("pk"))
    target = next((m for m in rows if m.user_id == user.pk), None)
    if target is None:
        raise ValidationError({"user": f"{user} is not a member of {project.name}."})
    stewards = [m for m in rows if m.role == Membership.Role.STEWARD]
    if target.role == Membership.Role.STEWARD and len(stewards) == 1:
        raise ValidationError(
            {"user": "The last steward cannot be removed: make someone else steward first."}
        )
    target.delete()


@transaction.atomic
def invitations_attach_email(*, user: User, email: str) -> int:
    """Address pending email invitations to the user who just verified that address."""
    return invitations_attach(Invitation.objects, user=user, email=email)
