"""The ledger and the money path.

Nothing here inserts ledger rows by hand: transactions and postings are written by
``ledger_post`` with balanced legs (the database refuses anything else, and the ledger is
append-only), inflows by ``inflow_record``, runs by the run services, payouts by
``payout_create``, claims by ``identity_claim``, webhook events by ``stripe_event_record``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import factory
from django.utils import timezone

from payouts.connect.claims import identity_claim
from payouts.connect.transfers import payout_create, payout_run_create, payout_run_execute
from payouts.connect.webhooks import stripe_event_record
from payouts.distribution.graph_cache import graph_cache_writing
from payouts.distribution.loader import load_flow_graph_pg
from payouts.distribution.runs import distribution_run_create, distribution_run_execute
from payouts.inflows import inflow_record
from payouts.ledger import PLATFORM, Leg, accounts_get_or_create, ledger_post
from payouts.models import (
    Account,
    ConnectedAccount,
    DistributionRun,
    Inflow,
    LedgerTransaction,
    PayoutRun,
    TaxForm,
)

from .base import ServiceFactory
from .companies import CompanyFactory
from .projects import TableVersionFactory, owner_actor
from .users import SocialAccountFactory, StaffFactory, UserFactory

_refs = itertools.count(1)


def credit(
    recipient: str,
    amount: int,
    *,
    purpose: str = "available",
    currency: str = "usd",
    source: str = "company:funder",
) -> LedgerTransaction:
    """Put ``amount`` in ``recipient``'s ``purpose`` account (a distribution kind of
    transaction) from ``source``'s contributed account: balanced, with no inflow left for a
    later run to distribute again, so ``ledger_check`` holds."""
    txn, _ = ledger_post(
        idempotency_key=f"test-credit:{next(_refs)}:{time.monotonic_ns()}",
        kind=LedgerTransaction.Kind.DISTRIBUTION,
        reference=f"test-credit:{recipient}",
        legs=[
            Leg(source, Account.Purpose.CONTRIBUTED, currency, -amount),
            Leg(recipient, purpose, currency, amount),
        ],
    )
    return txn


class AccountFactory(ServiceFactory):
    """A ledger account (``accounts_get_or_create``), with no money in it."""

    class Meta:
        model = "payouts.Account"

    owner = factory.Sequence(lambda n: f"github:account-holder-{n}")
    purpose = Account.Purpose.ESCROW
    currency = "usd"

    @classmethod
    def _create(cls, model_class, *, owner, purpose, currency):
        key = (owner, purpose, currency)
        return accounts_get_or_create(keys=[key])[key]


class LedgerTransactionFactory(ServiceFactory):
    """One balanced transaction through ``ledger_post``. By default money a company
    contributed enters the pool (``amount``, ``currency``, ``source`` shape those legs);
    pass ``legs=[Leg(...), ...]`` for any other movement."""

    class Meta:
        model = "payouts.LedgerTransaction"

    class Params:
        amount = 1_000
        currency = "usd"
        source = factory.Sequence(lambda n: f"company:ledger-test-{n}")

    idempotency_key = factory.Sequence(lambda n: f"test-txn:{n}")
    kind = LedgerTransaction.Kind.INFLOW
    reference = factory.LazyAttribute(lambda o: o.idempotency_key)
    memo = ""
    legs = factory.LazyAttribute(
        lambda o: [
            Leg(o.source, Account.Purpose.CONTRIBUTED, o.currency, -o.amount),
            Leg(PLATFORM, Account.Purpose.POOL, o.currency, o.amount),
        ]
    )

    @classmethod
    def _create(cls, model_class, **kwargs):
        txn, _ = ledger_post(**kwargs)
        return txn


class PostingFactory(ServiceFactory):
    """The posting of ``amount`` to ``owner``'s ``purpose`` account, in a balanced
    transaction whose other leg is a company's ``contributed`` account (:func:`credit`)."""

    class Meta:
        model = "payouts.Posting"

    owner = factory.Sequence(lambda n: f"github:posting-holder-{n}")
    purpose = Account.Purpose.ESCROW
    amount = 1_000
    currency = "usd"

    @classmethod
    def _create(cls, model_class, *, owner, purpose, amount, currency):
        txn = credit(owner, amount, purpose=purpose, currency=currency)
        return txn.postings.get(account__owner=owner, account__purpose=purpose)


class InflowFactory(ServiceFactory):
    """Money received for a company (``inflow_record``: company contributed → pool)."""

    class Meta:
        model = "payouts.Inflow"

    company = factory.SubFactory(CompanyFactory)
    amount = 10_000
    currency = "usd"
    reference = factory.Sequence(lambda n: f"WIRE-{n}")
    source = Inflow.Source.WIRE
    received_at = None
    recorded_by = None

    @classmethod
    def _create(cls, model_class, **kwargs):
        inflow, _ = inflow_record(**kwargs)
        return inflow


def _run_to(run: Any, status: str, left_open: str, execute: Callable[..., Any]) -> Any:
    """``run`` as it was created when ``status`` is ``left_open``, else executed (by the
    service ``execute``) to ``status``."""
    if status == left_open:
        return run
    run = execute(run_id=run.pk)
    assert run.status == status, (run.status, run.error)
    return run


class DistributionRunFactory(ServiceFactory):
    """A distribution run (``distribution_run_create``), executed to ``done`` by default
    (distributing every inflow not yet distributed); ``status="pending"`` leaves it open."""

    class Meta:
        model = "payouts.DistributionRun"

    status = DistributionRun.Status.DONE
    started_by = None
    cutoff = None

    @classmethod
    def _create(cls, model_class, *, status, started_by, cutoff):
        run = distribution_run_create(started_by=started_by, cutoff=cutoff)
        return _run_to(run, status, DistributionRun.Status.PENDING, distribution_run_execute)


class RunAllocationFactory(ServiceFactory):
    """``recipient``'s line of a real run: a company whose table gives ``recipient`` 100%
    receives ``amount``, and a run distributes it (with any other undistributed inflow)."""

    class Meta:
        model = "payouts.RunAllocation"

    recipient = factory.Sequence(lambda n: f"github:allocated-{n}")
    amount = 10_000
    currency = "usd"

    @classmethod
    def _create(cls, model_class, *, recipient, amount, currency):
        company = CompanyFactory()
        TableVersionFactory(
            owner_key=company.owner_key,
            actor=owner_actor(company.owner_key),
            entries=[(recipient, 10_000_000)],
        )
        InflowFactory(company=company, amount=amount, currency=currency)
        run = DistributionRunFactory()
        return run.allocations.get(recipient=recipient, currency=currency)


class RunPublicationFactory(ServiceFactory):
    """What a done run publishes (written by the run itself once it is done): ``recipient``
    receives ``amount`` through a company's table, as in :class:`RunAllocationFactory`."""

    class Meta:
        model = "payouts.RunPublication"

    recipient = factory.Sequence(lambda n: f"github:published-{n}")
    amount = 10_000

    @classmethod
    def _create(cls, model_class, *, recipient, amount):
        allocation = RunAllocationFactory(recipient=recipient, amount=amount)
        return allocation.run.publication


class RunFlowFactory(ServiceFactory):
    """One public hop of a real run: the company's hop to ``people`` (its one person)."""

    class Meta:
        model = "payouts.RunFlow"

    recipient = factory.Sequence(lambda n: f"github:flowing-{n}")
    amount = 10_000

    @classmethod
    def _create(cls, model_class, *, recipient, amount):
        allocation = RunAllocationFactory(recipient=recipient, amount=amount)
        return allocation.run.flows.get(target="people")


class TraceEdgeFactory(ServiceFactory):
    """A person's hop in a real run (written by the run's compute stage): the company's table
    pays ``recipient`` ``amount``, as in :class:`RunAllocationFactory`."""

    class Meta:
        model = "payouts.TraceEdge"

    recipient = factory.Sequence(lambda n: f"github:traced-{n}")
    amount = 10_000

    @classmethod
    def _create(cls, model_class, *, recipient, amount):
        allocation = RunAllocationFactory(recipient=recipient, amount=amount)
        return allocation.run.trace_edges.get(recipient=recipient)


class GraphCacheFactory(ServiceFactory):
    """The compiled graph the bulk loader leaves for the next run (as in a run's compute
    stage; small runs take the in-memory path, so the loader is called here directly)."""

    class Meta:
        model = "payouts.GraphCache"

    @classmethod
    def _create(cls, model_class):
        version = TableVersionFactory()
        with graph_cache_writing():
            load_flow_graph_pg(
                versions={version.table.owner_key: version.pk}, defaults={}, extra_owners=[]
            )
        return model_class.objects.get()


class ClaimedIdentityFactory(ServiceFactory):
    """An identity claimed by ``user`` through ``identity_claim`` (which also sweeps its
    escrow): the user's verified email by default; a ``github:<login>`` identity gets the
    user a linked GitHub account first."""

    class Meta:
        model = "payouts.ClaimedIdentity"

    user = factory.SubFactory(UserFactory)
    identity = factory.LazyAttribute(lambda o: f"email:{o.user.email}")

    @classmethod
    def _create(cls, model_class, *, user, identity):
        kind, _, login = identity.partition(":")
        if kind == "github" and not user.socialaccount_set.filter(provider="github").exists():
            SocialAccountFactory(user=user, login=login)
        identity_claim(user=user, identity=identity)
        return model_class.objects.get(identity=identity)


class ConnectedAccountFactory(factory.django.DjangoModelFactory):
    """A connected account row that can receive transfers, without Stripe (tests that talk
    to the local server create the account there through
    ``payouts.connect.accounts.connected_account_get_or_create``)."""

    class Meta:
        model = "payouts.ConnectedAccount"

    user = factory.SubFactory(UserFactory)
    stripe_account_id = factory.Sequence(lambda n: f"acct_test{n:012d}")
    status = ConnectedAccount.Status.ENABLED
    details_submitted = True
    payouts_enabled = True
    transfers_active = True


class TaxFormFactory(factory.django.DjangoModelFactory):
    """A W-9 on file, recorded by staff (as in the admin)."""

    class Meta:
        model = "payouts.TaxForm"

    user = factory.SubFactory(UserFactory)
    kind = TaxForm.Kind.W9
    collected = True
    collected_on = factory.LazyFunction(timezone.localdate)
    recorded_by = factory.SubFactory(StaffFactory)


class PayoutRunFactory(ServiceFactory):
    """A payout run (``payout_run_create``), executed to ``done`` by default (paying every
    balance that is due); ``status="running"`` leaves it open."""

    class Meta:
        model = "payouts.PayoutRun"

    status = PayoutRun.Status.DONE
    started_by = None

    @classmethod
    def _create(cls, model_class, *, status, started_by):
        run = payout_run_create(started_by=started_by)
        return _run_to(run, status, PayoutRun.Status.RUNNING, payout_run_execute)


class PayoutFactory(ServiceFactory):
    """A pending payout of ``amount`` (``payout_create``: available → in transit) to a user
    with a connected account that can receive, after crediting them ``amount``. The
    transfer itself is sent by a task on commit (the local Stripe server's tests)."""

    class Meta:
        model = "payouts.Payout"

    user = factory.SubFactory(UserFactory)
    amount = 5_000
    currency = "usd"
    run = None

    @classmethod
    def _create(cls, model_class, *, user, amount, currency, run):
        account = ConnectedAccount.objects.filter(user=user).first()
        account = account or ConnectedAccountFactory(user=user)
        credit(f"user:{user.get_username()}", amount, currency=currency)
        payout, reason = payout_create(account=account, currency=currency, run=run)
        assert payout is not None, reason
        return payout


class StripeEventFactory(ServiceFactory):
    """A verified webhook event stored by ``stripe_event_record`` (not processed)."""

    class Meta:
        model = "payouts.StripeEvent"

    event_id = factory.Sequence(lambda n: f"evt_test{n:014d}")
    type = "account.updated"
    account = ""
    livemode = False
    created = factory.LazyFunction(lambda: int(time.time()))
    data = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class, *, event_id, type, account, livemode, created, data):
        event = {
            "id": event_id,
            "object": "event",
            "type": type,
            "account": account or None,
            "livemode": livemode,
            "created": created,
            "data": {"object": data},
        }
        record, _ = stripe_event_record(event=event)
        return record


class NotificationFactory(factory.django.DjangoModelFactory):
    """The record of an email sent once (what ``_notify`` inserts before sending)."""

    class Meta:
        model = "payouts.Notification"

    key = factory.Sequence(lambda n: f"test:{n}:sent")
    to = factory.Sequence(lambda n: f"person{n}@example.org")
    subject = "A test notification"


class ReserveGrantFactory(ServiceFactory):
    """A proposed reserve grant (``reserve_grant_propose``) from a verified project with two
    stewards (so one approval is not yet the quorum) to another project, after crediting the
    project's reserve ``amount``."""

    class Meta:
        model = "payouts.ReserveGrant"

    amount = 5_000
    currency = "usd"

    @classmethod
    def _create(cls, model_class, *, amount, currency):
        from payouts.reserves import reserve_grant_propose
        from projects.models import Membership

        from .projects import ProjectFactory

        steward = UserFactory()
        project = ProjectFactory(steward=steward)
        Membership.objects.create(project=project, user=UserFactory(), role="steward")
        credit(project.owner_key, amount, purpose="reserve", currency=currency)
        return reserve_grant_propose(
            project=project,
            actor=steward,
            recipient=ProjectFactory().owner_key,
            amount=amount,
            currency=currency,
            reason="A grant made by a factory",
        )


class ReserveGrantApprovalFactory(ServiceFactory):
    """The second steward's approval of a proposed grant (``reserve_grant_approve``), which
    meets the quorum and executes the grant."""

    class Meta:
        model = "payouts.ReserveGrantApproval"

    grant = factory.SubFactory(ReserveGrantFactory)

    @classmethod
    def _create(cls, model_class, *, grant):
        from payouts.reserves import reserve_grant_approve

        second = grant.project.memberships.exclude(user=grant.proposed_by).first().user
        reserve_grant_approve(grant=grant, actor=second)
        return grant.approvals.get(user=second)


class ProjectReceivedFactory(ServiceFactory):
    """What reached ``project`` in a real run: a company whose table gives the project 100%
    pays ``amount`` in, and a run counts it (``payouts.totals.project_received_add``). The
    project's total row (``funder=""``) is returned; the company's own row exists too."""

    class Meta:
        model = "payouts.ProjectReceived"

    project = factory.SubFactory("tests.factories.projects.ProjectFactory")
    amount = 10_000
    currency = "usd"

    @classmethod
    def _create(cls, model_class, *, project, amount, currency):
        company = CompanyFactory()
        TableVersionFactory(
            owner_key=company.owner_key,
            actor=owner_actor(company.owner_key),
            entries=[(project.owner_key, 10_000_000)],
        )
        InflowFactory(company=company, amount=amount, currency=currency)
        DistributionRunFactory()
        return model_class.objects.get(project=project, funder="", currency=currency)


class ProjectReceivedRunFactory(ServiceFactory):
    """A done run counted into the received totals (every done run is, when it ends)."""

    class Meta:
        model = "payouts.ProjectReceivedRun"

    amount = 10_000

    @classmethod
    def _create(cls, model_class, *, amount):
        ProjectReceivedFactory(amount=amount)
        return model_class.objects.filter(run__status="done").latest("counted_at")
