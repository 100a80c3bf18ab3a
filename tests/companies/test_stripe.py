"""Money in through the local Stripe test server: Checkout, return, webhooks, replays."""

import pytest
from django.core.exceptions import ValidationError

from companies import services
from companies.models import Invoice
from payouts.models import Inflow
from tests.factories import AgreementFactory, InvoiceFactory

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]
pytestmark = pytest.mark.django_db


def open_page(url, form=None):
    # imported late: tests/local_stripe/test_server.py registers the module for assert
    # rewriting, which must happen before anything imports it
    from tests.payouts.stripe_fixtures import open_page as _open_page

    return _open_page(url, form)


# Checkout returns only to FairOSS's own site (SITE_URL of the test settings).
SUCCESS = "http://127.0.0.1:8000/paid/?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "http://127.0.0.1:8000/cancel/"


@pytest.fixture
def invoice(company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    return InvoiceFactory(agreement=agreement, amount=250_000)


def start(invoice, actor):
    return services.invoice_checkout_start(
        invoice=invoice, actor=actor, success_url=SUCCESS, cancel_url=CANCEL
    )


def pay(url):
    status, _, location = open_page(url, {"action": "pay"})
    assert status == 303
    return location.rsplit("=", 1)[1]


def test_checkout_then_return_records_one_inflow(stripe_settings, invoice, finance):
    url = start(invoice, finance)
    assert url == start(invoice, finance)  # a double click opens the same page
    status, page, _ = open_page(url)
    assert status == 200 and invoice.number in page and "2,500.00" not in page
    session_id = pay(url)
    assert services.invoice_checkout_confirm(invoice=invoice, session_id=session_id) is True
    assert services.invoice_checkout_confirm(invoice=invoice, session_id=session_id) is True
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_via == "stripe"
    assert invoice.payment_reference.startswith("stripe:pi_")
    inflow = Inflow.objects.get()
    assert (inflow.amount, inflow.source, inflow.company_id) == (
        250_000,
        "stripe",
        invoice.company_id,
    )
    # creating the session carried an idempotency key
    created = stripe_settings.requests(method="POST", path_prefix="/v1/checkout/sessions")
    assert len(created) == 1
    with pytest.raises(ValidationError):
        start(invoice, finance)  # already paid


def test_webhook_events_and_replays_make_one_inflow(stripe_settings, invoice, finance):
    session_id = pay(start(invoice, finance))
    event = {
        "id": "evt_1",
        "type": "checkout.session.completed",
        "data": {"object": {"id": session_id, "object": "checkout.session"}},
    }
    services.stripe_payment_event_handle(event=event)
    services.stripe_payment_event_handle(event=event)  # replayed
    invoice.refresh_from_db()
    intent = {
        "id": "evt_2",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": invoice.payment_reference.removeprefix("stripe:")}},
    }
    services.stripe_payment_event_handle(event=intent)
    services.invoice_checkout_confirm(invoice=invoice, session_id=session_id)  # the return
    assert Inflow.objects.count() == 1
    assert Invoice.objects.get().status == "paid"


def test_payload_is_not_trusted(stripe_settings, invoice, finance):
    start(invoice, finance)
    invoice.refresh_from_db()
    # A forged "completed" event for an unpaid session: Stripe says it is open, nothing happens.
    forged = {
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": invoice.stripe_checkout_session,
                "payment_status": "paid",
                "metadata": {"faiross_invoice": str(invoice.pk)},
            }
        },
    }
    services.stripe_payment_event_handle(event=forged)
    assert (
        services.invoice_checkout_confirm(
            invoice=invoice, session_id=invoice.stripe_checkout_session
        )
        is False
    )
    assert not Inflow.objects.exists()
    for junk in (
        {},
        {"type": "charge.refunded"},
        {"type": "checkout.session.completed"},
        {"type": "checkout.session.completed", "data": {"object": {"id": 5}}},
    ):
        services.stripe_payment_event_handle(event=junk)
    with pytest.raises(ValidationError):
        services.invoice_checkout_confirm(invoice=invoice, session_id="../etc")


def test_a_session_of_another_invoice_is_refused(stripe_settings, company, owner, staff, finance):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    first, second = (InvoiceFactory(agreement=agreement, amount=100_000 * n) for n in (1, 2))
    session_id = pay(start(first, finance))
    with pytest.raises(ValidationError):
        services.invoice_checkout_confirm(invoice=second, session_id=session_id)
    assert not Inflow.objects.exists()


def test_expired_session_is_replaced(stripe_settings, invoice, finance):
    first = start(invoice, finance)
    stripe_settings.advance(25 * 3600)
    second = start(invoice, finance)
    assert first != second
    invoice.refresh_from_db()
    assert invoice.checkout_attempts == 2


def test_viewer_cannot_pay(stripe_settings, invoice, viewer):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        start(invoice, viewer)


def signed(body: bytes, secret: str) -> str:
    import hashlib
    import hmac
    import time

    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def test_through_the_webhook_endpoint_twice_makes_one_inflow(
    stripe_settings, invoice, finance, client, settings
):
    import json

    session_id = pay(start(invoice, finance))
    body = json.dumps(
        {
            "id": "evt_checkout_1",
            "object": "event",
            "type": "checkout.session.completed",
            "created": 1_790_000_000,
            "livemode": False,
            "data": {"object": {"id": session_id, "object": "checkout.session"}},
        }
    ).encode()
    for _ in range(2):
        r = client.post(
            "/payouts/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signed(body, settings.STRIPE_WEBHOOK_SECRET),
        )
        assert r.status_code == 200, r.content
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert Inflow.objects.count() == 1


def test_stripe_failures_are_clear_messages(stripe_settings, invoice, finance):
    stripe_settings.fault("/v1/checkout/sessions", "500", method="POST", count=5)
    with pytest.raises(ValidationError) as exc:
        start(invoice, finance)
    assert "pay by wire" in exc.value.message_dict["invoice"][0]
    with pytest.raises(ValidationError):
        services.invoice_checkout_confirm(invoice=invoice, session_id="cs_test_missing")
    invoice.refresh_from_db()
    assert invoice.status == "open" and not Inflow.objects.exists()
