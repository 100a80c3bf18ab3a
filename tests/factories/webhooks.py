"""Outgoing webhooks: endpoints, their deliveries and the attempts' log."""

from __future__ import annotations

import secrets
import uuid

import factory
from django.utils import timezone

from .projects import ProjectFactory
from .users import UserFactory


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An active endpoint of a new project, for table.activated and run.done."""

    class Meta:
        model = "projects.WebhookEndpoint"

    owner_key = factory.LazyFunction(lambda: f"project:{ProjectFactory().slug}")
    url = factory.Sequence(lambda n: f"https://hooks{n}.example.org/faiross")
    secret = factory.LazyFunction(lambda: "whsec_" + secrets.token_urlsafe(32))
    events = factory.LazyFunction(lambda: ["table.activated", "run.done"])
    created_by = factory.SubFactory(UserFactory)


def _payload(delivery) -> dict[str, object]:
    return {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created": timezone.now().isoformat(),
        "owner": delivery.endpoint.owner_key,
        "data": {"message": "A test event sent from FairOSS."},
    }


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    """A pending test event, due now."""

    class Meta:
        model = "projects.WebhookDelivery"

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event_id = factory.LazyFunction(uuid.uuid4)
    event_type = "webhook.test"
    payload = factory.LazyAttribute(_payload)
    next_attempt_at = factory.LazyFunction(timezone.now)


class WebhookAttemptFactory(factory.django.DjangoModelFactory):
    """A finished attempt that the receiver answered with 200."""

    class Meta:
        model = "projects.WebhookAttempt"

    delivery = factory.SubFactory(WebhookDeliveryFactory)
    number = factory.Sequence(lambda n: n + 1)
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    response_status = 200
    response_body = "ok"
    duration_ms = 12
