from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from faiross.kernel.forms import form_add_service_errors, form_initial, form_service_saved
from faiross.kernel.page_cache import public_page
from faiross.kernel.recipients import project_key

from . import explore, selectors, services
from .auth import signed_in_user
from .dependency_selectors import project_dependency_links
from .forms import (
    InviteForm,
    ProjectBasicsForm,
    ProjectEditForm,
    ProjectLinksForm,
    ProjectPackagesForm,
)
from .models import Invitation, Membership, Project
from .notifications import approval_todos
from .verification.selectors import verification_summary

User = get_user_model()

WIZARD_STEPS = [
    ("basics", "Name", ProjectBasicsForm),
    ("links", "Links", ProjectLinksForm),
    ("packages", "Packages", ProjectPackagesForm),
]
WIZARD_SESSION_KEY = "project_wizard"


@public_page
def home(request: HttpRequest) -> HttpResponse:
    # Newest first by primary key: an index read, whatever the number of projects.
    projects = selectors.project_list().order_by("-pk")[:8]
    return render(request, "home.html", {"projects": projects})


@public_page
def project_list(request: HttpRequest) -> HttpResponse:
    """Explore: search, filters and a bounded, uncounted page (see projects/explore.py)."""
    funders = explore.explore_funders.fn()
    query = explore.explore_query_parse(
        params=request.GET, funder_slugs={slug for slug, _ in funders}
    )
    page = selectors.project_explore(query=query)
    return render(
        request,
        "projects/list.html",
        {
            "query": query,
            "page": page,
            "q": query.q,
            "funders": funders,
            "ecosystems": explore.ECOSYSTEMS,
            "received_choices": explore.RECEIVED_CHOICES,
            "sorts": explore.SORTS,
            "currencies": settings.FAIROSS_CURRENCIES,
            "previous_url": query.url_params(page=query.page - 1) if query.page > 1 else None,
            "next_url": query.url_params(page=query.page + 1)
            if page.has_next and query.page < explore.MAX_PAGE
            else None,
            "at_last_page": page.has_next and query.page >= explore.MAX_PAGE,
        },
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    return render(
        request,
        "projects/dashboard.html",
        {
            "memberships": selectors.projects_of_user(user=user),
            "invitations": selectors.invitations_for_user(user=user),
            "approvals": approval_todos(user=user),
        },
    )


@login_required
def project_new(request: HttpRequest, step: str = "basics") -> HttpResponse:
    """A three-step wizard; answers live in the session until the last step creates the project."""
    names = [s[0] for s in WIZARD_STEPS]
    if step not in names:
        return redirect("projects:new")
    index = names.index(step)
    _, title, form_class = WIZARD_STEPS[index]
    data = request.session.get(WIZARD_SESSION_KEY, {})
    if index > 0 and "basics" not in data:
        return redirect("projects:new")
    if request.method == "POST":
        if "back" in request.POST and index > 0:
            return redirect("projects:new_step", step=names[index - 1])
        form = form_class(request.POST)
        if form.is_valid():
            data[step] = form.cleaned_data
            values = {k: v for part in data.values() for k, v in part.items()}
            purls = [p.strip() for p in values.get("purls", "").splitlines() if p.strip()]
            try:
                services.project_validate(
                    slug=values.get("slug", ""),
                    name=values.get("name", ""),
                    repo_url=values.get("repo_url", ""),
                    homepage=values.get("homepage", ""),
                    description=values.get("description", ""),
                    purls=purls,
                )
            except ValidationError as exc:
                # Only the errors about this step's fields stop this step.
                own = {f: m for f, m in exc.message_dict.items() if f in form.fields}
                if own:
                    form_add_service_errors(form, ValidationError(own))
                    return _wizard_page(request, index, title, form)
            request.session[WIZARD_SESSION_KEY] = data
            if index + 1 < len(WIZARD_STEPS):
                return redirect("projects:new_step", step=names[index + 1])
            try:
                project = services.project_create(
                    creator=signed_in_user(request),
                    slug=values["slug"],
                    name=values["name"],
                    repo_url=values.get("repo_url", ""),
                    homepage=values.get("homepage", ""),
                    description=values.get("description", ""),
                    purls=purls,
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("projects:new")
            request.session.pop(WIZARD_SESSION_KEY, None)
            messages.success(request, f"{project.name} is on FairOSS. You are its steward.")
            return redirect(project)
    else:
        form = form_class(initial=data.get(step, {}))
    return _wizard_page(request, index, title, form)


def _wizard_page(request: HttpRequest, index: int, title: str, form) -> HttpResponse:  # type: ignore[no-untyped-def]
    data = request.session.get(WIZARD_SESSION_KEY, {})
    return render(
        request,
        "projects/wizard.html",
        {
            "form": form,
            "steps": [(i, s[1]) for i, s in enumerate(WIZARD_STEPS)],
            "index": index,
            "title": title,
            "last": index == len(WIZARD_STEPS) - 1,
            "summary": {k: v for part in data.values() for k, v in part.items()},
        },
    )


@public_page
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    members = project.memberships.select_related("user").order_by("role", "user__username")
    is_steward = selectors.user_is_steward(user=request.user, project=project)
    table = selectors.table_view(owner_key=project_key(project.slug))
    context = {
        "project": project,
        "stewards": [m for m in members if m.role == Membership.Role.STEWARD],
        "maintainers": [m for m in members if m.role == Membership.Role.MAINTAINER],
        "is_steward": is_steward,
        "is_member": selectors.user_is_member(user=request.user, project=project),
        "table": table,
        "verification": verification_summary(project=project),
        "links": project_dependency_links(project=project, table=table),
    }
    if is_steward:
        context["invite_form"] = InviteForm()
        context["pending"] = project.invitations.filter(
            status=Invitation.Status.PENDING
        ).select_related("user")
    return render(request, "projects/detail.html", context)


@login_required
def project_edit(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    if not selectors.user_is_steward(user=request.user, project=project):
        raise PermissionDenied("Only the project's stewards can change it.")
    if request.method == "POST":
        form = ProjectEditForm(request.POST)
        if form_service_saved(
            form,
            lambda: services.project_update(
                project=project,
                actor=signed_in_user(request),
                **{**form.cleaned_data, "purls": form.purl_list()},
            ),
        ):
            messages.success(request, "Project saved.")
            return redirect(project)
    else:
        purls = "\n".join(project.purls.values_list("purl", flat=True))
        form = ProjectEditForm(initial=form_initial(ProjectEditForm, project, purls=purls))
    return render(request, "projects/edit.html", {"project": project, "form": form})


@login_required
@require_POST
def project_invite(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.project_invite(
                project=project,
                actor=signed_in_user(request),
                target=form.cleaned_data["target"],
                role=form.cleaned_data["role"],
            )
        except ValidationError as exc:
            for msg in exc.messages:
                messages.error(request, msg)
        else:
            messages.success(request, f"Invited {invitation.target} as {invitation.role}.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect(project)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    user = get_object_or_404(User, username=username)
    try:
        services.membership_remove(project=project, actor=signed_in_user(request), user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{username} is no longer a member of {project.name}.")
    return redirect(project)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk, project__slug=slug)
    try:
        services.invitation_revoke(invitation=invitation, actor=signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invitation of {invitation.target} revoked.")
    return redirect(invitation.project)


@login_required
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.select_related("project"), token=token)
    if request.method == "POST":
        try:
            if "decline" in request.POST:
                services.invitation_decline(invitation=invitation, user=signed_in_user(request))
                messages.info(request, f"You declined the invitation to {invitation.project.name}.")
                return redirect("dashboard")
            services.invitation_accept(invitation=invitation, user=signed_in_user(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("dashboard")
        messages.success(request, f"Welcome to {invitation.project.name}.")
        return redirect(invitation.project)
    return render(request, "projects/invitation.html", {"invitation": invitation})
