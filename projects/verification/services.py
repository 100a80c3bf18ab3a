"""Recording proofs of ownership, claims of unclaimed placeholders, and what a proof does to
the other claims of the same packages.

Every function is keyword-only and runs in one transaction: it does all it says or raises
(``ValidationError`` with a per-field message dict, or ``PermissionDenied``) having changed
nothing. Checks that ask other hosts run before the transaction opens.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ..models import Membership, Project, ProjectPurl, ProjectVerification
from ..selectors import user_is_steward
from .checks import CHECKS, CheckResult
from .hosts import repository_key

Method = ProjectVerification.Method


def _contest_hint(project: Project) -> str:
    return (
        f"If it is yours, contest the ownership with the ombudsman office from the page of "
        f"'{project.slug}' ({settings.SITE_URL}{project.get_absolute_url()})."
    )


def repository_owner(*, repo_url: str, exclude: Project | None = None) -> Project | None:
    """The verified project whose proof covers the repository ``repo_url`` names, if any."""
    key = repository_key(repo_url)
    if not key:
        return None
    proofs = ProjectVerification.objects.filter(
        evidence__repository=key, project__verified_at__isnull=False
    ).select_related("project")
    if exclude is not None:
        proofs = proofs.exclude(project=exclude)
    proof = proofs.order_by("created_at", "pk").first()
    return proof.project if proof else None


def _mail(*, subject: str, body: str, addresses: list[str]) -> None:
    send_mail(subject=subject, message=body, from_email=None, recipient_list=addresses)


def _tell_stewards(losers: dict[Project, list[str]], winner: Project) -> None:
    """Mail the stewards of each project that lost package claims, once the proof commits."""
    for project, purls in losers.items():
        addresses = sorted(
            {
                m.user.email
                for m in project.memberships.filter(role=Membership.Role.STEWARD).select_related(
                    "user"
                )
                if m.user.email
            }
        )
        if not addresses:
            continue
        listed = "\n".join(f"  {p}" for p in purls)
        one = len(purls) == 1
        body = (
            f"The project '{winner.slug}' proved on FairOSS that it owns:\n{listed}\n\n"
            f"so {'it is' if one else 'they are'} no longer listed on your project "
            f"'{project.slug}'. Money for {'this package' if one else 'these packages'} "
            f"now reaches '{winner.slug}'.\n\n"
            f"If that is wrong, contest the ownership with the ombudsman office: "
            f"{settings.SITE_URL}{reverse('disputes:new')}?about=project:{winner.slug}"
            f"&kind=ownership\n"
        )
        subject = f"[FairOSS] {project.name}: a package was proved by another project"
        transaction.on_commit(partial(_mail, subject=subject, body=body, addresses=addresses))


def _take_purls(project: Project, purls: list[str]) -> dict[Project, list[str]]:
    """Make ``purls`` the verified packages of ``project``; remove other projects' unverified
    claims of them. Returns the projects that lost claims, with what they lost."""
    rows = list(
        ProjectPurl.objects.select_for_update()
        .filter(purl__in=purls)
        .select_related("project")
        .order_by("pk")
    )
    taken = [r for r in rows if r.verified and r.project_id != project.pk]
    if taken:
        raise ValidationError(
            {
                "purls": [
                    f"{r.purl} already belongs to the verified project '{r.project.slug}'. "
                    + _contest_hint(r.project)
                    for r in taken
                ]
            }
        )
    losers: dict[Project, list[str]] = defaultdict(list)
    for row in rows:
        if row.project_id == project.pk:
            continue
        losers[row.project].append(row.purl)
        row.delete()
    try:
        with transaction.atomic():
            ProjectPurl.objects.filter(project=project, purl__in=purls).update(verified=True)
    except IntegrityError:
        # Another project's proof of the same package committed a moment ago.
        raise ValidationError(
            {"purls": ["Another project just proved one of these packages; reload the page."]}
        ) from None
    return dict(losers)


@transaction.atomic
def project_verify(
    *,
    project: Project,
    method: str,
    user: User | None,
    evidence: dict[str, Any],
    note: str = "",
) -> ProjectVerification:
    """Record a proof of control of ``project`` and make the project verified.

    Preconditions: the proof was checked (by :mod:`.checks`, or by staff: ``method="staff"``
    with a ``note``); the project is claimed (a placeholder is verified by
    :func:`project_claim`). ``evidence["purls"]`` lists the packages the proof covers and
    ``evidence["repository"]`` the repository (a ``github.com/<owner>/<name>`` key or '').
    Invariants: proofs are append-only; ``verified_at`` is the first proof's time (money has
    moved since then) and ``verification`` the latest proof; the covered packages become the
    project's alone (verified ``ProjectPurl`` rows, one per package by a database constraint),
    other projects' unverified claims of them are removed and their stewards are mailed; a
    package or repository another verified project owns is refused (an ownership dispute is
    the way to contest it).
    """
    if method not in Method.values:
        raise ValidationError({"method": f"Choose one of: {', '.join(Method.values)}."})
    note = (note or "").strip()
    if method == Method.STAFF and not note:
        raise ValidationError({"note": "Say what was checked (a note is required)."})
    if len(note) > 2000:
        raise ValidationError({"note": "A note may be at most 2000 characters."})
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status != Project.Status.CLAIMED:
        raise ValidationError(
            {"project": "An unclaimed project is verified when someone claims it with a proof."}
        )
    repository = str(evidence.get("repository") or "")
    if repository:
        owner = repository_owner(repo_url=f"https://{repository}", exclude=project)
        if owner is not None:
            raise ValidationError(
                {
                    "repository": f"The repository {repository} belongs to the verified project "
                    f"'{owner.slug}'. " + _contest_hint(owner)
                }
            )
    own = set(project.purls.values_list("purl", flat=True))
    purls = sorted(own & set(evidence.get("purls", [])))
    losers = _take_purls(project, purls)
    proof = ProjectVerification.objects.create(
        project=project,
        method=method,
        user=user,
        evidence={**evidence, "purls": purls},
        note=note,
    )
    project.verification = proof
    if project.verified_at is None:
        project.verified_at = timezone.now()
    project.save(update_fields=["verification", "verified_at"])
    _tell_stewards(losers, project)
    return proof


def _may_check(project: Project, user: User) -> None:
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied("Sign in to prove ownership.")
    if project.status == Project.Status.CLAIMED and not user_is_steward(user=user, project=project):
        raise PermissionDenied("Only the project's stewards can verify it.")


def verification_check(*, project: Project, user: User, method: str) -> CheckResult:
    """Run the automatic check ``method`` (``repo_token``, ``github``, ``registry``) for
    ``user`` on ``project``, changing nothing.

    Preconditions: ``user`` is a steward (or, for an unclaimed project, any signed-in person).
    Raises ``ValidationError({method: [why]})`` when the proof fails.
    """
    _may_check(project, user)
    check = CHECKS.get(method)  # type: ignore[call-overload]
    if check is None:
        raise ValidationError({"method": "Choose repo_token, github or registry."})
    return check(project=project, user=user)


def project_verify_by_check(*, project: Project, user: User, method: str) -> ProjectVerification:
    """Check ``method`` for ``user`` (a steward) and, when it holds, record it with
    :func:`project_verify`. For an unclaimed placeholder this is :func:`project_claim`.

    The hosts are asked before any row is locked, so a slow host holds no lock.
    """
    if project.status == Project.Status.UNCLAIMED:
        return project_claim(project=project, user=user, method=method)
    result = verification_check(project=project, user=user, method=method)
    return project_verify(project=project, method=method, user=user, evidence=result.evidence)


def project_verify_by_staff(*, project: Project, staff: User, note: str) -> ProjectVerification:
    """Staff verify ``project`` by hand (method ``staff``); ``note`` says what they checked.

    Preconditions: ``staff.is_staff``. The proof covers all the project's packages and its
    repository URL (staff checked them).
    """
    if not (staff.is_authenticated and staff.is_active and staff.is_staff):
        raise PermissionDenied("Only FairOSS staff can verify a project by hand.")
    purls = list(project.purls.values_list("purl", flat=True))
    evidence = {
        "method": Method.STAFF,
        "purls": purls,
        "repository": repository_key(project.repo_url),
        "by": staff.get_username(),
    }
    return project_verify(
        project=project, method=Method.STAFF, user=staff, evidence=evidence, note=note
    )


def project_claim(*, project: Project, user: User, method: str) -> ProjectVerification:
    """Claim the unclaimed placeholder ``project`` with a proof: ``user`` becomes its first
    steward, the project claimed and verified, in one transaction (its escrow is then the
    project's, moved on by the payouts side).

    Preconditions: the project is unclaimed; the check ``method`` holds for ``user``.
    Invariants: the same proof as for any project; a claimed project has a steward; a
    repository the proof or the registry names fills an empty repository URL.
    """
    result = verification_check(project=project, user=user, method=method)
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.status != Project.Status.UNCLAIMED:
            raise ValidationError({"project": "Someone claimed this project a moment ago."})
        repository = str(
            result.evidence.get("repository") or result.evidence.get("repository_named") or ""
        )
        locked.status = Project.Status.CLAIMED
        fields = ["status"]
        if not locked.repo_url and repository:
            locked.repo_url = f"https://{repository}"
            fields.append("repo_url")
        locked.save(update_fields=fields)
        Membership.objects.get_or_create(
            project=locked, user=user, defaults={"role": Membership.Role.STEWARD}
        )
        return project_verify(
            project=locked,
            method=method,
            user=user,
            evidence={**result.evidence, "claimed": True},
        )
