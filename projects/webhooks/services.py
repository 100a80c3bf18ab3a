"""Outgoing webhooks: emitting events, managing endpoints, test events and replays.

Who manages an owner's endpoints is who may approve on its share table (a project's
stewards, a company's owners): the owner kind's registered policy
(``projects.tables_registry.table_owner_policies``) decides, so this app never asks the
companies app directly.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from faiross.kernel.outbound import address_allowed

from ..models import WebhookDelivery, WebhookEndpoint
from ..tables_registry import table_owner_policies
from .events import EVENT_NAMES, WEBHOOK_TEST, event_choices
from .tasks import webhook_deliveries_enqueue

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
OWNER_KINDS = ("project", "company")

EventData = Mapping[str, Any]


# --- who may manage ---------------------------------------------------------------------------


def webhook_owner_manageable(*, owner_key: str, user: User | AnonymousUser) -> bool:
    """Whether ``user`` may see and manage the endpoints of ``owner_key``: those who may
    approve on its table (project stewards, company owners)."""
    kind, _, slug = owner_key.partition(":")
    policy = table_owner_policies.find(kind)
    if kind not in OWNER_KINDS or policy is None or not slug or not user.is_authenticated:
        return False
    # The same answer as projects.services.tables.table_roles (which imports this module).
    _can_propose, can_approve, _approvers = policy(slug=slug, user=user)
    return can_approve


def _require_manager(*, owner_key: str, actor: User | AnonymousUser) -> None:
    if not webhook_owner_manageable(owner_key=owner_key, user=actor):
        raise PermissionDenied(
            "Only a project's stewards or a company's owners can manage its webhooks."
        )


# --- emitting events --------------------------------------------------------------------------


def _json_safe(data: EventData) -> dict[str, Any]:
    # Dates, UUIDs and lazy strings become JSON, once, at the time of the event.
    result: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return result


def event_emit(
    *,
    owner_keys: Iterable[str] | None,
    event_type: str,
    data: EventData | Callable[[str], EventData | None],
) -> list[WebhookDelivery]:
    """Record the event ``event_type`` for the active endpoints of ``owner_keys`` that picked
    it, and send them once the caller's transaction commits.

    Preconditions: called after the state change, inside its transaction (or in autocommit).
    ``data`` is what the owner may see (privacy rule 9: a project's totals, never a person's
    amount); a callable gets each owner key and returns that owner's data, or ``None`` to
    skip it. ``owner_keys=None`` means every owner with such an endpoint (for events that
    concern many owners, like a distribution run), the callable deciding.
    Invariants: one event id per owner, shared by its endpoints; one delivery per endpoint;
    nothing is sent if the caller's transaction rolls back; the caller never fails or waits
    because of a webhook (errors are logged, sending happens after commit, elsewhere).
    """
    if event_type not in EVENT_NAMES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's work intact
            deliveries = _deliveries_create(owner_keys=owner_keys, event_type=event_type, data=data)
    except Exception:
        log.exception("webhook event %s could not be recorded", event_type)
        return []
    if deliveries:
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: webhook_deliveries_enqueue(delivery_ids=ids), robust=True)
    return deliveries


def _deliveries_create(
    *,
    owner_keys: Iterable[str] | None,
    event_type: str,
    data: EventData | Callable[[str], EventData | None],
) -> list[WebhookDelivery]:
    endpoints = WebhookEndpoint.objects.filter(active=True)
    if owner_keys is not None:
        keys = sorted(set(owner_keys))
        if not keys:
            return []
        endpoints = endpoints.filter(owner_key__in=keys)
    # Filtered here, not in SQL: the embedded SQLite database cannot search JSON lists.
    by_owner: dict[str, list[WebhookEndpoint]] = {}
    for endpoint in endpoints.order_by("pk"):
        if event_type in endpoint.events:
            by_owner.setdefault(endpoint.owner_key, []).append(endpoint)
    now = timezone.now()
    created: list[WebhookDelivery] = []
    for owner_key, owned in sorted(by_owner.items()):
        owner_data = data(owner_key) if callable(data) else data
        if owner_data is None:
            continue
        event_id = uuid.uuid4()
        payload = {
            "id": str(event_id),
            "type": event_type,
            "created": now.isoformat(),
            "owner": owner_key,
            "data": _json_safe(owner_data),
        }
        created.extend(
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(
                        endpoint=endpoint,
                        event_id=event_id,
                        event_type=event_type,
                        payload=payload,
                        next_attempt_at=now,
                    )
                    for endpoint in owned
                ]
            )
        )
    return created


# --- endpoints --------------------------------------------------------------------------------


def _url_clean(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"url": "Enter an http:// or https:// URL."}) from None
    if len(url) > 500:
        raise ValidationError({"url": "Use a URL of at most 500 characters."})
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave user names and passwords out of the URL."})
    host = (parts.hostname or "").lower()
    allowed = settings.FAIROSS_WEBHOOK_ALLOWED_NETWORKS
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    local_name = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    if (literal is not None and not address_allowed(host, allowed_networks=allowed)) or (
        local_name and not address_allowed("127.0.0.1", allowed_networks=allowed)
    ):
        # The sending refuses such addresses too (after resolving names); saying it here
        # spares a person an endpoint that can never work.
        raise ValidationError(
            {"url": "Use a public address: FairOSS does not send to private or local networks."}
        )
    return url


def _events_clean(events: Sequence[str], *, owner_kind: str) -> list[str]:
    allowed = [name for name, _ in event_choices(owner_kind=owner_kind)]
    picked = [e for e in allowed if e in set(events)]
    unknown = sorted(set(events) - set(allowed))
    if unknown:
        raise ValidationError({"events": f"Unknown event types: {', '.join(unknown)}."})
    if not picked:
        raise ValidationError({"events": "Pick at least one event."})
    return picked


@transaction.atomic
def webhook_endpoint_create(
    *, owner_key: str, actor: User, url: str, events: Sequence[str], description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint for ``owner_key``. The caller shows ``endpoint.secret`` once.

    Preconditions: ``actor`` manages the owner's webhooks. Invariants: the URL is http(s)
    without credentials and not a private or local address (unless allowed by settings);
    events are a non-empty subset of those the owner kind can receive; at most
    ``FAIROSS_WEBHOOK_ENDPOINTS_MAX`` endpoints per owner.
    """
    _require_manager(owner_key=owner_key, actor=actor)
    url = _url_clean(url)
    picked = _events_clean(events, owner_kind=owner_key.partition(":")[0])
    description = (description or "").strip()
    if len(description) > 200:
        raise ValidationError({"description": "Use at most 200 characters."})
    limit = settings.FAIROSS_WEBHOOK_ENDPOINTS_MAX
    if WebhookEndpoint.objects.filter(owner_key=owner_key).count() >= limit:
        raise ValidationError(
            {"url": f"An owner may have at most {limit} endpoints; delete one first."}
        )
    return WebhookEndpoint.objects.create(
        owner_key=owner_key,
        url=url,
        description=description,
        events=picked,
        secret=SECRET_PREFIX + secrets.token_urlsafe(32),
        created_by=actor,
    )


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, actor: User, active: bool | None = None
) -> WebhookEndpoint:
    """Turn an endpoint on or off. Deliveries of a disabled endpoint are not sent (a pending
    one fails when its turn comes, and can be replayed once it is on again)."""
    _require_manager(owner_key=endpoint.owner_key, actor=actor)
    if active is not None:
        endpoint.active = active
        endpoint.save(update_fields=["active"])
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User) -> None:
    """Delete an endpoint and its delivery log."""
    _require_manager(owner_key=endpoint.owner_key, actor=actor)
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_test(*, endpoint: WebhookEndpoint, actor: User) -> WebhookDelivery:
    """Send ``webhook.test`` to this endpoint only (whatever events it picked)."""
    _require_manager(owner_key=endpoint.owner_key, actor=actor)
    if not endpoint.active:
        raise ValidationError({"endpoint": "Turn the endpoint on before sending to it."})
    now = timezone.now()
    event_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type=WEBHOOK_TEST,
        payload={
            "id": str(event_id),
            "type": WEBHOOK_TEST,
            "created": now.isoformat(),
            "owner": endpoint.owner_key,
            "data": {"message": "A test event sent from FairOSS.", "sent_by": actor.get_username()},
        },
        next_attempt_at=now,
    )
    transaction.on_commit(
        lambda: webhook_deliveries_enqueue(delivery_ids=[delivery.pk]), robust=True
    )
    return delivery


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, actor: User) -> WebhookDelivery:
    """Send a delivery again: a new attempt with the same event id and payload.

    Preconditions: ``actor`` manages the owner's webhooks; the endpoint is on.
    """
    endpoint = delivery.endpoint
    _require_manager(owner_key=endpoint.owner_key, actor=actor)
    if not endpoint.active:
        raise ValidationError({"endpoint": "Turn the endpoint on before replaying to it."})
    transaction.on_commit(
        lambda: webhook_deliveries_enqueue(delivery_ids=[delivery.pk], manual=True), robust=True
    )
    return delivery
