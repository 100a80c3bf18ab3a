"""Every factory makes a valid row, and every concrete model of the four apps has one."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from tests import factories as f

APPS = ("projects", "payouts", "companies", "disputes", "asks")

FACTORIES = [
    # projects
    f.ProjectFactory,
    f.ProjectPurlFactory,
    f.ProjectVerificationFactory,
    f.MembershipFactory,
    f.InvitationFactory,
    f.ShareTableFactory,
    f.TableVersionFactory,
    f.RecipientKeyFactory,
    f.TableEntryFactory,
    f.ApprovalFactory,
    f.KnownDependencyFactory,
    f.UserProfileFactory,
    f.ApiTokenFactory,
    f.IdempotencyRecordFactory,
    f.WebhookEndpointFactory,
    f.WebhookDeliveryFactory,
    f.WebhookAttemptFactory,
    f.NotificationPreferenceFactory,
    f.UserNotificationFactory,
    # payouts
    f.AccountFactory,
    f.LedgerTransactionFactory,
    f.PostingFactory,
    f.InflowFactory,
    f.DistributionRunFactory,
    f.RunAllocationFactory,
    f.RunPublicationFactory,
    f.RunFlowFactory,
    f.TraceEdgeFactory,
    f.GraphCacheFactory,
    f.ClaimedIdentityFactory,
    f.ConnectedAccountFactory,
    f.TaxFormFactory,
    f.PayoutRunFactory,
    f.PayoutFactory,
    f.StripeEventFactory,
    f.NotificationFactory,
    f.ReserveGrantFactory,
    f.ReserveGrantApprovalFactory,
    f.ProjectReceivedFactory,
    f.ProjectReceivedRunFactory,
    # companies
    f.CompanyFactory,
    f.CompanyMemberFactory,
    f.CompanyInvitationFactory,
    f.AgreementFactory,
    f.AgreementSignatureFactory,
    f.MilestoneFactory,
    f.InvoiceFactory,
    f.DividendDeclarationFactory,
    f.LiquidityEventFactory,
    f.CarryDistributionFactory,
    # disputes
    f.DisputeFactory,
    f.DisputePartyFactory,
    f.DisputeMessageFactory,
    f.InternalNoteFactory,
    f.EvidenceFactory,
    f.HoldFactory,
    f.HoldMovementFactory,
    f.AppealFactory,
    f.AuditEventFactory,
    # asks
    f.FeatureRequestFactory,
    f.RequestEventFactory,
    f.ContributorProfileFactory,
    f.ContactRequestFactory,
    f.ContactReportFactory,
]


def model_label(model) -> str:
    return model._meta.label


def test_every_concrete_model_of_the_four_apps_has_a_factory():
    models = {
        model_label(m)
        for app in APPS
        for m in apps.get_app_config(app).get_models()
        if not m._meta.abstract and not m._meta.proxy
    }
    covered = [model_label(factory._meta.get_model_class()) for factory in FACTORIES]
    assert len(covered) == len(set(covered)), "a model is listed twice"
    assert models - set(covered) == set(), "add a factory (and list it here) for these models"
    assert set(covered) - models == set()


def test_every_factory_is_exported_and_listed():
    exported = {
        name
        for name in f.__all__
        if name.endswith("Factory") and name not in ("UserFactory", "StaffFactory")
    }
    exported -= {"OmbudsmanFactory", "SocialAccountFactory"}
    assert exported == {factory.__name__ for factory in FACTORIES}


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda factory: factory.__name__)
def test_factory_makes_a_valid_row(db, factory):
    obj = factory()
    model = factory._meta.get_model_class()
    assert isinstance(obj, model) and obj.pk is not None
    obj = model.objects.get(pk=obj.pk)  # saved as built
    obj.full_clean()
    second = factory()  # the defaults do not collide
    assert second.pk != obj.pk
    call_command("ledger_check", stdout=StringIO())
