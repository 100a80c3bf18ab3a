"""The verification page: how to prove ownership of a project, and the buttons that check.

Thin: the rules are in :mod:`projects.verification`.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import selectors
from .auth import signed_in_user
from .models import Project, ProjectVerification
from .verification import project_verify_by_check, verification_token
from .verification.checks import TOKEN_FILES, user_github_login
from .verification.hosts import github_repo_parse, registry_supported
from .verification.selectors import purl_claims, verification_summary

Method = ProjectVerification.Method
CHECK_METHODS = (Method.REPO_TOKEN, Method.GITHUB, Method.REGISTRY)


def _github_sign_in_offered(request: HttpRequest) -> bool:
    """Whether a GitHub sign-in is configured (without one its login page cannot work)."""
    from allauth.socialaccount.adapter import get_adapter

    try:
        return bool(get_adapter(request).list_apps(request, provider="github"))
    except Exception:  # a misconfigured provider simply is not offered
        return False


def _page(
    request: HttpRequest, project: Project, *, errors: dict[str, list[str]] | None = None
) -> HttpResponse:
    user = signed_in_user(request)
    unclaimed = project.status == Project.Status.UNCLAIMED
    if not unclaimed and not selectors.user_is_steward(user=user, project=project):
        raise PermissionDenied("Only the project's stewards can verify it.")
    token = verification_token(project=project, user=user)
    claims = purl_claims(project=project)
    context: dict[str, Any] = {
        "project": project,
        "unclaimed": unclaimed,
        "summary": verification_summary(project=project),
        "token": token,
        "toml_line": f'verification = "{token}"',
        "token_files": TOKEN_FILES,
        "repo": github_repo_parse(project.repo_url),
        "claims": claims,
        "registry_purls": [c["purl"] for c in claims if registry_supported(str(c["purl"]))],
        "github_login": user_github_login(user=user),
        "github_connected": SocialAccount.objects.filter(user=user, provider="github").exists(),
        "github_offered": _github_sign_in_offered(request),
        "errors": errors or {},
        "methods": CHECK_METHODS,
    }
    return render(request, "projects/verify.html", context, status=400 if errors else 200)


@login_required
def project_verification(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("verification"), slug=slug)
    return _page(request, project)


@login_required
@require_POST
def project_verification_check(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("verification"), slug=slug)
    method = request.POST.get("method", "")
    was_unclaimed = project.status == Project.Status.UNCLAIMED
    try:
        proof = project_verify_by_check(
            project=project, user=signed_in_user(request), method=method
        )
    except ValidationError as exc:
        errors = {
            (field if field in CHECK_METHODS else method or "method"): [str(m) for m in msgs]
            for field, msgs in exc.message_dict.items()
        }
        return _page(request, project, errors=errors)
    proved = proof.evidence.get("purls", [])
    what = f" The proof covers {', '.join(proved)}." if proved else ""
    if was_unclaimed:
        messages.success(
            request,
            f"You claimed {project.name} and are its steward: ownership verified "
            f"({proof.get_method_display().lower()}).{what}",
        )
    else:
        messages.success(
            request,
            f"Ownership of {project.name} is verified ({proof.get_method_display().lower()})."
            + what,
        )
    return redirect(project)
