"""Shields-style SVG badges (drawn by anybadge) for a project or a company to embed in a
README: ``/badge/project/<slug>.svg`` ("FairOSS | $1.2K received", or "not yet funded") and
``/badge/company/<slug>.svg`` ("FairOSS | funds 12 projects").

They live in ``companies`` because a company badge needs the company and both need the runs'
money (``payouts``), and only this layer may import both. Each badge is cached for
:data:`BADGE_SECONDS` in the Django cache and by browsers and proxies (``Cache-Control``):
a badge is at most that much behind the latest run (invalidation by time only, on purpose:
badges are fetched by every README view, and being a few minutes late is harmless).
"""

from __future__ import annotations

import anybadge
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import escape
from django.views.decorators.http import require_GET

from faiross.kernel.recipients import project_key
from payouts.project_money import company_funding_summary, money_compact, owner_received_total
from projects.models import Project

from .models import Company

BADGE_SECONDS = 300
LABEL = "FairOSS"
FUNDED_COLOR = "#2e8b72"
WAITING_COLOR = "#9f9f9f"


def _svg(value: str, color: str) -> str:
    """The badge, with a title and an accessible name (anybadge draws neither)."""
    svg = anybadge.Badge(LABEL, value, default_color=color).badge_svg_text
    text = escape(f"{LABEL}: {value}")
    start = svg.index("<svg ")
    end = svg.index(">", start)
    opening = svg[start:end].replace("<svg ", f'<svg role="img" aria-label="{text}" ', 1)
    return f"{svg[:start]}{opening}><title>{text}</title>{svg[end + 1 :]}"


def _response(svg: str) -> HttpResponse:
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={BADGE_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _money_text(totals: dict[str, int]) -> str:
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return " + ".join(money_compact(amount=v, currency=c) for c, v in ordered)


def project_badge_value(*, slug: str) -> tuple[str, str]:
    """The project badge's text and colour: what reached the project in runs."""
    received = owner_received_total(owner_key=project_key(slug))
    if not received:
        return "not yet funded", WAITING_COLOR
    return f"{_money_text(received)} received", FUNDED_COLOR


def company_badge_value(*, company: Company) -> tuple[str, str]:
    """The company badge's text and colour: how many projects its money reached directly."""
    projects, _given = company_funding_summary(owner_key=company.owner_key)
    if not projects:
        return "no projects funded yet", WAITING_COLOR
    return f"funds {projects} project{'s' if projects != 1 else ''}", FUNDED_COLOR


@require_GET
def project_badge(request: HttpRequest, slug: str) -> HttpResponse:
    key = f"badge:v1:project:{slug}"
    svg = cache.get(key)
    if svg is None:
        if not Project.objects.filter(slug=slug).exists():
            raise Http404("No such project.")
        svg = _svg(*project_badge_value(slug=slug))
        cache.set(key, svg, BADGE_SECONDS)
    return _response(svg)


@require_GET
def company_badge(request: HttpRequest, slug: str) -> HttpResponse:
    key = f"badge:v1:company:{slug}"
    svg = cache.get(key)
    if svg is None:
        company = Company.objects.filter(slug=slug).first()
        if company is None:
            raise Http404("No such company.")
        svg = _svg(*company_badge_value(company=company))
        cache.set(key, svg, BADGE_SECONDS)
    return _response(svg)
