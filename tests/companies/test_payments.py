"""Stripe Checkout for invoices: returns only to FairOSS's own site, one session per paying
member, and a company's "require MFA" rule in front of paying."""

import pytest
import stripe
from django.core.exceptions import PermissionDenied, ValidationError

from companies import services
from companies.models import Invoice
from tests.factories import AgreementFactory, InvoiceFactory

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]
pytestmark = pytest.mark.django_db

SUCCESS = "http://127.0.0.1:8000/companies/acme/paid/?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "http://testserver/companies/acme/"


@pytest.fixture
def invoice(company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    return InvoiceFactory(agreement=agreement, amount=90_000)


def start(invoice, actor, success=SUCCESS, cancel=CANCEL):
    return services.invoice_checkout_start(
        invoice=invoice, actor=actor, success_url=success, cancel_url=cancel
    )


@pytest.mark.parametrize(
    ("success", "cancel", "field", "message"),
    [
        ("https://evil.example/phish", CANCEL, "success_url", "own site"),
        (SUCCESS, "https://127.0.0.1.evil.example/", "cancel_url", "own site"),
        ("https://evil.example\\@127.0.0.1/", CANCEL, "success_url", "backslashes"),
        ("https://me:pw@127.0.0.1/x", CANCEL, "success_url", "user name"),
        ("javascript:alert(1)//127.0.0.1", CANCEL, "success_url", "http"),
        ("", CANCEL, "success_url", "own site"),
    ],
)
def test_checkout_returns_only_to_faiross(
    stripe_settings, invoice, finance, success, cancel, field, message
):
    with pytest.raises(ValidationError) as refused:
        start(invoice, finance, success, cancel)
    assert message in refused.value.message_dict[field][0]
    assert not stripe_settings.requests(method="POST", path_prefix="/v1/checkout/sessions")
    invoice.refresh_from_db()
    assert invoice.stripe_checkout_session == ""


def test_the_api_answers_a_foreign_return_url_with_a_400(
    stripe_settings, api_client, invoice, finance
):
    api_client.force_authenticate(finance)
    answer = api_client.post(
        f"/api/v1/companies/acme/invoices/{invoice.pk}/checkout/",
        {"success_url": "https://evil.example/"},
        format="json",
    )
    assert answer.status_code == 400
    assert "own site" in answer.json()["success_url"][0]
    # the defaults are FairOSS's own pages
    assert (
        api_client.post(
            f"/api/v1/companies/acme/invoices/{invoice.pk}/checkout/", {}, format="json"
        ).status_code
        == 200
    )


def test_a_second_member_gets_a_checkout_session_of_their_own(
    stripe_settings, invoice, finance, owner
):
    first = start(invoice, finance)
    assert start(invoice, finance) == first  # the same member: the same page
    second = start(invoice, owner)
    assert second != first
    invoice.refresh_from_db()
    session = stripe.checkout.Session.retrieve(invoice.stripe_checkout_session)
    assert session["metadata"]["faiross_member"] == str(owner.pk)
    assert session["url"] == second
    assert invoice.checkout_attempts == 2


def test_require_mfa_refuses_paying_from_a_password_only_session(
    stripe_settings, invoice, company, finance
):
    company.require_mfa = True
    company.save(update_fields=["require_mfa"])
    with pytest.raises(PermissionDenied, match="two-factor"):
        start(invoice, finance)
    assert Invoice.objects.get().stripe_checkout_session == ""
