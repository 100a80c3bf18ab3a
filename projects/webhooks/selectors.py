"""Reads for the webhook pages (the manager check is in :mod:`.services`)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

RECENT_DELIVERIES = 50


def webhook_endpoints_of(*, owner_key: str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner_key=owner_key).order_by("-created_at", "-pk")


def webhook_endpoint_of(*, owner_key: str, pk: int) -> WebhookEndpoint:
    """The owner's endpoint ``pk``; 404 for another owner's (it does not exist for them)."""
    endpoint = WebhookEndpoint.objects.filter(owner_key=owner_key, pk=pk).first()
    if endpoint is None:
        raise Http404("No such endpoint.")
    return endpoint


def webhook_deliveries_recent(
    *, endpoint: WebhookEndpoint, limit: int = RECENT_DELIVERIES
) -> list[WebhookDelivery]:
    return list(endpoint.deliveries.order_by("-created_at", "-pk")[:limit])


def webhook_delivery_of(*, owner_key: str, pk: int) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(endpoint__owner_key=owner_key, pk=pk)
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


def webhook_attempts_of(*, delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    return delivery.attempt_log.order_by("-number")
