"""Agreement and invoice pages: forms per kind, the document (HTML/PDF), signing, events,
OCF export, paying by Stripe Checkout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from faiross.kernel.conflicts import DuplicateError
from faiross.kernel.forms import (
    CHANGE,
    CONFIRM,
    form_add_service_errors,
    form_duplicate_confirmed,
    form_hidden_values,
    form_step,
)
from faiross.kernel.http import client_ip
from faiross.kernel.pdf import pdf_render
from projects.auth import signed_in_user

from . import selectors, services
from .forms import (
    AgreementForm,
    CarryForm,
    DeclarationForm,
    EndForm,
    LiquidityForm,
    error_text,
)
from .models import (
    Agreement,
    CarryDistribution,
    Company,
    DividendDeclaration,
    Invoice,
    LiquidityEvent,
)
from .ocf import ocf_export


def _agreement(request: HttpRequest, slug: str, pk: int) -> tuple[Company, str | None, Agreement]:
    company, role = selectors.company_for_member(slug=slug, user=request.user)
    agreement = get_object_or_404(Agreement, pk=pk, company=company)
    return company, role, agreement


def _agreement_form_errors(form: AgreementForm, exc: ValidationError) -> None:
    """The service's messages on the form's fields (its names are the API's)."""
    if hasattr(exc, "error_dict"):
        for field, msgs in exc.message_dict.items():
            name = form.service_field(field)
            form.add_error(name if name in form.fields else None, msgs)
    else:
        form.add_error(None, exc.messages)


@login_required
def agreement_new(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """A draft agreement, in two steps: the terms as understood ("You are proposing: $50.00
    per developer per month times 12 developers = $600.00/month"), checked by the same rules as
    the draft, then created only when confirmed. "Change" goes back to the filled-in form."""
    company, role = selectors.company_for_member(slug=slug, user=request.user)
    if kind not in Agreement.Kind.values:
        raise Http404("No such kind of agreement.")
    if role not in selectors.MONEY_ROLES:
        raise PermissionDenied("Only owners and finance members can propose agreements.")
    context = {"company": company, "kind": kind, "kind_label": Agreement.Kind(kind).label}
    if request.method != "POST":
        form = AgreementForm(
            kind=kind, initial={"start_date": timezone.localdate(), "currency": "usd"}
        )
        return render(request, "companies/agreement_new.html", context | {"form": form})
    form = AgreementForm(request.POST, kind=kind)
    step = form_step(request.POST)
    if step != CHANGE and form.is_valid():
        try:
            if step != CONFIRM:
                # The draft's own checks, so the confirmation shows only what would be kept.
                services.agreement_terms_clean(
                    kind=kind, company=company, data={**form.terms(), "kind": kind}
                )
                return render(
                    request,
                    "companies/agreement_new_confirm.html",
                    context
                    | {
                        "summary": form.summary(company),
                        "hidden": form_hidden_values(form),
                        "confirm": CONFIRM,
                        "change": CHANGE,
                    },
                )
            agreement = services.agreement_create(
                company=company,
                actor=signed_in_user(request),
                kind=kind,
                terms_data=form.terms(),
            )
        except ValidationError as exc:
            _agreement_form_errors(form, exc)
        else:
            messages.success(
                request,
                f"Draft {agreement.reference} created. Read the agreement below, then sign it.",
            )
            return redirect("companies:agreement", slug=slug, pk=agreement.pk)
    return render(request, "companies/agreement_new.html", context | {"form": form})


@login_required
def agreement_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    company, role, agreement = _agreement(request, slug, pk)
    return _detail_page(request, company, role, agreement)


def _detail_page(
    request: HttpRequest,
    company: Company,
    role: str | None,
    agreement: Agreement,
    event_form: forms.Form | None = None,
) -> HttpResponse:
    """The agreement page; ``event_form`` (filled in) replaces the empty event form when the
    person came back from the confirmation page to change what they typed."""
    can_money = role in selectors.MONEY_ROLES
    context: dict[str, Any] = {
        "company": company,
        "role": role,
        "can_money": can_money,
        "agreement": agreement,
        "signatures": agreement.signatures.select_related("user"),
        "milestones": agreement.milestones.all(),
        "invoices": agreement.invoices.order_by("-issued_on", "-id"),
        "document": agreement.document_html
        or services.agreement_document_html(agreement=agreement),
        "end_form": EndForm(),
    }
    if agreement.kind == Agreement.Kind.DIVIDEND:
        context["events"] = agreement.declarations.select_related("invoice")
        context["event_form"] = DeclarationForm(
            initial={"currency": agreement.currency, "declared_on": timezone.localdate()}
        )
    elif agreement.kind == Agreement.Kind.EQUITY:
        context["events"] = agreement.liquidity_events.select_related("invoice")
        context["event_form"] = LiquidityForm(
            initial={"currency": agreement.currency, "occurred_on": timezone.localdate()}
        )
        context["vested"] = services.equity_vested_millibips(
            agreement=agreement, on=timezone.localdate()
        )
    elif agreement.kind == Agreement.Kind.CARRY:
        context["events"] = agreement.carry_distributions.select_related("invoice")
        context["event_form"] = CarryForm(
            initial={"currency": agreement.currency, "distributed_on": timezone.localdate()}
        )
    if event_form is not None and "event_form" in context:
        context["event_form"] = event_form
    return render(request, "companies/agreement.html", context)


@login_required
@require_POST
def agreement_sign(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    _, _, agreement = _agreement(request, slug, pk)
    if request.POST.get("agree") != "yes":
        messages.error(request, "Tick the box to confirm you have read the agreement.")
        return redirect("companies:agreement", slug=slug, pk=pk)
    try:
        services.agreement_sign(
            agreement=agreement,
            actor=signed_in_user(request),
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            f"You signed {agreement.reference}. FairOSS will countersign it; it is active then.",
        )
    return redirect("companies:agreement", slug=slug, pk=pk)


@login_required
@require_POST
def agreement_end(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    _, _, agreement = _agreement(request, slug, pk)
    form = EndForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for ending the agreement (at most 500 characters).")
        return redirect("companies:agreement", slug=slug, pk=pk)
    try:
        services.agreement_end(
            agreement=agreement, actor=signed_in_user(request), reason=form.cleaned_data["reason"]
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"{agreement.reference} has ended; its history is kept.")
    return redirect("companies:agreement", slug=slug, pk=pk)


# The events of each kind of agreement: the form they are typed in and the service that
# records them, which takes the form's fields as keywords (renamed by _EVENT_FIELDS).
_EVENTS: dict[
    str,
    tuple[
        type[forms.Form],
        Callable[..., DividendDeclaration | LiquidityEvent | CarryDistribution],
    ],
] = {
    Agreement.Kind.DIVIDEND: (DeclarationForm, services.dividend_declare),
    Agreement.Kind.EQUITY: (LiquidityForm, services.liquidity_event_record),
    Agreement.Kind.CARRY: (CarryForm, services.carry_distribution_record),
}
_EVENT_FIELDS = {"portion": "portion_millibips"}


def _confirm_page(
    request: HttpRequest,
    company: Company,
    agreement: Agreement,
    form: Any,
    duplicate: str = "",
) -> HttpResponse:
    """What the event form understood, to confirm or change; with ``duplicate`` (the
    service's warning) a "record it again" box must be ticked to confirm."""
    return render(
        request,
        "companies/agreement_confirm.html",
        {
            "company": company,
            "agreement": agreement,
            "summary": form.summary(agreement),
            "hidden": form_hidden_values(form),
            "duplicate": duplicate,
            "confirm": CONFIRM,
            "change": CHANGE,
        },
        status=409 if duplicate else 200,
    )


@login_required
@require_POST
def agreement_event(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Record a dividend declaration, a liquidity event or a carry distribution, in two
    steps: the page first says what it understood (amount, date), and records it only when
    confirmed. One identical to an existing record needs "record it again" ticked."""
    company, role, agreement = _agreement(request, slug, pk)
    if agreement.kind not in _EVENTS:
        raise Http404("Pledges have no events: their invoices are issued on schedule.")
    form_class, record_event = _EVENTS[agreement.kind]
    form = form_class(request.POST)
    step = form_step(request.POST)
    if step == CHANGE:
        return _detail_page(request, company, role, agreement, event_form=form_class(request.POST))
    if form.is_valid() and step != CONFIRM:
        return _confirm_page(request, company, agreement, form)
    if form.is_valid():
        values = {_EVENT_FIELDS.get(k, k): v for k, v in form.cleaned_data.items()}
        try:
            record = record_event(
                agreement=agreement,
                actor=signed_in_user(request),
                confirm_duplicate=form_duplicate_confirmed(request.POST),
                **values,
            )
        except DuplicateError as exc:
            return _confirm_page(
                request, company, agreement, form, duplicate=" ".join(exc.messages)
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        except PermissionDenied as exc:
            messages.error(request, error_text(exc))
            return redirect("companies:agreement", slug=slug, pk=pk)
        else:
            if record.invoice is not None:
                messages.success(
                    request,
                    f"Recorded. FairOSS's part is due: invoice {record.invoice.number}.",
                )
            else:
                messages.info(request, "Recorded. FairOSS's part rounds down to nothing.")
            return redirect("companies:agreement", slug=slug, pk=pk)
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for e in errors:
            messages.error(request, f"{label or field}: {e}" if field != "__all__" else str(e))
    return redirect("companies:agreement", slug=slug, pk=pk)


@login_required
def agreement_document(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    company, _, agreement = _agreement(request, slug, pk)
    html = agreement.document_html or services.agreement_document_html(agreement=agreement)
    return render(
        request,
        "companies/agreement_document.html",
        {
            "company": company,
            "agreement": agreement,
            "document": html,
            "signatures": agreement.signatures.select_related("user"),
        },
    )


@login_required
def agreement_pdf(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The document as a PDF: the frozen HTML (what the signatures' SHA-256 covers) verbatim,
    then the signature records, rendered by WeasyPrint."""
    company, _, agreement = _agreement(request, slug, pk)
    html = render_to_string(
        "companies/agreement_pdf.html",
        {
            "company": company,
            "agreement": agreement,
            "document": agreement.document_html
            or services.agreement_document_html(agreement=agreement),
            "signatures": list(agreement.signatures.select_related("user")),
        },
    )
    response = HttpResponse(pdf_render(html=html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="faiross-{agreement.reference}.pdf"'
    return response


@login_required
def agreement_ocf(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    _, _, agreement = _agreement(request, slug, pk)
    if agreement.kind != Agreement.Kind.EQUITY:
        raise Http404("Only equity agreements have an OCF export.")
    response = JsonResponse(ocf_export(agreement=agreement), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = (
        f'attachment; filename="faiross-{agreement.reference}.ocf.json"'
    )
    return response


# --- invoices -------------------------------------------------------------------------------


def _invoice(request: HttpRequest, slug: str, pk: int) -> tuple[Company, Invoice]:
    company, _ = selectors.company_for_member(slug=slug, user=request.user)
    return company, get_object_or_404(Invoice, pk=pk, company=company)


@login_required
@require_POST
def invoice_pay(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    _, invoice = _invoice(request, slug, pk)
    success = (
        request.build_absolute_uri(
            reverse("companies:invoice_paid", kwargs={"slug": slug, "pk": pk})
        )
        + "?session_id={CHECKOUT_SESSION_ID}"
    )
    cancel = request.build_absolute_uri(reverse("companies:dashboard", kwargs={"slug": slug}))
    try:
        url = services.invoice_checkout_start(
            invoice=invoice, actor=signed_in_user(request), success_url=success, cancel_url=cancel
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect("companies:dashboard", slug=slug)
    return redirect(url)


@login_required
def invoice_paid(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Stripe Checkout's success_url: confirm with Stripe, then back to the dashboard."""
    _, invoice = _invoice(request, slug, pk)
    try:
        paid = services.invoice_checkout_confirm(
            invoice=invoice, session_id=request.GET.get("session_id", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        if paid:
            messages.success(request, f"Thank you: {invoice.number} is paid.")
        else:
            messages.info(request, f"Stripe has not confirmed the payment of {invoice.number} yet.")
    return redirect("companies:dashboard", slug=slug)
