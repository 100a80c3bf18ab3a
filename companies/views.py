"""Company pages: list, onboarding, members, dashboard, share table, Groundwater."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.http import require_POST

from faiross.kernel.forms import form_add_service_errors, form_initial, form_service_saved
from faiross.kernel.money import MAX_AMOUNT, minor_to_decimal_str, money_format
from faiross.kernel.shares import FULL_SHARE, percent_to_millibips
from projects import selectors as table_selectors
from projects import services as table_services
from projects.auth import signed_in_user
from projects.models import Project, TableVersion
from projects.privacy import recipient_shown
from projects.services.tables import table_roles
from projects.table_views import (
    table_editor_page,
    table_import_page,
    table_imported,
    upload_size_error,
)

from . import selectors, services
from .forms import (
    CompanyForm,
    CompanySettingsForm,
    InviteForm,
    PreviewForm,
    error_text,
)
from .models import Company, CompanyInvitation, CompanyMember, Invoice

User = get_user_model()


def company_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.groundwater_companies(), 30).get_page(request.GET.get("page"))
    mine = selectors.companies_of_user(user=request.user) if request.user.is_authenticated else []
    invitations = (
        selectors.company_invitations_for_user(user=request.user)
        if request.user.is_authenticated
        else []
    )
    return render(
        request,
        "companies/list.html",
        {"page": page, "mine": mine, "invitations": invitations},
    )


@login_required
def company_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CompanyForm(request.POST)
        if form.is_valid():
            try:
                company = services.company_create(
                    creator=signed_in_user(request), **form.cleaned_data
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"{company.name} is on FairOSS and you are its owner. Next: build its share "
                    "table and sign an agreement.",
                )
                return redirect("companies:dashboard", slug=company.slug)
    else:
        form = CompanyForm()
    return render(request, "companies/new.html", {"form": form})


def _member_company(request: HttpRequest, slug: str) -> tuple[Company, str | None]:
    return selectors.company_for_member(slug=slug, user=request.user)


@login_required
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    company, role = _member_company(request, slug)
    today = timezone.localdate()
    invoices = list(selectors.invoices_of(company=company))
    preview_form = PreviewForm(request.GET or None, initial={"currency": "usd"})
    preview = None
    if request.GET and preview_form.is_valid():
        amount = preview_form.cleaned_data["amount"]
        if not 0 < amount <= MAX_AMOUNT:
            preview_form.add_error("amount", "Enter an amount from 0.01 to 10,000,000,000.")
        else:
            preview = {
                "amount": amount,
                "currency": preview_form.cleaned_data["currency"],
                "rows": selectors.flow_preview(
                    owner_key=company.owner_key,
                    amount=amount,
                    currency=preview_form.cleaned_data["currency"],
                ),
            }
    reached = selectors.company_money_reached_shown(company=company, viewer=request.user)
    months = selectors.company_paid_by_month(company=company)
    table = table_selectors.table_view(owner_key=company.owner_key)
    context: dict[str, Any] = {
        "company": company,
        "role": role,
        "can_money": role in selectors.MONEY_ROLES,
        "is_owner": role == CompanyMember.Role.OWNER,
        "agreements": selectors.agreements_of(company=company),
        "open_invoices": [i for i in invoices if i.status == Invoice.Status.OPEN],
        "paid_invoices": [i for i in invoices if i.status == Invoice.Status.PAID],
        "upcoming": selectors.upcoming_pledge_invoices(company=company, today=today),
        "totals": selectors.company_totals(company=company),
        "reached": reached,
        "chart": _chart_svg(months),
        "preview_form": preview_form,
        "preview": preview,
        "table": table,
        "members": selectors.company_members(company=company),
        "groundwater": selectors.is_groundwater_company(company=company),
        "role_choices": CompanyMember.Role.choices,
    }
    if role == CompanyMember.Role.OWNER:
        context["invite_form"] = InviteForm()
        context["pending"] = selectors.company_invitations_pending(company=company)
    return render(request, "companies/dashboard.html", context)


def _chart_svg(months: list[tuple[str, str, int]]) -> str:
    """An inline SVG bar chart of money paid per month (one colour per currency)."""
    if not months:
        return ""
    labels = sorted({m for m, _, _ in months})
    currencies = sorted({c for _, c, _ in months})
    colours = ["#2e8b72", "#3b6fb6", "#c77d1a", "#8a4fbf", "#b42318"]
    top = max(v for _, _, v in months)
    width, height, pad = 640, 200, 30
    slot = (width - pad) / max(len(labels), 1)
    bar = min(48.0, max(4.0, slot / (len(currencies) + 1)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 40}" '
        f'role="img" aria-label="Money paid per month" class="chart" width="100%">'
    ]
    parts.append(f'<line x1="{pad}" y1="{height}" x2="{width}" y2="{height}" stroke="#c5cfdc"/>')
    for i, label in enumerate(labels):
        x0 = pad + i * slot
        for j, currency in enumerate(currencies):
            value = sum(v for m, c, v in months if m == label and c == currency)
            if not value:
                continue
            h = max(1.0, (height - 20) * value / top)
            x = x0 + (slot - bar * len(currencies)) / 2 + j * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours[j % len(colours)]}"><title>{escape(label)}: '
                f"{escape(money_format(amount=value, currency=currency))}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + slot / 2:.1f}" y="{height + 16}" font-size="11" '
            f'text-anchor="middle" fill="#5b6b7f">{escape(label)}</text>'
        )
    for j, currency in enumerate(currencies):
        parts.append(
            f'<rect x="{pad + j * 70}" y="{height + 26}" width="10" height="10" '
            f'fill="{colours[j % len(colours)]}"/><text x="{pad + j * 70 + 14}" '
            f'y="{height + 35}" font-size="11" fill="#5b6b7f">{escape(currency.upper())}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@login_required
def export_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Invoices and where the money went, as CSV. Amounts are decimal numbers in their
    currency's units (``2000.50`` with ``usd``), as a spreadsheet reads them."""
    company, _ = _member_company(request, slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{company.slug}-faiross.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "section",
            "reference",
            "agreement",
            "description",
            "currency",
            "amount",
            "status",
            "issued_on",
            "paid_at",
            "paid_via",
        ]
    )
    for inv in selectors.invoices_of(company=company):
        writer.writerow(
            [
                "invoice",
                inv.number,
                inv.agreement.reference,
                _csv_text(inv.description),
                inv.currency,
                minor_to_decimal_str(inv.amount, inv.currency),
                inv.status,
                inv.issued_on.isoformat(),
                inv.paid_at.isoformat() if inv.paid_at else "",
                inv.paid_via,
            ]
        )
    # People are summed here too, unless the reader may see them (money rule 9).
    for row in selectors.company_money_reached_shown(company=company, viewer=request.user):
        writer.writerow(
            [
                "reached",
                _csv_text(recipient_shown(key=row.recipient, user=request.user)),
                "",
                row.purpose,
                row.currency,
                minor_to_decimal_str(row.amount, row.currency),
                "",
                "",
                "",
                "",
            ]
        )
    return response


def _csv_text(value: str) -> str:
    """Neutralise spreadsheet formulas in text cells."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required
def company_settings(request: HttpRequest, slug: str) -> HttpResponse:
    company, role = _member_company(request, slug)
    if role != CompanyMember.Role.OWNER:
        raise PermissionDenied("Only the company's owners can change it.")
    if request.method == "POST":
        form = CompanySettingsForm(request.POST)
        if form_service_saved(
            form,
            lambda: services.company_update(
                company=company, actor=signed_in_user(request), **form.cleaned_data
            ),
        ):
            messages.success(request, "Company saved.")
            return redirect("companies:dashboard", slug=slug)
    else:
        form = CompanySettingsForm(initial=form_initial(CompanySettingsForm, company))
    return render(request, "companies/settings.html", {"company": company, "form": form})


@login_required
@require_POST
def company_invite(request: HttpRequest, slug: str) -> HttpResponse:
    company, _ = _member_company(request, slug)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.company_invite(
                company=company, actor=signed_in_user(request), **form.cleaned_data
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, f"Invited {invitation.target} as {invitation.role}.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("companies:dashboard", slug=slug)


@login_required
@require_POST
def member_change(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    company, _ = _member_company(request, slug)
    user = get_object_or_404(User, username=username)
    role = request.POST.get("role") or None
    try:
        services.company_member_set(
            company=company, actor=signed_in_user(request), user=user, role=role
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, f"{username} is now {role}." if role else f"{username} was removed."
        )
    if role is None and user.pk == request.user.pk:
        return redirect("companies:list")
    return redirect("companies:dashboard", slug=slug)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    company, _ = _member_company(request, slug)
    invitation = get_object_or_404(CompanyInvitation, pk=pk, company=company)
    try:
        services.company_invitation_revoke(invitation=invitation, actor=signed_in_user(request))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Invitation of {invitation.target} revoked.")
    return redirect("companies:dashboard", slug=slug)


@login_required
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    inv = get_object_or_404(CompanyInvitation.objects.select_related("company"), token=token)
    if request.method == "POST":
        accept = "decline" not in request.POST
        try:
            services.company_invitation_answer(
                invitation=inv, user=signed_in_user(request), accept=accept
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
            return redirect("companies:list")
        if not accept:
            messages.info(request, f"You declined the invitation to {inv.company.name}.")
            return redirect("companies:list")
        messages.success(request, f"Welcome to {inv.company.name}.")
        return redirect("companies:dashboard", slug=inv.company.slug)
    return render(request, "companies/invitation.html", {"invitation": inv})


# --- the company's share table -------------------------------------------------------------


def _table_owner(request: HttpRequest, slug: str) -> tuple[Company, str]:
    company, _ = _member_company(request, slug)
    return company, company.owner_key


@login_required
def table_edit(request: HttpRequest, slug: str) -> HttpResponse:
    company, owner_key = _table_owner(request, slug)
    roles = table_roles(owner_key=owner_key, user=request.user)
    if not roles.can_propose:
        raise PermissionDenied(
            "Only the company's owners and finance members (with MFA when the company requires "
            "it) can edit its table."
        )
    return table_editor_page(
        request,
        owner_key=owner_key,
        roles=roles,
        history_url=reverse("companies:table_history", kwargs={"slug": slug}),
        approvers_noun="owners",
        context={
            "owner_name": company.name,
            "owner_noun": "company",
            "owner_value": "money",
            "approvers_noun": "owners",
            "import_url": reverse("companies:table_import", kwargs={"slug": slug}),
            "cancel_url": reverse("companies:dashboard", kwargs={"slug": slug}),
        },
    )


@login_required
def table_import(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload an SBOM, a manifest or a faiross.toml: it becomes a proposed version."""
    company, owner_key = _table_owner(request, slug)
    roles = table_roles(owner_key=owner_key, user=request.user)
    if not roles.can_propose:
        raise PermissionDenied("Only the company's owners and finance members can import a table.")
    errors: list[str] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        share = FULL_SHARE
        try:
            share = percent_to_millibips(text=request.POST.get("share", "100") or "0")
        except ValidationError as exc:
            errors.append(f"Dependency share: {' '.join(exc.messages)}")
        if upload is None:
            errors.append("Choose a file to upload.")
        elif too_large := upload_size_error(upload):
            errors.append(too_large)
        if not errors:
            assert upload is not None
            try:
                version, warnings = table_services.table_import_file(
                    owner_key=owner_key,
                    actor=signed_in_user(request),
                    filename=upload.name or "upload",
                    content=upload.read(),
                    share_millibips=share,
                    policy=request.POST.get("policy", "even"),
                )
            except ValidationError as exc:
                errors = exc.messages
            else:
                history = reverse("companies:table_history", kwargs={"slug": slug})
                return table_imported(
                    request, version, warnings, filename=upload.name, history=history
                )
    return table_import_page(
        request, "companies/table_import.html", errors=errors, context={"company": company}
    )


@login_required
def table_history(request: HttpRequest, slug: str) -> HttpResponse:
    company, owner_key = _table_owner(request, slug)
    versions = list(table_selectors.table_versions(owner_key=owner_key))
    roles = table_roles(owner_key=owner_key, user=request.user)
    return render(
        request,
        "companies/table_history.html",
        {
            "company": company,
            "versions": versions,
            "roles": roles,
            "table": table_selectors.table_view(owner_key=owner_key),
        },
    )


@login_required
@require_POST
def table_version_action(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    _, owner_key = _table_owner(request, slug)
    version = get_object_or_404(TableVersion, table__owner_key=owner_key, number=number)
    try:
        if request.POST.get("action") == "withdraw":
            table_services.table_version_withdraw(version=version, actor=signed_in_user(request))
            messages.info(request, f"Version {number} was withdrawn.")
        else:
            version = table_services.table_version_approve(
                version=version, actor=signed_in_user(request)
            )
            messages.success(request, f"You approved version {number}; it is {version.status}.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return redirect("companies:table_history", slug=slug)


# --- Groundwater ---------------------------------------------------------------------------


def groundwater(request: HttpRequest) -> HttpResponse:
    projects = selectors.groundwater_projects()
    names = dict(
        Project.objects.filter(slug__in=[s for s, _ in projects]).values_list("slug", "name")
    )
    return render(
        request,
        "companies/groundwater.html",
        {
            "companies": selectors.groundwater_companies(),
            "projects": [(slug, names.get(slug, slug), totals) for slug, totals in projects],
        },
    )


def _badge_embed(request: HttpRequest, *, page: str, badge: str, slug: str, alt: str) -> str:
    """The HTML that embeds a public page's badge elsewhere: the badge, linking to the page
    (``page`` and ``badge`` are route names of this app)."""
    page_url = request.build_absolute_uri(reverse(f"companies:{page}", kwargs={"slug": slug}))
    badge_url = request.build_absolute_uri(reverse(f"companies:{badge}", kwargs={"slug": slug}))
    return f'<a href="{page_url}"><img src="{badge_url}" alt="{alt}"></a>'


def groundwater_company(request: HttpRequest, slug: str) -> HttpResponse:
    company = get_object_or_404(Company, slug=slug)
    if not selectors.is_groundwater_company(company=company):
        raise Http404("This company has no active agreement.")
    agreements = company.agreements.filter(status="active").order_by("activated_at")
    return render(
        request,
        "companies/public.html",
        {
            "company": company,
            "agreements": agreements,
            "table": table_selectors.table_view(owner_key=company.owner_key),
            # People are private (money rule 9): counted and summed unless they opted in.
            "reached": selectors.company_money_reached_shown(company=company, viewer=request.user),
            "embed": _badge_embed(
                request, page="public", badge="badge", slug=slug, alt="Groundwater participant"
            ),
        },
    )


def groundwater_project(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    received = selectors.project_received(slug=slug)
    if not received:
        raise Http404("This project has not received money yet.")
    return render(
        request,
        "companies/public_project.html",
        {
            "project": project,
            "received": received,
            "embed": _badge_embed(
                request,
                page="project_public",
                badge="project_badge",
                slug=slug,
                alt="Groundwater: receives money",
            ),
        },
    )


def _badge(label: str, value: str) -> HttpResponse:
    """A flat two-part SVG badge (shields.io style); widths estimated per character."""
    lw = 10 + 7 * len(label)
    vw = 10 + 7 * len(value)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + vw}" height="20" role="img" '
        f'aria-label="{escape(label)}: {escape(value)}"><title>{escape(label)}: {escape(value)}'
        f'</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" '
        f'height="20" fill="#2e8b72"/><g fill="#fff" text-anchor="middle" '
        f'font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2}" y="14">{escape(label)}</text>'
        f'<text x="{lw + vw / 2}" y="14">{escape(value)}</text></g></svg>'
    )
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def company_badge(request: HttpRequest, slug: str) -> HttpResponse:
    company = get_object_or_404(Company, slug=slug)
    if not selectors.is_groundwater_company(company=company):
        raise Http404("This company has no active agreement.")
    return _badge("Groundwater", "participant")


def project_badge(request: HttpRequest, slug: str) -> HttpResponse:
    get_object_or_404(Project, slug=slug)
    if not selectors.project_received(slug=slug):
        raise Http404("This project has not received money yet.")
    return _badge("Groundwater", "funded")
