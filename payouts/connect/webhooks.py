"""Stripe webhooks: verify the signature, store each event once, process it in its own
transaction. Connect events (accounts, transfers) are handled here; payment events go to the
handler the companies app registered (``payouts.webhook_handlers``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from payouts.connect._common import _get
from payouts.connect.accounts import connected_account_apply
from payouts.connect.transfers import payout_transfer_event
from payouts.models import ConnectedAccount, StripeEvent
from payouts.webhook_handlers import handler_for

log = logging.getLogger(__name__)


# Stripe's tolerance for a signature's timestamp, in seconds, both ways.
SIGNATURE_TOLERANCE = 300


class WebhookSignatureError(ValueError):
    """A webhook whose Stripe-Signature is missing, malformed, wrong, too old or dated in
    the future."""


def _signature_timestamp(signature: str) -> int | None:
    """The ``t=`` of a Stripe-Signature header, read as the stripe library reads it (the
    first one), or None."""
    for item in signature.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def stripe_event_verify(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event of a webhook request, if its Stripe-Signature verifies against the platform
    or the Connect endpoint secret and is dated within Stripe's 5-minute tolerance of now, in
    the past or the future; else :class:`WebhookSignatureError`.

    The stripe library only refuses signatures that are too old; one dated ahead (a signer
    with a wrong clock, or a signature made to be replayed later) would stay valid until its
    date plus the tolerance, so it is refused here.
    """
    secrets = [
        s for s in (settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_CONNECT_WEBHOOK_SECRET) if s
    ]
    if not signature or not secrets:
        raise WebhookSignatureError("missing Stripe-Signature header or no webhook secret set")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookSignatureError("the body is not UTF-8") from None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                text, signature, secret, tolerance=SIGNATURE_TOLERANCE
            )
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        raise WebhookSignatureError("the signature does not match or is too old")
    timestamp = _signature_timestamp(signature)
    if timestamp is None or timestamp > time.time() + SIGNATURE_TOLERANCE:
        raise WebhookSignatureError("the signature is dated in the future")
    try:
        event = json.loads(text)
    except ValueError:
        raise WebhookSignatureError("the body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event.get("type"):
        raise WebhookSignatureError("the body is not a Stripe event")
    return event


def stripe_event_record(*, event: Mapping[str, Any]) -> tuple[StripeEvent, bool]:
    """Store a verified event once (unique by id); a duplicate only counts the delivery."""
    created_ts = event.get("created")
    stripe_created = (
        dt.datetime.fromtimestamp(int(created_ts), tz=dt.UTC)
        if isinstance(created_ts, int)
        else None
    )
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(
                event_id=str(event["id"])[:255],
                type=str(event["type"])[:100],
                account=str(event.get("account") or "")[:255],
                livemode=bool(event.get("livemode")),
                stripe_created=stripe_created,
                payload=dict(event),
            )
            return record, True
    except IntegrityError:
        StripeEvent.objects.filter(event_id=event["id"]).update(deliveries=F("deliveries") + 1)
        return StripeEvent.objects.get(event_id=event["id"]), False


def stripe_event_process(*, event_id: str) -> StripeEvent:
    """Process a stored event once, in its own transaction (a failure is recorded and the
    event processed again on the next delivery or by staff). Order does not matter: account
    updates apply only when newer, transfer events confirm payouts idempotently."""
    with transaction.atomic():
        record = StripeEvent.objects.select_for_update().get(event_id=event_id)
        if record.status in (
            StripeEvent.Status.PROCESSED,
            StripeEvent.Status.IGNORED,
        ):
            return record
        try:
            with transaction.atomic():
                status = _stripe_event_dispatch(record.payload, record.stripe_created)
        except Exception as exc:  # recorded; Stripe delivers again
            log.exception("processing Stripe event %s failed", event_id)
            record.status = StripeEvent.Status.FAILED
            record.error = f"{type(exc).__name__}: {exc}"[:2000]
            record.save(update_fields=["status", "error"])
            return record
        record.status = status
        record.error = ""
        record.processed_at = timezone.now()
        record.save(update_fields=["status", "error", "processed_at"])
    return record


def _stripe_event_dispatch(event: Mapping[str, Any], created: dt.datetime | None) -> str:
    kind = str(event.get("type"))
    obj = _get(event, "data", "object", default={}) or {}
    if kind == "account.updated":
        account = ConnectedAccount.objects.filter(stripe_account_id=_get(obj, "id")).first()
        if account is None:
            return StripeEvent.Status.IGNORED
        connected_account_apply(account=account, data=obj, event_created=created)
        return StripeEvent.Status.PROCESSED
    if kind in ("transfer.created", "transfer.updated", "transfer.reversed"):
        return payout_transfer_event(transfer=obj, reversed_event=kind == "transfer.reversed")
    handler = handler_for(kind)
    if handler is None:
        return StripeEvent.Status.IGNORED
    handler(event=dict(event))
    return StripeEvent.Status.PROCESSED
