"""The ombudsman office: disputes, their conversation, holds, appeals and the audit trail.

Rows are made by :mod:`disputes.services`, as in production: a dispute is filed (its parties
found, the trail written), holds move money ``source`` → ``held`` in the ledger, appeals
follow a resolution.
"""

from __future__ import annotations

import factory

from disputes.models import (
    Dispute,
    DisputeParty,
    HoldMovement,
)
from disputes.services import (
    appeal_file,
    audit_record,
    default_source,
    dispute_file,
    dispute_note_add,
    dispute_resolve,
    dispute_respond,
    hold_place,
    hold_redirect,
    hold_release,
)

from .base import ServiceFactory
from .payouts import credit
from .projects import ProjectFactory
from .users import OmbudsmanFactory, UserFactory


class DisputeFactory(ServiceFactory):
    """A dispute filed through ``dispute_file``, about a project by default
    (``target="table_entry:12"`` and the other target forms work too)."""

    class Meta:
        model = "disputes.Dispute"

    filer = factory.SubFactory(UserFactory)
    target = factory.LazyFunction(lambda: f"project:{ProjectFactory().slug}")
    kind = Dispute.Kind.OTHER
    title = factory.Sequence(lambda n: f"Dispute {n}")
    description = "What happened, in a few words."
    links = ()
    amount_at_stake = None
    currency = ""

    @classmethod
    def _create(cls, model_class, **kwargs):
        return dispute_file(**kwargs)


class DisputePartyFactory(factory.django.DjangoModelFactory):
    """Another party with an account (filing adds the parties its target names)."""

    class Meta:
        model = "disputes.DisputeParty"

    dispute = factory.SubFactory(DisputeFactory)
    user = factory.SubFactory(UserFactory)
    role = DisputeParty.Role.RECIPIENT


class DisputeStepFactory(ServiceFactory):
    """What is done in a dispute (a new one unless ``dispute=d``), through a service;
    ``filer`` is whoever filed the dispute."""

    class Meta:
        abstract = True

    class Params:
        filer = factory.LazyAttribute(lambda o: o.dispute.filed_by)

    dispute = factory.SubFactory(DisputeFactory)


class DisputeMessageFactory(DisputeStepFactory):
    """A message of the conversation (``dispute_respond``), by the filer by default."""

    class Meta:
        model = "disputes.DisputeMessage"

    author = factory.SelfAttribute("filer")
    body = "Here is what I can add."

    @classmethod
    def _create(cls, model_class, **kwargs):
        return dispute_respond(**kwargs)


class InternalNoteFactory(DisputeStepFactory):
    """An ombudsman's internal note (``dispute_note_add``)."""

    class Meta:
        model = "disputes.InternalNote"

    author = factory.SubFactory(OmbudsmanFactory)
    body = "Checked the history of the table."

    @classmethod
    def _create(cls, model_class, *, dispute, author, body):
        return dispute_note_add(dispute=dispute, actor=author, body=body)


class EvidenceFactory(ServiceFactory):
    """A link given as evidence: filed with a new dispute, or with ``dispute=d`` posted in a
    message of ``added_by`` (the filer by default)."""

    class Meta:
        model = "disputes.Evidence"

    url = factory.Sequence(lambda n: f"https://github.com/example/project/pull/{n}")
    dispute = None
    added_by = None

    @classmethod
    def _create(cls, model_class, *, url, dispute, added_by):
        if dispute is None:
            filer = {"filer": added_by} if added_by is not None else {}
            return DisputeFactory(links=[url], **filer).evidence.get()
        message = dispute_respond(
            dispute=dispute,
            author=added_by or dispute.filed_by,
            body="Evidence attached.",
            links=[url],
        )
        return message.evidence.get()


class HoldFactory(DisputeStepFactory):
    """``amount`` of ``recipient``'s money held by an ombudsman (``hold_place``); the
    recipient (a new user by default) is first credited ``amount`` in the hold's source
    unless ``fund=False``. ``amount=0`` is a freeze."""

    class Meta:
        model = "disputes.Hold"

    placed_by = factory.SubFactory(OmbudsmanFactory)
    recipient = factory.LazyFunction(lambda: f"user:{UserFactory().username}")
    amount = 1_000
    currency = "usd"
    source = ""
    reason = "Held while the dispute is decided."
    fund = True

    @classmethod
    def _create(cls, model_class, *, dispute, placed_by, fund, **kwargs):
        if fund and kwargs["amount"]:
            purpose = kwargs["source"] or default_source(kwargs["recipient"])
            credit(
                kwargs["recipient"], kwargs["amount"], purpose=purpose, currency=kwargs["currency"]
            )
        return hold_place(dispute=dispute, actor=placed_by, **kwargs)


class HoldMovementFactory(ServiceFactory):
    """The release of a hold (``hold_release``), or with ``kind="redirect"`` its money
    sent to ``to_recipient`` (a new user by default; ``hold_redirect``)."""

    class Meta:
        model = "disputes.HoldMovement"

    hold = factory.SubFactory(HoldFactory)
    kind = HoldMovement.Kind.RELEASE
    actor = factory.LazyAttribute(lambda o: o.hold.placed_by)
    to_recipient = None
    amount = None
    reason = "Decided."

    @classmethod
    def _create(cls, model_class, *, kind, to_recipient, amount, **movement):
        if kind == HoldMovement.Kind.RELEASE:
            hold_release(**movement)
            return movement["hold"].movements.latest("id")
        to_recipient = to_recipient or f"user:{UserFactory().username}"
        return hold_redirect(to_recipient=to_recipient, amount=amount, **movement)


class AppealFactory(DisputeStepFactory):
    """The filer's appeal (``appeal_file``) of a dispute that an ombudsman resolved
    (``dispute_resolve``) first when it was not resolved yet."""

    class Meta:
        model = "disputes.Appeal"

    appellant = factory.SelfAttribute("filer")
    reason = "The resolution overlooks my evidence."

    @classmethod
    def _create(cls, model_class, *, dispute, appellant, reason):
        if dispute.status not in (Dispute.Status.RESOLVED, Dispute.Status.APPEALED):
            dispute = dispute_resolve(
                dispute=dispute,
                actor=OmbudsmanFactory(),
                outcome=Dispute.Outcome.REJECTED,
                resolution="Nothing on the record supports the claim.",
            )
        return appeal_file(dispute=dispute, appellant=appellant, reason=reason)


class AuditEventFactory(ServiceFactory):
    """A step on the record (``audit_record``; the trail is append-only)."""

    class Meta:
        model = "disputes.AuditEvent"

    actor = None
    action = "test.event"
    target = factory.Sequence(lambda n: f"test:{n}")
    dispute = None
    reason = ""
    data = factory.LazyFunction(dict)
    internal = False

    @classmethod
    def _create(cls, model_class, **kwargs):
        return audit_record(**kwargs)
