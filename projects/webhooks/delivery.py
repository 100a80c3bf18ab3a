"""Sending one webhook delivery: sign, POST through the outbound client, log the attempt,
schedule the next one with backoff or give up.

An attempt is three steps, so no database transaction stays open while a receiver thinks:
claim (lock the delivery, count the attempt, lease it so no other worker sends it at the same
time), send (no transaction), record (lock again, write the answer and what happens next).
A worker that dies between claim and record leaves the lease; when it runs out the sweep
(``projects.webhooks.tasks.webhook_deliveries_sweep``) sends the delivery again. Receivers must
therefore expect an event more than once and deduplicate by its ``id`` (docs/webhooks.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from faiross.kernel.outbound import OutboundAddressRefused, OutboundError, outbound_post

from ..models import WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

EXCERPT_CHARS = 1000  # of the receiver's answer, kept with the attempt
RESPONSE_MAX_BYTES = 16 * 1024  # read of the answer; the rest is dropped
SIGNATURE_HEADER = "FairOSS-Signature"
EVENT_HEADER = "FairOSS-Event"
DELIVERY_HEADER = "FairOSS-Delivery"


def webhook_body(payload: Any) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``FairOSS-Signature`` header: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>``,
    Stripe's scheme, so receivers can reject old (replayed) requests by ``t``."""
    signed = f"{timestamp}.".encode() + body
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_retry_delay(*, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …): the bound doubles
    from ``FAIROSS_WEBHOOK_RETRY_BASE_SECONDS`` up to ``FAIROSS_WEBHOOK_RETRY_MAX_SECONDS``,
    and the wait is random in its upper half (jitter, so failed receivers coming back are not
    hit by every retry at once, while the waits still grow)."""
    base = float(settings.FAIROSS_WEBHOOK_RETRY_BASE_SECONDS)
    bound = min(float(settings.FAIROSS_WEBHOOK_RETRY_MAX_SECONDS), base * 2 ** (attempt - 1))
    return bound / 2 + (rng or random).uniform(0, bound / 2)


@dataclass(frozen=True)
class AttemptOutcome:
    """What one call of :func:`webhook_delivery_attempt` did."""

    delivery_id: int
    sent: bool  # False: nothing was due (already delivered, leased by another worker, gone)
    status: str  # the delivery's status afterwards
    response_status: int | None = None
    retry_in: float | None = None  # seconds until the next automatic attempt, if any


@dataclass(frozen=True)
class _Claim:
    attempt_id: int
    number: int
    url: str
    secret: str
    body: bytes
    event_type: str


def _lease_seconds() -> float:
    return float(settings.FAIROSS_WEBHOOK_TIMEOUT_SECONDS) + 60


@transaction.atomic
def _claim(*, delivery_id: int, manual: bool) -> _Claim | str | None:
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        return None
    now = timezone.now()
    if not manual:
        due = delivery.next_attempt_at is not None and delivery.next_attempt_at <= now
        if delivery.status != WebhookDelivery.Status.PENDING or not due:
            return delivery.status
        if not delivery.endpoint.active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.error = "The endpoint is disabled."
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "error", "next_attempt_at"])
            return delivery.status
        # The lease: until it ends no other worker or sweep takes this delivery.
        delivery.next_attempt_at = now + dt.timedelta(seconds=_lease_seconds())
    delivery.attempts += 1
    delivery.save(update_fields=["attempts", "next_attempt_at"])
    attempt = WebhookAttempt.objects.create(
        delivery=delivery, number=delivery.attempts, manual=manual, started_at=now
    )
    return _Claim(
        attempt_id=attempt.pk,
        number=delivery.attempts,
        url=delivery.endpoint.url,
        secret=delivery.endpoint.secret,
        body=webhook_body(delivery.payload),
        event_type=delivery.event_type,
    )


def _send(*, claim: _Claim, delivery_id: int) -> tuple[int | None, str, str, bool]:
    """POST the delivery; ``(status or None, answer excerpt, error, final)``, ``final`` when
    trying again cannot help (a refused address). Never raises."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: webhook_signature(
            secret=claim.secret, timestamp=timestamp, body=claim.body
        ),
        EVENT_HEADER: claim.event_type,
        DELIVERY_HEADER: str(delivery_id),
    }
    try:
        response = outbound_post(
            claim.url,
            body=claim.body,
            headers=headers,
            timeout=float(settings.FAIROSS_WEBHOOK_TIMEOUT_SECONDS),
            max_bytes=RESPONSE_MAX_BYTES,
            allowed_networks=settings.FAIROSS_WEBHOOK_ALLOWED_NETWORKS,
        )
    except OutboundAddressRefused as exc:
        return None, "", str(exc)[:300], True
    except OutboundError as exc:
        return None, "", str(exc)[:300], False
    except Exception:  # a bug here must not lose the attempt's record
        log.exception("webhook delivery %s: sending failed", delivery_id)
        return None, "", "FairOSS could not send this request (internal error).", False
    return response.status, response.text[:EXCERPT_CHARS], "", False


@transaction.atomic
def _record(
    *,
    delivery_id: int,
    claim: _Claim,
    manual: bool,
    response_status: int | None,
    excerpt: str,
    error: str,
    final: bool,
    duration_ms: int,
) -> AttemptOutcome:
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    now = timezone.now()
    ok = response_status is not None and 200 <= response_status < 300
    if not ok and not error:
        error = f"The endpoint answered HTTP {response_status}; FairOSS expects a 2xx answer."
    WebhookAttempt.objects.filter(pk=claim.attempt_id).update(
        finished_at=now,
        response_status=response_status,
        response_body=excerpt,
        error=error,
        duration_ms=duration_ms,
    )
    delivery.response_status = response_status
    delivery.response_body = excerpt
    delivery.error = error
    retry_in: float | None = None
    if ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif manual:
        # A replay does not start a new schedule; a pending delivery keeps its own.
        if delivery.status != WebhookDelivery.Status.PENDING:
            delivery.status = WebhookDelivery.Status.FAILED
    elif final or delivery.attempts >= settings.FAIROSS_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        retry_in = webhook_retry_delay(attempt=delivery.attempts)
        delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
    delivery.save(
        update_fields=[
            "status",
            "response_status",
            "response_body",
            "error",
            "next_attempt_at",
            "delivered_at",
        ]
    )
    log.info(
        "webhook delivery %s attempt %s: %s %s",
        delivery_id,
        claim.number,
        response_status or "-",
        error or "ok",
    )
    return AttemptOutcome(
        delivery_id=delivery_id,
        sent=True,
        status=delivery.status,
        response_status=response_status,
        retry_in=retry_in,
    )


def webhook_delivery_attempt(*, delivery_id: int, manual: bool = False) -> AttemptOutcome:
    """Make one attempt at sending delivery ``delivery_id`` and record it.

    Automatic attempts (``manual=False``) run only when the delivery is pending and due, so a
    task that runs twice, late, or alongside the sweep sends once. A manual attempt (a replay
    from the page) is always made and does not change the automatic schedule.
    Invariants: every attempt made is a :class:`WebhookAttempt` row with the answer's status
    and an excerpt of its body; after ``FAIROSS_WEBHOOK_MAX_ATTEMPTS`` failed automatic
    attempts, or one refused address (it will not become public by waiting), the delivery
    is failed; the call never raises for a receiver's failure.
    """
    claim = _claim(delivery_id=delivery_id, manual=manual)
    if not isinstance(claim, _Claim):
        return AttemptOutcome(delivery_id=delivery_id, sent=False, status=claim or "gone")
    started = time.monotonic()
    response_status, excerpt, error, final = _send(claim=claim, delivery_id=delivery_id)
    return _record(
        delivery_id=delivery_id,
        claim=claim,
        manual=manual,
        response_status=response_status,
        excerpt=excerpt,
        error=error,
        final=final,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def webhook_deliveries_due(*, limit: int = 500) -> list[int]:
    """Ids of pending deliveries whose next attempt is due (oldest first)."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
