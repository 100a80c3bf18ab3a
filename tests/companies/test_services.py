"""Company services: every rule, and nothing stored on a refusal."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from companies import services
from companies.models import (
    Agreement,
    AgreementSignature,
    CompanyMember,
    DividendDeclaration,
    Invoice,
    LiquidityEvent,
)
from payouts.models import Inflow, LedgerTransaction
from projects.auth import user_second_factor_mark
from tests.factories import AGREEMENT_TERMS, AgreementFactory, InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db

D = dt.date


def errors(exc_info) -> dict:
    return exc_info.value.message_dict


# --- companies and members ------------------------------------------------------------------


# A valid new company (the country in lower case); the bad cases change one value.
NEW_COMPANY = {
    "slug": "initech",
    "name": "Initech LLC",
    "country": "us",
    "kind": "mature",
    "website": "https://initech.example",
}


def test_creator_becomes_owner(owner):
    company = services.company_create(creator=owner, **NEW_COMPANY)
    assert company.country == "US" and company.owner_key == "company:initech"
    assert CompanyMember.objects.get(company=company).role == "owner"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Bad Slug"),
        ("slug", "groundwater"),
        ("slug", "acme"),
        ("name", ""),
        ("country", "USA"),
        ("website", "ftp://x"),
        ("kind", "bank"),
    ],
)
def test_bad_company_values_are_named(owner, company, field, value):
    with pytest.raises(ValidationError) as exc:
        services.company_create(creator=owner, **(NEW_COMPANY | {field: value}))
    assert field in errors(exc)
    assert not CompanyMember.objects.filter(company__slug="initech").exists()


def test_invitations_by_username_and_email(company, owner):
    bob = UserFactory(username="bob")
    inv = services.company_invite(company=company, actor=owner, target="bob", role="viewer")
    assert inv.user == bob
    member = services.company_invitation_answer(invitation=inv, user=bob, accept=True)
    assert member.role == "viewer"
    by_mail = services.company_invite(
        company=company, actor=owner, target="Carol@Example.org", role="finance"
    )
    assert by_mail.email == "carol@example.org" and by_mail.user is None
    carol = UserFactory(username="carol", email="carol@example.org")
    assert (
        services.company_invitation_answer(invitation=by_mail, user=carol, accept=True).role
        == "finance"
    )
    with pytest.raises(ValidationError):
        services.company_invite(company=company, actor=owner, target="bob", role="viewer")
    with pytest.raises(ValidationError):
        services.company_invite(company=company, actor=owner, target="nobody", role="viewer")


def test_only_owners_invite_and_others_cannot_accept(company, finance, owner):
    with pytest.raises(PermissionDenied):
        services.company_invite(
            company=company, actor=finance, target="x@example.org", role="owner"
        )
    inv = services.company_invite(
        company=company, actor=owner, target="x@example.org", role="owner"
    )
    with pytest.raises(PermissionDenied):
        services.company_invitation_answer(invitation=inv, user=finance, accept=True)


def test_last_owner_stays(company, owner, finance, viewer):
    with pytest.raises(ValidationError):
        services.company_member_set(company=company, actor=owner, user=owner, role=None)
    with pytest.raises(ValidationError):
        services.company_member_set(company=company, actor=owner, user=owner, role="viewer")
    services.company_member_set(company=company, actor=owner, user=finance, role="owner")
    services.company_member_set(company=company, actor=owner, user=owner, role=None)
    with pytest.raises(PermissionDenied):
        services.company_member_set(company=company, actor=viewer, user=finance, role="viewer")
    services.company_member_set(company=company, actor=viewer, user=viewer, role=None)  # leave


# --- agreements: terms --------------------------------------------------------------------


def create(company, actor, kind, **changes):
    data = {"currency": "usd", "start_date": "2025-01-01", **AGREEMENT_TERMS[kind], **changes}
    return services.agreement_create(company=company, actor=actor, kind=kind, terms_data=data)


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("pledge", {"amount": -5}, "amount"),
        ("pledge", {"amount": 0}, "amount"),
        ("pledge", {"amount": 10**13}, "amount"),
        ("pledge", {"amount": "2000"}, "amount"),
        ("pledge", {"developers": 0}, "developers"),
        ("pledge", {"developers": 100_000, "amount": 10**8}, "amount"),
        ("pledge", {"period": "weekly"}, "period"),
        ("pledge", {"currency": "xyz"}, "currency"),
        ("pledge", {"start_date": "2025-13-01"}, "start_date"),
        ("pledge", {"start_date": "1999-01-01"}, "start_date"),
        ("pledge", {"end_date": "2024-01-01"}, "end_date"),
        ("pledge", {"share_millibips": 5}, "non_field_errors"),
        ("dividend", {"share_millibips": 0}, "share_millibips"),
        ("dividend", {"share_millibips": -1}, "share_millibips"),
        ("dividend", {"share_millibips": 5_000_001}, "share_millibips"),
        ("dividend", {"share_millibips": 12.5}, "share_millibips"),
        ("equity", {"time_vesting_millibips": 8_000_000}, "milestones"),
        ("equity", {"milestones": []}, "milestones"),
        ("equity", {"cliff_months": 60, "vesting_months": 48}, "cliff_months"),
        ("equity", {"vesting_months": 121}, "vesting_months"),
        ("equity", {"share_count": 0}, "share_count"),
        ("equity", {"share_class": ""}, "share_class"),
        ("equity", {"milestones": [{"title": "", "millibips": 2_500_000}]}, "milestones"),
        ("equity", {"milestones": [{"title": "x", "millibips": -1}]}, "milestones"),
        ("carry", {}, "kind"),  # acme is not a VC fund
    ],
)
def test_bad_terms_are_refused_and_nothing_is_stored(company, owner, kind, changes, field):
    with pytest.raises(ValidationError) as exc:
        create(company, owner, kind, **changes)
    assert field in errors(exc), errors(exc)
    assert not Agreement.objects.exists()


def test_vesting_that_does_not_add_up_says_so(company, owner):
    with pytest.raises(ValidationError) as exc:
        create(company, owner, "equity", time_vesting_millibips=6_000_000)
    assert "add up to 85%" in errors(exc)["milestones"][0]


def test_viewers_and_outsiders_cannot_act_on_money(company, viewer, outsider, owner):
    for user in (viewer, outsider):
        with pytest.raises(PermissionDenied):
            create(company, user, "pledge")
    agreement = create(company, owner, "pledge")
    with pytest.raises(PermissionDenied, match="Viewers"):
        services.agreement_sign(agreement=agreement, actor=viewer, ip_address=None, user_agent="")
    with pytest.raises(PermissionDenied):
        services.agreement_sign(agreement=agreement, actor=outsider, ip_address=None, user_agent="")
    assert not AgreementSignature.objects.exists()
    assert Agreement.objects.get().status == "draft"


def test_mfa_requirement_is_enforced_for_money(company, finance):
    company.require_mfa = True
    company.save()
    with pytest.raises(PermissionDenied, match="two-factor"):
        create(company, finance, "pledge")
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=finance, type=Authenticator.Type.TOTP, data={"secret": "x"})
    # MFA on the account is not enough: this request must have passed the second factor
    # (tests/projects/test_auth.py signs in for real).
    with pytest.raises(PermissionDenied, match="without it"):
        create(company, finance, "pledge")
    user_second_factor_mark(user=finance, second_factor=True)
    assert create(company, finance, "pledge").status == "draft"


def test_owner_cannot_require_mfa_without_having_it(company, owner):
    with pytest.raises(ValidationError):
        services.company_update(company=company, actor=owner, require_mfa=True)


# --- lifecycle ------------------------------------------------------------------------------


def test_lifecycle_draft_signed_active_ended(company, finance, staff, owner):
    agreement = create(company, finance, "dividend")
    with pytest.raises(ValidationError):
        services.agreement_countersign(agreement=agreement, staff=staff)  # not signed yet
    sig = services.agreement_sign(
        agreement=agreement, actor=finance, ip_address="203.0.113.9", user_agent="Firefox"
    )
    agreement.refresh_from_db()
    assert agreement.status == "signed" and agreement.document_sha256 == sig.document_sha256
    assert (
        "FairOSS is due 1% of the total declared" in agreement.document_html
        and "millibips" not in agreement.document_html
        and "ACME Corp" in agreement.document_html
    )
    assert (sig.user, sig.ip_address, sig.user_agent) == (finance, "203.0.113.9", "Firefox")
    with pytest.raises(ValidationError):
        services.agreement_sign(agreement=agreement, actor=owner, ip_address=None, user_agent="")
    with pytest.raises(PermissionDenied):
        services.agreement_countersign(agreement=agreement, staff=owner)
    agreement = services.agreement_countersign(agreement=agreement, staff=staff)
    assert agreement.status == "active" and agreement.signatures.count() == 2
    agreement = services.agreement_end(agreement=agreement, actor=owner, reason="Budget cut.")
    assert agreement.status == "ended" and agreement.end_reason == "Budget cut."
    assert agreement.signatures.count() == 2  # history kept
    with pytest.raises(ValidationError):
        services.agreement_end(agreement=agreement, actor=owner, reason="again")


# --- money due ------------------------------------------------------------------------------


def test_pledge_invoices_once_per_period(company, owner, staff):
    agreement = AgreementFactory(
        company=company,
        actor=owner,
        staff=staff,
        kind="pledge",
        start_date=timezone.localdate() - dt.timedelta(days=400),
    )
    assert agreement.invoices.count() == 2
    assert all(i.amount == 600_000 for i in agreement.invoices.all())
    assert services.pledge_invoices_issue() == []
    later = services.pledge_invoices_issue(today=timezone.localdate() + dt.timedelta(days=400))
    assert len(later) == 1 and agreement.invoices.count() == 3


@pytest.mark.parametrize(
    ("kind", "amount", "currency", "on", "due"),
    [
        ("dividend", 123_456_789, "USD", "2025-06-30", 1_234_567),  # 1% of 1,234,567.89 → 12,345.67
        ("carry", 5_000_000_00, "usd", "2025-12-31", 10_000_000),  # 2% of 5,000,000.00
    ],
)
def test_money_due_is_exact_and_rounded_down(
    request, owner, staff, kind, amount, currency, on, due
):
    record, date_field, company = {
        "dividend": (services.dividend_declare, "declared_on", "company"),
        "carry": (services.carry_distribution_record, "distributed_on", "fund"),
    }[kind]
    agreement = AgreementFactory(
        company=request.getfixturevalue(company), actor=owner, staff=staff, kind=kind
    )
    recorded = record(
        agreement=agreement, actor=owner, amount=amount, currency=currency, **{date_field: on}
    )
    assert recorded.due_amount == due
    assert recorded.invoice.amount == due and recorded.invoice.status == "open"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "eur"}, "currency"),
        ({"amount": -100}, "amount"),
        ({"amount": 10**16}, "amount"),
        ({"declared_on": "2023-12-31"}, "declared_on"),  # before the start
        ({"declared_on": "2999-01-01"}, "declared_on"),
    ],
)
def test_bad_declarations_store_nothing(company, owner, staff, changes, field):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    data = {"amount": 1_000_000, "currency": "usd", "declared_on": "2025-06-30"} | changes
    with pytest.raises(ValidationError) as exc:
        services.dividend_declare(agreement=agreement, actor=owner, **data)
    assert field in errors(exc)
    assert not DividendDeclaration.objects.exists() and not Invoice.objects.exists()


def test_declarations_need_an_active_agreement_and_a_money_role(company, owner, viewer, staff):
    draft = create(company, owner, "dividend")
    with pytest.raises(ValidationError):
        services.dividend_declare(
            agreement=draft, actor=owner, amount=100, currency="usd", declared_on="2025-02-01"
        )
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    with pytest.raises(PermissionDenied):
        services.dividend_declare(
            agreement=agreement, actor=viewer, amount=100, currency="usd", declared_on="2025-02-01"
        )
    # staff may record for the company
    services.dividend_declare(
        agreement=agreement, actor=staff, amount=100, currency="usd", declared_on="2025-02-01"
    )


def liquidity(agreement, actor, kind, occurred_on, proceeds, **extra):
    """A liquidity event in USD under ``agreement``, recorded by ``actor``."""
    return services.liquidity_event_record(
        agreement=agreement,
        actor=actor,
        kind=kind,
        occurred_on=occurred_on,
        proceeds=proceeds,
        currency="usd",
        **extra,
    )


def test_equity_vesting_milestones_and_liquidity(company, owner, staff):
    agreement = AgreementFactory(
        company=company, actor=owner, staff=staff, kind="equity", start_date=D(2024, 1, 1)
    )
    assert services.equity_vested_millibips(agreement=agreement, on=D(2024, 12, 31)) == 0
    # 75% over 48 months, 12-month cliff: 18.75% at the cliff
    assert services.equity_vested_millibips(agreement=agreement, on=D(2025, 1, 1)) == 1_875_000
    with pytest.raises(ValidationError) as exc:
        liquidity(agreement, owner, "ipo", "2023-06-01", 10**12)
    assert "before the agreement started" in errors(exc)["occurred_on"][0]
    with pytest.raises(ValidationError):  # nothing vested yet
        liquidity(agreement, owner, "secondary", "2024-06-01", 10**12)
    milestone = agreement.milestones.get()
    with pytest.raises(PermissionDenied):
        services.milestone_mark_met(milestone=milestone, staff=owner)
    services.milestone_mark_met(milestone=milestone, staff=staff, met_on=D(2025, 3, 1))
    with pytest.raises(ValidationError):
        services.milestone_mark_met(milestone=milestone, staff=staff)
    vested = services.equity_vested_millibips(agreement=agreement, on=D(2025, 6, 1))
    assert vested == 2_500_000 + 7_500_000 * 17 // 48
    # A secondary sale of 10% of the stake: proceeds $1B for all shares, stake 0.5%.
    event = liquidity(
        agreement, owner, "secondary", "2025-06-01", 100_000_000_000, portion_millibips=1_000_000
    )
    assert event.due_amount == 100_000_000_000 * 50_000 * 1_000_000 // 10**14 == 50_000_000
    assert event.invoice.amount == 50_000_000
    with pytest.raises(ValidationError):  # more than vested and unsold
        liquidity(agreement, owner, "buyback", "2025-06-02", 10**11, portion_millibips=vested)
    with pytest.raises(ValidationError):  # out of order
        liquidity(agreement, owner, "buyback", "2025-05-01", 10**11)
    acquisition = liquidity(agreement, owner, "acquisition", "2025-07-01", 200_000_000_000)
    agreement.refresh_from_db()
    assert agreement.status == "ended"
    expected_portion = (
        services.equity_vested_millibips(agreement=agreement, on=D(2025, 7, 1)) - 1_000_000
    )
    assert acquisition.portion_millibips == expected_portion
    assert LiquidityEvent.objects.count() == 2


def test_a_share_rounding_to_zero_makes_no_invoice(company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    record = services.dividend_declare(
        agreement=agreement, actor=owner, amount=99, currency="usd", declared_on="2025-02-01"
    )
    assert record.due_amount == 0 and record.invoice is None


# --- money in -------------------------------------------------------------------------------


def test_wire_received_makes_one_inflow(company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    invoice = InvoiceFactory(agreement=agreement, amount=100_000)  # 1% of 10,000,000
    with pytest.raises(PermissionDenied):
        services.invoice_wire_received(invoice=invoice, staff=owner)
    services.invoice_wire_received(invoice=invoice, staff=staff, reference="BANK-1")
    services.invoice_wire_received(invoice=invoice, staff=staff, reference="BANK-1")
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_via == "wire"
    inflow = Inflow.objects.get()
    assert (inflow.amount, inflow.currency, inflow.reference) == (
        100_000,
        "usd",
        f"invoice:{invoice.pk}",
    )
    assert inflow.company == company and invoice.inflow == inflow
    assert LedgerTransaction.objects.filter(kind="inflow").count() == 1
    with pytest.raises(ValidationError):
        services.invoice_void(invoice=invoice, staff=staff)


def test_void_invoice_cannot_be_paid(company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    invoice = InvoiceFactory(agreement=agreement, amount=100_000)  # 1% of 10,000,000
    services.invoice_void(invoice=invoice, staff=staff)
    with pytest.raises(ValidationError):
        services.invoice_wire_received(invoice=invoice, staff=staff)
    assert not Inflow.objects.exists()


def test_invitation_mail_names_the_company_and_the_link(
    company, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        inv = services.company_invite(
            company=company, actor=owner, target="dana@example.org", role="viewer"
        )
    assert mail.outbox[-1].to == ["dana@example.org"]
    assert "ACME Corp" in mail.outbox[-1].subject
    assert f"/companies/invitations/{inv.token}/" in mail.outbox[-1].body
