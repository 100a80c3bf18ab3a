"""Companies, their people, agreements and the money due under them.

Agreements go through ``agreement_create`` → ``agreement_sign`` → ``agreement_countersign``
(terms validated, the document fixed and hashed); declarations, liquidity events, carry
distributions and invoices through the recording services, which compute what is due.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from companies.models import (
    Agreement,
    AgreementSignature,
    Company,
    CompanyMember,
    Invoice,
    LiquidityEvent,
)
from companies.services import (
    agreement_countersign,
    agreement_create,
    agreement_end,
    agreement_sign,
    carry_distribution_record,
    dividend_declare,
    invoice_void,
    invoice_wire_received,
    liquidity_event_record,
)

from .base import ServiceFactory
from .projects import InvitationFactoryBase, MemberFactoryBase, TableVersionFactory, owner_actor
from .users import StaffFactory

# Valid terms of each kind (what the agreement forms and the API accept).
AGREEMENT_TERMS: dict[str, dict[str, Any]] = {
    "pledge": {"amount": 200_000, "developers": 3, "period": "yearly"},
    "dividend": {"share_millibips": 100_000},
    "equity": {
        "share_millibips": 50_000,
        "share_count": 5_000,
        "share_class": "Common Stock",
        "cliff_months": 12,
        "vesting_months": 48,
        "time_vesting_millibips": 7_500_000,
        "milestones": [{"title": "Series A closed", "millibips": 2_500_000}],
    },
    "carry": {"share_millibips": 200_000, "fund_name": "Seed Fund I"},
}

SIGNED_STATUSES = (Agreement.Status.SIGNED, Agreement.Status.ACTIVE, Agreement.Status.ENDED)


class CompanyFactory(factory.django.DjangoModelFactory):
    """``CompanyFactory(slug="acme", owner=user)`` also makes ``user`` its owner;
    ``table=[("project:numpy", 10_000_000)]`` proposes its share table (by its owner)."""

    class Meta:
        model = "companies.Company"
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"company-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title() + " Inc.")
    country = "US"
    kind = Company.Kind.STARTUP

    @factory.post_generation
    def owner(self, create, extracted, **kwargs):
        if create and extracted is not None:
            CompanyMember.objects.get_or_create(
                company=self, user=extracted, defaults={"role": CompanyMember.Role.OWNER}
            )

    @factory.post_generation
    def table(self, create, extracted, **kwargs):
        if create and extracted is not None:
            TableVersionFactory(owner_key=self.owner_key, entries=extracted)


class CompanyMemberFactory(MemberFactoryBase):
    class Meta:
        model = "companies.CompanyMember"

    company = factory.SubFactory(CompanyFactory)
    role = CompanyMember.Role.OWNER


class CompanyInvitationFactory(InvitationFactoryBase):
    class Meta:
        model = "companies.CompanyInvitation"

    company = factory.SubFactory(CompanyFactory)
    role = CompanyMember.Role.VIEWER


class AgreementFactory(ServiceFactory):
    """An agreement of ``kind`` (dividend by default) with the terms of
    :data:`AGREEMENT_TERMS`, taken to ``status`` (active by default) by the services: signed
    by ``actor`` (an owner of the company), countersigned by ``staff``. Other keyword
    arguments change the terms: ``AgreementFactory(kind="pledge", developers=5)``.

    A pledge issues the invoices of the periods begun since ``start_date`` when it becomes
    active; a carry agreement's company is a VC fund.
    """

    class Meta:
        model = "companies.Agreement"

    kind = Agreement.Kind.DIVIDEND
    company = factory.LazyAttribute(
        lambda o: CompanyFactory(
            kind=Company.Kind.VC_FUND if o.kind == Agreement.Kind.CARRY else Company.Kind.STARTUP
        )
    )
    status = Agreement.Status.ACTIVE
    actor = factory.LazyAttribute(lambda o: owner_actor(o.company.owner_key))
    staff = None
    currency = "usd"
    start_date = dt.date(2024, 1, 1)

    @classmethod
    def _create(cls, model_class, *, company, kind, status, actor, staff, **terms):
        data = {**AGREEMENT_TERMS[kind], **terms}
        agreement = agreement_create(company=company, actor=actor, kind=kind, terms_data=data)
        if status in SIGNED_STATUSES:
            agreement_sign(agreement=agreement, actor=actor, ip_address="10.0.0.1", user_agent="UA")
        if status in (Agreement.Status.ACTIVE, Agreement.Status.ENDED):
            agreement_countersign(agreement=agreement, staff=staff or StaffFactory())
        if status == Agreement.Status.ENDED:
            agreement_end(agreement=agreement, actor=actor, reason="Ended by a test.")
        agreement.refresh_from_db()
        return agreement


class AgreementSignatureFactory(ServiceFactory):
    """The company's signature of a draft (``agreement_sign``), or with
    ``party="faiross"`` the countersignature of a signed agreement."""

    class Meta:
        model = "companies.AgreementSignature"

    party = AgreementSignature.Party.COMPANY
    agreement = None
    user = None

    @classmethod
    def _create(cls, model_class, *, party, agreement, user):
        if party == AgreementSignature.Party.COMPANY:
            agreement = agreement or AgreementFactory(status=Agreement.Status.DRAFT)
            return agreement_sign(
                agreement=agreement,
                actor=user or owner_actor(agreement.company.owner_key),
                ip_address="10.0.0.1",
                user_agent="UA",
            )
        agreement = agreement or AgreementFactory(status=Agreement.Status.SIGNED)
        agreement_countersign(agreement=agreement, staff=user or StaffFactory())
        return agreement.signatures.get(party=party)


class MilestoneFactory(ServiceFactory):
    """The one milestone of a new equity agreement (milestones are part of its terms, which
    must add up with the time vesting to the whole stake)."""

    class Meta:
        model = "companies.Milestone"

    title = factory.Sequence(lambda n: f"Milestone {n}")
    millibips = 2_500_000
    status = Agreement.Status.ACTIVE

    @classmethod
    def _create(cls, model_class, *, title, millibips, status, **kwargs):
        agreement = AgreementFactory(
            kind=Agreement.Kind.EQUITY,
            status=status,
            time_vesting_millibips=10_000_000 - millibips,
            milestones=[{"title": title, "millibips": millibips}],
            **kwargs,
        )
        return agreement.milestones.get()


class MoneyDueFactory(ServiceFactory):
    """What a company records under an active agreement (by one of its owners, in the
    agreement's currency) through the service ``_record``, which computes what is due."""

    class Meta:
        abstract = True

    actor = factory.LazyAttribute(lambda o: owner_actor(o.agreement.company.owner_key))
    currency = factory.LazyAttribute(lambda o: o.agreement.currency)

    @classmethod
    def _create(cls, model_class, **kwargs):
        return cls._record(**kwargs)


class DividendDeclarationFactory(MoneyDueFactory):
    """A dividend declared under an active dividend agreement (``dividend_declare``), with
    its invoice of FairOSS's share."""

    class Meta:
        model = "companies.DividendDeclaration"

    _record = staticmethod(dividend_declare)
    agreement = factory.SubFactory(AgreementFactory, kind=Agreement.Kind.DIVIDEND)
    amount = 10_000_000
    declared_on = factory.LazyAttribute(lambda o: o.agreement.start_date)


class InvoiceFactory(ServiceFactory):
    """An invoice of ``amount`` (minor units due) for a dividend declared under an active
    dividend agreement; ``status="paid"`` records it paid by wire (which records its
    inflow), ``status="void"`` voids it."""

    class Meta:
        model = "companies.Invoice"

    class Params:
        company = None

    agreement = factory.LazyAttribute(
        lambda o: AgreementFactory(
            kind=Agreement.Kind.DIVIDEND, **({"company": o.company} if o.company else {})
        )
    )
    amount = 100_000
    status = Invoice.Status.OPEN
    staff = None

    @classmethod
    def _create(cls, model_class, *, agreement, amount, status, staff):
        share = agreement.share_millibips or 0
        declared = -(-amount * 10_000_000 // share)  # the least dividend that makes it due
        invoice = DividendDeclarationFactory(agreement=agreement, amount=declared).invoice
        assert invoice is not None and invoice.amount == amount
        if status == Invoice.Status.PAID:
            invoice = invoice_wire_received(
                invoice=invoice, staff=staff or StaffFactory(), reference=f"WIRE-{invoice.pk}"
            )
        elif status == Invoice.Status.VOID:
            invoice = invoice_void(invoice=invoice, staff=staff or StaffFactory())
        invoice.refresh_from_db()
        return invoice


class LiquidityEventFactory(MoneyDueFactory):
    """A secondary sale of 10% of the stake of an active equity agreement, 18 months after
    its start (past the cliff, so part of the stake is vested)."""

    class Meta:
        model = "companies.LiquidityEvent"

    _record = staticmethod(liquidity_event_record)
    agreement = factory.SubFactory(AgreementFactory, kind=Agreement.Kind.EQUITY)
    kind = LiquidityEvent.Kind.SECONDARY
    occurred_on = factory.LazyAttribute(
        lambda o: min(o.agreement.start_date + dt.timedelta(days=548), timezone.localdate())
    )
    proceeds = 100_000_000_000
    portion_millibips = 1_000_000


class CarryDistributionFactory(MoneyDueFactory):
    """Carried interest realised under an active carry agreement, with its invoice."""

    class Meta:
        model = "companies.CarryDistribution"

    _record = staticmethod(carry_distribution_record)
    agreement = factory.SubFactory(AgreementFactory, kind=Agreement.Kind.CARRY)
    amount = 500_000_000
    distributed_on = factory.LazyAttribute(lambda o: o.agreement.start_date)
