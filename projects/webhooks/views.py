"""Webhook pages for a project's stewards and a company's owners: endpoints, their recent
deliveries, test events and replays. The rules are in :mod:`.services`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from faiross.kernel.forms import form_add_service_errors

from ..auth import signed_in_user
from ..models import Project
from . import selectors, services
from .events import EVENT_TYPES
from .forms import WebhookEndpointForm

_SECRET_SESSION_KEY = "webhook_secret_once"


@dataclass(frozen=True)
class Owner:
    kind: str
    slug: str
    key: str
    name: str
    back_url: str
    back_label: str


def _owner(request: HttpRequest, kind: str, slug: str) -> Owner:
    if kind == "project":
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise Http404("No such project.")
        owner = Owner(
            kind,
            slug,
            f"project:{slug}",
            project.name,
            reverse("projects:edit", args=[slug]),
            "project settings",
        )
    elif kind == "company":
        owner = Owner(
            kind,
            slug,
            f"company:{slug}",
            slug,
            reverse("companies:settings", args=[slug]),
            "company settings",
        )
    else:
        raise Http404("No such owner.")
    if not services.webhook_owner_manageable(owner_key=owner.key, user=request.user):
        raise PermissionDenied(
            "Only a project's stewards or a company's owners can manage its webhooks."
        )
    return owner


def _service_error(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@login_required
def webhooks_page(request: HttpRequest, kind: str, slug: str) -> HttpResponse:
    owner = _owner(request, kind, slug)
    form = WebhookEndpointForm(request.POST or None, owner_kind=owner.kind)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(
                owner_key=owner.key,
                actor=signed_in_user(request),
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            # Kept for the next page view only: the secret is shown once.
            request.session[_SECRET_SESSION_KEY] = {"id": endpoint.pk, "secret": endpoint.secret}
            messages.success(request, "Endpoint added. Copy its signing secret now.")
            return redirect("projects:webhook_endpoint", kind=kind, slug=slug, pk=endpoint.pk)
    endpoints = list(selectors.webhook_endpoints_of(owner_key=owner.key))
    return render(
        request,
        "projects/webhooks.html",
        {"owner": owner, "form": form, "endpoints": endpoints, "event_types": EVENT_TYPES},
    )


@login_required
def webhook_endpoint_page(request: HttpRequest, kind: str, slug: str, pk: int) -> HttpResponse:
    owner = _owner(request, kind, slug)
    endpoint = selectors.webhook_endpoint_of(owner_key=owner.key, pk=pk)
    secret = None
    once = request.session.get(_SECRET_SESSION_KEY)
    if isinstance(once, dict) and once.get("id") == endpoint.pk:
        secret = once.get("secret")
        del request.session[_SECRET_SESSION_KEY]  # shown once
    return render(
        request,
        "projects/webhooks_endpoint.html",
        {
            "owner": owner,
            "endpoint": endpoint,
            "secret": secret,
            "deliveries": selectors.webhook_deliveries_recent(endpoint=endpoint),
        },
    )


@login_required
@require_POST
def webhook_endpoint_action(request: HttpRequest, kind: str, slug: str, pk: int) -> HttpResponse:
    owner = _owner(request, kind, slug)
    endpoint = selectors.webhook_endpoint_of(owner_key=owner.key, pk=pk)
    actor = signed_in_user(request)
    action = request.POST.get("action", "")
    try:
        if action == "test":
            services.webhook_endpoint_test(endpoint=endpoint, actor=actor)
            messages.success(request, "Test event sent; its delivery is listed below.")
        elif action in ("enable", "disable"):
            services.webhook_endpoint_update(
                endpoint=endpoint, actor=actor, active=action == "enable"
            )
            messages.success(request, f"Endpoint {'on' if action == 'enable' else 'off'}.")
        elif action == "delete":
            services.webhook_endpoint_delete(endpoint=endpoint, actor=actor)
            messages.success(request, "Endpoint deleted.")
            return redirect("projects:webhooks", kind=kind, slug=slug)
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as exc:
        _service_error(request, exc)
    return redirect("projects:webhook_endpoint", kind=kind, slug=slug, pk=pk)


@login_required
def webhook_delivery_page(request: HttpRequest, kind: str, slug: str, pk: int) -> HttpResponse:
    owner = _owner(request, kind, slug)
    delivery = selectors.webhook_delivery_of(owner_key=owner.key, pk=pk)
    return render(
        request,
        "projects/webhooks_delivery.html",
        {
            "owner": owner,
            "delivery": delivery,
            "endpoint": delivery.endpoint,
            "attempts": selectors.webhook_attempts_of(delivery=delivery),
            "payload_json": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
        },
    )


@login_required
@require_POST
def webhook_delivery_replay(request: HttpRequest, kind: str, slug: str, pk: int) -> HttpResponse:
    owner = _owner(request, kind, slug)
    delivery = selectors.webhook_delivery_of(owner_key=owner.key, pk=pk)
    try:
        services.webhook_delivery_replay(delivery=delivery, actor=signed_in_user(request))
        messages.success(request, "Sent again with the same event id; the attempt is logged below.")
    except ValidationError as exc:
        _service_error(request, exc)
    return redirect("projects:webhook_delivery", kind=kind, slug=slug, pk=pk)
