"""The impact report of a company: page, PDF and Open Source Pledge JSON (members and staff)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from faiross.kernel.pdf import pdf_render

from . import selectors
from .impact import ImpactReport, impact_report, pledge_report
from .models import Company

MAX_DEVELOPERS = Decimal(10_000_000)


def _company(request: HttpRequest, slug: str) -> Company:
    company, _ = selectors.company_for_member(slug=slug, user=request.user)
    return company


def _developers(request: HttpRequest) -> Decimal | None:
    """``?developers=`` typed by the company (not stored), else None."""
    raw = request.GET.get("developers", "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value.quantize(Decimal("0.1")) if 0 < value <= MAX_DEVELOPERS else None


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 2000 <= int(raw) <= 2200:
        raise Http404("Give a year such as 2026.")
    return int(raw)


def _context(report: ImpactReport) -> dict[str, object]:
    return {
        "company": report.company,
        "report": report,
        "lines": [
            {"line": line, "per_developer": report.per_developer(line)} for line in report.lines
        ],
        "generated": timezone.now(),
    }


@login_required
def impact_page(request: HttpRequest, slug: str) -> HttpResponse:
    company = _company(request, slug)
    report = impact_report(
        company=company, year=_year(request.GET.get("year")), developers=_developers(request)
    )
    context = _context(report)
    context["developers_given"] = request.GET.get("developers", "")
    return render(request, "companies/impact.html", context)


@login_required
def impact_pdf(request: HttpRequest, slug: str, year: int) -> HttpResponse:
    company = _company(request, slug)
    report = impact_report(company=company, year=year, developers=_developers(request))
    html = render_to_string("companies/impact_pdf.html", _context(report))
    response = HttpResponse(pdf_render(html=html), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="faiross-impact-{company.slug}-{year}.pdf"'
    )
    return response


@login_required
def impact_pledge_json(request: HttpRequest, slug: str) -> HttpResponse:
    company = _company(request, slug)
    url = request.build_absolute_uri(reverse("companies:impact", args=[company.slug]))
    data = pledge_report(company=company, url=url, developers=_developers(request))
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = (
        f'attachment; filename="{company.slug}-open-source-pledge.json"'
    )
    return response
