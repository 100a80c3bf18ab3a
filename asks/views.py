"""Pages of company asks: a company's requests and contacts, filing, one request with its
steps, a project's requests, the contributor profile and the contributor search. Thin: the
services decide; errors come back onto the forms or as messages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from companies.models import Company, Milestone
from faiross.kernel.forms import form_add_service_errors
from faiross.kernel.money import amount_parse
from projects.auth import signed_in_user
from projects.models import Project

from . import selectors, services
from .forms import ContactForm, ProfileForm, RequestForm, ReviseForm, lines
from .models import ContactRequest, ContributorProfile, FeatureRequest

S = FeatureRequest.Status


def _company_for(request: HttpRequest, slug: str) -> Company:
    company = get_object_or_404(Company, slug=slug)
    if not (
        request.user.is_staff or selectors.is_company_member(company=company, user=request.user)
    ):
        raise Http404("No such company.")
    return company


def _error_text(exc: ValidationError) -> str:
    return " ".join(
        m for msgs in getattr(exc, "message_dict", {"": exc.messages}).values() for m in msgs
    )


@login_required
def company_asks(request: HttpRequest, slug: str) -> HttpResponse:
    company = _company_for(request, slug)
    contacts = [
        (c, selectors.contact_email_for(contact=c, viewer=request.user))
        for c in selectors.contacts_of_company(company=company)
    ]
    return render(
        request,
        "asks/company.html",
        {
            "company": company,
            "requests": selectors.requests_of_company(company=company),
            "reserves": selectors.company_reserves(company=company),
            "held": selectors.company_bounties_held(company=company),
            "contacts": contacts,
            "can_act": selectors.money_companies_of(user=request.user)
            .filter(pk=company.pk)
            .exists(),
        },
    )


@login_required
def request_new(request: HttpRequest, slug: str) -> HttpResponse:
    company = _company_for(request, slug)
    funded = selectors.funded_projects(company=company)
    milestones = selectors.open_milestones(company=company)
    reserves = selectors.company_reserves(company=company)
    form = RequestForm(
        request.POST or None, projects=funded, milestones=milestones, currencies=list(reserves)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            amount = None
            if data["bounty"].strip():
                amount = amount_parse(
                    text=data["bounty"], currency=data["currency"] or "usd", field="bounty"
                )
            milestone = (
                Milestone.objects.filter(pk=data["milestone"]).first()
                if data["milestone"]
                else None
            )
            created = services.feature_request_file(
                company=company,
                actor=signed_in_user(request),
                projects=list(data["projects"]),
                title=data["title"],
                description=data["description"],
                links=lines(data["links"]),
                milestone=milestone,
                bounty_amount=amount,
                bounty_currency=data["currency"] if amount else "",
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "bounty_amount" in exc.error_dict:
                exc.error_dict["bounty"] = exc.error_dict.pop("bounty_amount")
            form_add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Filed {len(created)} request{'s' if len(created) != 1 else ''}; the stewards "
                "are told.",
            )
            if len(created) == 1:
                return redirect("asks:request", pk=created[0].pk)
            return redirect("asks:company", slug=company.slug)
    return render(
        request,
        "asks/request_new.html",
        {"company": company, "form": form, "funded": funded, "reserves": reserves},
    )


def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(
        FeatureRequest.objects.select_related(
            "company", "project", "milestone__agreement", "dispute"
        ),
        pk=pk,
    )
    if not selectors.request_visible(request=req, user=request.user):
        raise Http404("No such request.")
    is_party = selectors.request_is_party(request=req, user=request.user)
    steward = selectors.is_steward(project=req.project, user=request.user)
    company_actor = (
        selectors.money_companies_of(user=request.user).filter(pk=req.company_id).exists()
    )
    return render(
        request,
        "asks/request.html",
        {
            "req": req,
            "is_party": is_party,
            "steward": steward,
            "company_actor": company_actor,
            "events": req.events.select_related("actor") if is_party else [],
            "revise_form": ReviseForm(
                initial={
                    "title": req.title,
                    "description": req.description,
                    "links": "\n".join(req.links),
                }
            ),
            "awaits_staff": services.feature_request_awaits_staff(request=req),
        },
    )


ACTIONS = {
    "accept": lambda r, u, p: services.feature_request_accept(
        request=r, actor=u, note=p.get("note", "")
    ),
    "decline": lambda r, u, p: services.feature_request_decline(
        request=r, actor=u, note=p.get("note", "")
    ),
    "propose": lambda r, u, p: services.feature_request_propose_changes(
        request=r, actor=u, note=p.get("note", "")
    ),
    "start": lambda r, u, p: services.feature_request_start(request=r, actor=u),
    "deliver": lambda r, u, p: services.feature_request_deliver(
        request=r, actor=u, evidence=lines(p.get("evidence", "")), note=p.get("note", "")
    ),
    "confirm": lambda r, u, p: services.feature_request_confirm(
        request=r, actor=u, note=p.get("note", "")
    ),
    "reject": lambda r, u, p: services.feature_request_reject(
        request=r, actor=u, reason=p.get("reason", "")
    ),
    "withdraw": lambda r, u, p: services.feature_request_withdraw(request=r, actor=u),
    "revise": lambda r, u, p: services.feature_request_revise(
        request=r,
        actor=u,
        title=p.get("title", ""),
        description=p.get("description", ""),
        links=lines(p.get("links", "")),
    ),
}
DONE = {
    "accept": "Accepted: it shows on the project page.",
    "decline": "Declined.",
    "propose": "Your proposed changes were sent to the company.",
    "start": "Marked in progress.",
    "deliver": "Delivered; the company is asked to confirm.",
    "confirm": "Confirmed. Thank you!",
    "reject": "The delivery is contested; a dispute was filed with the ombudsman office.",
    "withdraw": "Withdrawn.",
    "revise": "Revised; the stewards are told.",
}


@login_required
@require_POST
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    req = get_object_or_404(FeatureRequest, pk=pk)
    if not selectors.request_visible(request=req, user=request.user) or action not in ACTIONS:
        raise Http404("No such request.")
    try:
        ACTIONS[action](req, request.user, request.POST)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, DONE[action])
    return redirect("asks:request", pk=req.pk)


def project_asks(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    return render(
        request,
        "asks/project.html",
        {
            "project": project,
            "requests": selectors.requests_of_project(project=project, user=request.user),
            "steward": selectors.is_steward(project=project, user=request.user),
        },
    )


@login_required
def contributor(request: HttpRequest) -> HttpResponse:
    """The person's own profile and the contact requests they received."""
    user = signed_in_user(request)
    profile = ContributorProfile.objects.filter(user=user).first()
    initial = (
        {
            "visible": profile.visible,
            "headline": profile.headline,
            "links": "\n".join(profile.links),
        }
        if profile
        else {}
    )
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.contributor_profile_update(
                user=user,
                visible=form.cleaned_data["visible"],
                headline=form.cleaned_data["headline"],
                links=lines(form.cleaned_data["links"]),
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            messages.success(request, "Your contributor profile is saved.")
            return redirect("asks:contributor")
    card = selectors.contributor_card(username=user.get_username())
    return render(
        request,
        "asks/contributor.html",
        {
            "form": form,
            "card": card,
            "contacts": selectors.contacts_received(user=user),
        },
    )


@login_required
@require_POST
def contact_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    contact = get_object_or_404(ContactRequest, pk=pk, contributor=request.user)
    try:
        if action == "accept":
            services.contact_request_answer(
                contact=contact, actor=signed_in_user(request), accept=True
            )
            messages.success(
                request, f"Accepted: {contact.company.name} now sees your email address."
            )
        elif action == "decline":
            services.contact_request_answer(
                contact=contact, actor=signed_in_user(request), accept=False
            )
            messages.success(request, "Declined.")
        elif action == "report":
            services.contact_request_report(
                contact=contact,
                reporter=signed_in_user(request),
                reason=request.POST.get("reason", ""),
            )
            messages.success(request, "Reported to FairOSS staff, and declined.")
        else:
            raise Http404("No such action.")
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect("asks:contributor")


@login_required
def contributors(request: HttpRequest) -> HttpResponse:
    """Search opted-in contributors (owners and finance members of a company only)."""
    companies = list(selectors.money_companies_of(user=request.user))
    if not companies:
        raise PermissionDenied(
            "Only owners and finance members of a company can search contributors."
        )
    project = request.GET.get("project", "").strip()[:50]
    ecosystem = request.GET.get("ecosystem", "").strip()[:30]
    form = ContactForm(request.POST or None, companies=companies)
    if request.method == "POST" and form.is_valid():
        company = next(c for c in companies if c.slug == form.cleaned_data["company"])
        try:
            services.contact_request_send(
                company=company,
                sender=signed_in_user(request),
                contributor=form.cleaned_data["contributor"],
                message=form.cleaned_data["message"],
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Sent. {form.cleaned_data['contributor']} decides; you see their address only if "
                "they accept.",
            )
            return redirect(request.get_full_path())
    cards = selectors.contributors_search(project=project, ecosystem=ecosystem)
    return render(
        request,
        "asks/contributors.html",
        {"cards": cards, "project": project, "ecosystem": ecosystem, "companies": companies},
    )
