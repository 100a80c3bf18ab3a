"""Money in: an invoice paid (by Stripe Checkout or by wire) becomes one inflow, however
many times the payment is confirmed; staff void invoices no longer due.

Stripe is asked, never trusted from a URL or a payload: the return from Checkout and the
webhook both look the session or payment intent up, and the invoice comes from its
``faiross_invoice`` metadata.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http.request import validate_host
from django.utils import timezone

from payouts.inflows import inflow_record
from payouts.models import Inflow
from payouts.stripe_client import stripe_client

from ..models import Invoice
from ..webhook_events import invoice_paid_emit
from ._common import _require_staff, _text_clean, require_money_actor

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _invoice_paid(
    *,
    invoice: Invoice,
    amount: int,
    currency: str,
    source: str,
    payment_reference: str,
    recorded_by: User | None = None,
) -> tuple[Invoice, bool]:
    """Mark ``invoice`` paid and record its inflow, once. Precondition: in a transaction.

    The inflow's reference is ``invoice:<id>``, so whatever confirms the payment first (the
    return from Checkout, the webhook, a replay, a wire) makes the one inflow and the others
    change nothing. Returns ``(invoice, newly paid)``.
    """
    invoice = Invoice.objects.select_for_update().select_related("company").get(pk=invoice.pk)
    if invoice.status == Invoice.Status.PAID:
        if invoice.payment_reference != payment_reference:
            log.warning(
                "invoice %s was paid again (%s, already paid by %s): refund by hand",
                invoice.number,
                payment_reference,
                invoice.payment_reference,
            )
        return invoice, False
    if invoice.status == Invoice.Status.VOID:
        raise ValidationError({"invoice": f"{invoice.number} is void."})
    if (amount, currency) != (invoice.amount, invoice.currency):
        raise ValidationError(
            {
                "amount": f"{invoice.number} is for {invoice.amount} {invoice.currency}; "
                f"the payment was {amount} {currency}."
            }
        )
    inflow, _ = inflow_record(
        company=invoice.company,
        amount=amount,
        currency=currency,
        reference=f"invoice:{invoice.pk}",
        source=source,
        recorded_by=recorded_by,
    )
    invoice.status = Invoice.Status.PAID
    invoice.paid_at = timezone.now()
    invoice.paid_via = source
    invoice.payment_reference = payment_reference[:200]
    invoice.inflow = inflow
    invoice.save(update_fields=["status", "paid_at", "paid_via", "payment_reference", "inflow"])
    invoice_paid_emit(invoice=invoice)  # webhooks, sent once the transaction commits
    return invoice, True


@transaction.atomic
def invoice_wire_received(*, invoice: Invoice, staff: User, reference: str = "") -> Invoice:
    """Staff record that an invoice was paid by wire; idempotent."""
    _require_staff(staff)
    reference = _text_clean(reference, field="reference", max_length=150, required=False)
    invoice, _ = _invoice_paid(
        invoice=invoice,
        amount=invoice.amount,
        currency=invoice.currency,
        source=Inflow.Source.WIRE,
        payment_reference=f"wire:{reference or invoice.number}",
        recorded_by=staff,
    )
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice, staff: User) -> Invoice:
    """Staff void an open invoice (money no longer due, e.g. issued in error)."""
    _require_staff(staff)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != Invoice.Status.OPEN:
        raise ValidationError({"invoice": f"{invoice.number} is {invoice.status}, not open."})
    invoice.status = Invoice.Status.VOID
    invoice.save(update_fields=["status"])
    return invoice


def _stripe() -> Any:
    return stripe_client()


def _stripe_unavailable(exc: Exception) -> ValidationError:
    log.warning("Stripe call failed: %s", exc)
    return ValidationError(
        {
            "invoice": "Stripe could not be reached or refused the request; try again in a "
            "moment, or pay by wire quoting the invoice number."
        }
    )


def _stripe_failures_as_validation(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """A Stripe failure in ``func`` becomes a ValidationError with a clear message."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        import stripe

        try:
            return func(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _stripe_unavailable(exc) from None

    return wrapper


def _own_site_hosts() -> list[str]:
    """The host patterns that are FairOSS's own site: the host of ``SITE_URL`` and the hosts
    it answers to (``ALLOWED_HOSTS``, without the catch-all ``*``)."""
    site_host = urlsplit(settings.SITE_URL).hostname
    hosts = [h for h in settings.ALLOWED_HOSTS if h != "*"]
    return [site_host, *hosts] if site_host else hosts


def _return_url_clean(url: object, *, field: str) -> str:
    """A Checkout return URL on FairOSS's own site (``http``/``https``), else a
    ValidationError naming ``field``: Stripe sends the payer there after paying, so another
    site could pose as FairOSS, or learn the Checkout Session id."""
    site = settings.SITE_URL
    if not isinstance(url, str) or not url:
        raise ValidationError({field: f"Give a page of FairOSS's own site ({site})."})
    # Browsers read a backslash as a slash and drop control characters, so such a URL may
    # go to another host than the one it seems to name.
    if "\\" in url or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ValidationError({field: "Must be a plain URL (no spaces or backslashes)."})
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({field: "Must be an http:// or https:// URL."})
    if parts.username is not None or parts.password is not None:
        raise ValidationError({field: "Must not contain a user name or password."})
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if not validate_host(host, _own_site_hosts()):
        raise ValidationError(
            {field: f"Must be a page of FairOSS's own site ({site}), not of {parts.hostname}."}
        )
    return url


@_stripe_failures_as_validation
def invoice_checkout_start(
    *, invoice: Invoice, actor: User, success_url: str, cancel_url: str
) -> str:
    """The Stripe Checkout page for an open invoice (owners and finance members).

    ``success_url`` and ``cancel_url`` must be on FairOSS's own site. Each member pays in a
    session of their own: the invoice's open session is reused for the member who opened it
    (a double click opens the same page), another member gets a new one; a paid session is
    recorded; an expired one is replaced. Stripe calls carry idempotency keys
    ``invoice-<id>-checkout-<attempt>``. Stripe failures become a ValidationError.
    """
    require_money_actor(company=invoice.company, user=actor)
    success_url = _return_url_clean(success_url, field="success_url")
    cancel_url = _return_url_clean(cancel_url, field="cancel_url")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != Invoice.Status.OPEN:
            raise ValidationError({"invoice": f"{invoice.number} is {invoice.status}."})
        client = _stripe()
        if invoice.stripe_checkout_session:
            session = client.v1.checkout.sessions.retrieve(invoice.stripe_checkout_session)
            if session.status == "complete":
                _record_session(invoice=invoice, session=session)
                raise ValidationError({"invoice": f"{invoice.number} is already paid."})
            # A Checkout page belongs to whoever opened it (its URL is the payment form), so
            # another member does not get it: they get a session of their own below.
            opener = _metadata(session, "faiross_member")
            if session.status == "open" and session.url and opener == str(actor.pk):
                return str(session.url)
        invoice.checkout_attempts += 1
        metadata = {
            "faiross_invoice": str(invoice.pk),
            "faiross_company": invoice.company.slug,
            "faiross_member": str(actor.pk),
        }
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": invoice.currency,
                            "unit_amount": invoice.amount,
                            "product_data": {
                                "name": f"FairOSS {invoice.number}: {invoice.description}"[:250]
                            },
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "client_reference_id": f"invoice-{invoice.pk}",
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
            },
            options={
                "idempotency_key": f"invoice-{invoice.pk}-checkout-{invoice.checkout_attempts}"
            },
        )
        invoice.stripe_checkout_session = session.id
        invoice.save(update_fields=["stripe_checkout_session", "checkout_attempts"])
        return str(session.url)


def _metadata(obj: Any, key: str) -> str:
    """A metadata value of a Stripe object, '' when missing."""
    metadata = getattr(obj, "metadata", None)
    if not metadata:
        return ""
    try:
        return str(metadata[key])
    except KeyError:
        return ""


def _metadata_invoice(obj: Any) -> Invoice | None:
    """The invoice a Stripe object's ``faiross_invoice`` metadata names, if it exists."""
    invoice_id = _metadata(obj, "faiross_invoice")
    if not str(invoice_id or "").isdigit():
        return None
    return Invoice.objects.filter(pk=int(invoice_id)).first()


def _record_session(*, invoice: Invoice, session: Any) -> bool:
    """Record a Checkout Session's payment if Stripe says it is paid; True when paid."""
    if session.status != "complete" or session.payment_status != "paid":
        return False
    if _metadata(session, "faiross_invoice") != str(invoice.pk):
        raise ValidationError({"session_id": "This Checkout Session is for another invoice."})
    _invoice_paid(
        invoice=invoice,
        amount=int(session.amount_total),
        currency=str(session.currency).lower(),
        source=Inflow.Source.STRIPE,
        payment_reference=f"stripe:{session.payment_intent or session.id}",
    )
    return True


@_stripe_failures_as_validation
@transaction.atomic
def invoice_checkout_confirm(*, invoice: Invoice, session_id: str) -> bool:
    """On return from Checkout: look the session up at Stripe (never trust the URL) and
    record the payment if it is paid. True when the invoice is paid. Stripe failures become
    a ValidationError (the webhook records the payment later)."""
    if not isinstance(session_id, str) or not session_id.startswith("cs_") or len(session_id) > 100:
        raise ValidationError({"session_id": "This is not a Checkout Session id."})
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status == Invoice.Status.PAID:
        return True
    session = _stripe().v1.checkout.sessions.retrieve(session_id)
    return _record_session(invoice=invoice, session=session)


PAYMENT_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
}


@transaction.atomic
def stripe_payment_event_handle(*, event: Mapping[str, Any]) -> None:
    """Handle a verified Stripe payment event (called by the webhook endpoint).

    The object is looked up through the Stripe API rather than trusted from the payload;
    the invoice comes from its ``faiross_invoice`` metadata. Replays and duplicates change
    nothing (see :func:`_invoice_paid`). Events of other types, or for no FairOSS invoice,
    are ignored.
    """
    kind = event.get("type") if isinstance(event, dict) else None
    if kind not in PAYMENT_EVENTS:
        return
    obj = (event.get("data") or {}).get("object") or {}
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(object_id, str):
        return
    client = _stripe()
    record: Callable[[], object]
    if kind == "payment_intent.succeeded":
        intent = client.v1.payment_intents.retrieve(object_id)
        invoice = _metadata_invoice(intent)
        if invoice is None or intent.status != "succeeded":
            return
        record = functools.partial(
            _invoice_paid,
            invoice=invoice,
            amount=int(intent.amount_received or intent.amount),
            currency=str(intent.currency).lower(),
            source=Inflow.Source.STRIPE,
            payment_reference=f"stripe:{intent.id}",
        )
    else:
        session = client.v1.checkout.sessions.retrieve(object_id)
        invoice = _metadata_invoice(session)
        if invoice is None:
            return
        record = functools.partial(_record_session, invoice=invoice, session=session)
    try:
        record()
    except ValidationError as exc:
        # A payment that does not match its invoice is for staff to look at; retrying the
        # event would not change it.
        log.error("Stripe event %s for %s not recorded: %s", event.get("id"), invoice, exc)
