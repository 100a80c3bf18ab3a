"""Dispute pages: file, read, respond, appeal. Thin: the rules are in services."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from projects.auth import signed_in_user

from . import selectors, services
from .forms import AppealForm, DisputeFileForm, RespondForm, service_call
from .models import Dispute, Evidence, Hold


def _visible_dispute(request: HttpRequest, pk: int) -> Dispute:
    dispute = get_object_or_404(Dispute.objects.select_related("filed_by", "project"), pk=pk)
    if not selectors.dispute_visible_to(dispute=dispute, user=request.user):
        # Others may not even learn that the dispute exists.
        raise Http404("No such dispute.")
    return dispute


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "disputes/list.html",
        {
            "disputes": selectors.disputes_for_user(user=signed_in_user(request)).select_related(
                "project"
            )
        },
    )


@login_required
def dispute_new(request: HttpRequest) -> HttpResponse:
    about = (request.POST.get("target") or request.GET.get("about") or "").strip()[:320]
    try:
        # Only what this user may see is described; anything else gets the neutral answer
        # an unknown target gets (money rule 9).
        target = selectors.target_describe_for(target=about, user=request.user)
    except ValidationError as exc:
        return render(
            request,
            "disputes/new.html",
            {"target": None, "target_error": exc.message_dict["target"][0]},
            status=400 if about else 200,
        )
    entry = request.GET.get("entry", "")
    if (
        target.type == "table_version"
        and entry.isdigit()
        and len(entry) < 19
        and any(e.pk == int(entry) for e in target.entries)
    ):
        return redirect(f"{request.path}?about=table_entry:{entry}")
    if request.method == "POST":
        form = DisputeFileForm(request.POST, request.FILES)
        if form.is_valid():
            dispute = service_call(
                form,
                lambda: services.dispute_file(
                    filer=signed_in_user(request),
                    target=form.cleaned_data["target"],
                    kind=form.cleaned_data["kind"],
                    title=form.cleaned_data["title"],
                    description=form.cleaned_data["description"],
                    links=form.link_list(),
                    files=form.cleaned_data["files"],
                    amount_at_stake=form.cleaned_data.get("amount_at_stake"),
                    currency=form.cleaned_data.get("currency") or "",
                ),
            )
            if dispute is not None:
                messages.success(
                    request,
                    f"Dispute #{dispute.pk} was filed. The parties were told; the ombudsman "
                    "office will look into it.",
                )
                return redirect(dispute)
    else:
        initial = {"target": target.key}
        if target.type == "project":
            # "Contest ownership" on a project page asks for an ownership dispute.
            asked = request.GET.get("kind", "")
            ownership = asked == Dispute.Kind.OWNERSHIP
            initial["kind"] = Dispute.Kind.OWNERSHIP if ownership else Dispute.Kind.GOVERNANCE
        elif target.type == "table_entry":
            initial["kind"] = Dispute.Kind.WRONG_SHARE
        form = DisputeFileForm(initial=initial)
    return render(request, "disputes/new.html", {"target": target, "form": form})


def _context(request: HttpRequest, dispute: Dispute, **extra: object) -> dict[str, object]:
    user = signed_in_user(request)
    is_ombudsman = selectors.user_is_ombudsman(user=user)
    is_party = selectors.dispute_is_party(dispute=dispute, user=user)
    trail = selectors.audit_trail(dispute=dispute)
    if not is_ombudsman or is_party:
        trail = trail.filter(internal=False)
    deadline = services.appeal_deadline(dispute=dispute)
    can_appeal = (
        is_party
        and dispute.status in (Dispute.Status.RESOLVED, Dispute.Status.APPEALED)
        and deadline is not None
        and timezone.now() <= deadline
        and not dispute.appeals.filter(appellant=user).exists()
    )
    context: dict[str, object] = {
        "dispute": dispute,
        "parties": dispute.parties.select_related("user").order_by("id"),
        "filing_evidence": dispute.evidence.filter(message__isnull=True),
        "conversation": dispute.messages.select_related("author").prefetch_related("evidence"),
        "holds": dispute.holds.prefetch_related("movements").order_by("created_at"),
        "appeals": dispute.appeals.select_related("appellant", "decided_by"),
        "trail": trail,
        "is_ombudsman": is_ombudsman and not is_party,
        "can_respond": dispute.status != Dispute.Status.CLOSED,
        "can_appeal": can_appeal,
        "appeal_deadline": deadline,
        "respond_form": RespondForm(),
        "appeal_form": AppealForm(),
        "active_hold": Hold.Status.ACTIVE,
    }
    context.update(extra)
    return context


@login_required
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _visible_dispute(request, pk)
    return render(request, "disputes/detail.html", _context(request, dispute))


def _post_on_dispute(
    request: HttpRequest,
    dispute: Dispute,
    form: Form,
    call: Callable[[], object],
    *,
    form_name: str,
    done: str,
) -> HttpResponse:
    """Run ``call`` for a valid ``form`` posted on the dispute page: then back to the page
    with ``done``; else the page again (400) with the form (``form_name``) and its errors."""
    if form.is_valid() and service_call(form, call) is not None:
        messages.success(request, done)
        return redirect(dispute)
    return render(
        request, "disputes/detail.html", _context(request, dispute, **{form_name: form}), status=400
    )


@login_required
@require_POST
def dispute_respond(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _visible_dispute(request, pk)
    form = RespondForm(request.POST, request.FILES)
    return _post_on_dispute(
        request,
        dispute,
        form,
        lambda: services.dispute_respond(
            dispute=dispute,
            author=signed_in_user(request),
            body=form.cleaned_data["body"],
            links=form.link_list(),
            files=form.cleaned_data["files"],
        ),
        form_name="respond_form",
        done="Your message was added; the others were told by email.",
    )


@login_required
@require_POST
def dispute_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _visible_dispute(request, pk)
    form = AppealForm(request.POST)
    return _post_on_dispute(
        request,
        dispute,
        form,
        lambda: services.appeal_file(
            dispute=dispute, appellant=signed_in_user(request), reason=form.cleaned_data["reason"]
        ),
        form_name="appeal_form",
        done="Your appeal was filed; another ombudsman will decide it.",
    )


@login_required
def evidence_file(request: HttpRequest, pk: int) -> FileResponse:
    evidence = get_object_or_404(Evidence.objects.select_related("dispute"), pk=pk)
    if not evidence.file or not selectors.dispute_visible_to(
        dispute=evidence.dispute, user=request.user
    ):
        raise Http404("No such file.")
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=evidence.filename, content_type=evidence.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
