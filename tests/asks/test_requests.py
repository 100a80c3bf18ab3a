"""Feature requests: filing, the stewards' answers, delivery, confirmation (milestone vesting),
staff decisions, disputes, and who sees what."""

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from asks import selectors, services
from asks.models import FeatureRequest
from companies.services.vesting import equity_vested_millibips
from companies.terms import add_months
from disputes.models import Dispute
from projects.models import UserNotification
from tests.factories import AgreementFactory, ProjectFactory, StaffFactory

S = FeatureRequest.Status
PR = "https://github.com/numpy/numpy/pull/42"


def file(acme, olivia, numpy, **kw):
    kw.setdefault("title", "Plugin API")
    kw.setdefault("description", "A stable plugin API for dtypes.")
    (req,) = services.feature_request_file(company=acme, actor=olivia, projects=[numpy], **kw)
    return req


def deliver(req, stella):
    services.feature_request_accept(request=req, actor=stella)
    services.feature_request_start(request=req, actor=stella)
    return services.feature_request_deliver(request=req, actor=stella, evidence=[PR])


def test_confirmed_request_meets_its_milestone_and_vests_its_part(
    acme, olivia, numpy, stella, equity
):
    # The agreement started a month ago: the 12-month cliff means no time vesting yet.
    today = timezone.localdate()
    agreement = AgreementFactory(
        company=acme,
        kind="equity",
        actor=olivia,
        start_date=today - dt.timedelta(days=31),
        time_vesting_millibips=7_500_000,
        milestones=[{"title": "Plugin API shipped", "millibips": 2_500_000}],
    )
    milestone = agreement.milestones.get()
    req = file(acme, olivia, numpy, milestone=milestone)
    assert equity_vested_millibips(agreement=agreement, on=today) == 0

    deliver(req, stella)
    assert equity_vested_millibips(agreement=agreement, on=today) == 0  # delivered ≠ met
    services.feature_request_confirm(request=req, actor=olivia)

    milestone.refresh_from_db()
    assert milestone.met_on == today and milestone.met_by == olivia
    assert equity_vested_millibips(agreement=agreement, on=today) == 2_500_000
    assert equity_vested_millibips(agreement=agreement, on=today - dt.timedelta(days=1)) == 0
    # A year after the start: 12/48 of the 75% time part plus the milestone's 25%.
    year = add_months(agreement.start_date, 12)
    assert equity_vested_millibips(agreement=agreement, on=year) == 1_875_000 + 2_500_000
    req.refresh_from_db()
    assert req.status == S.CONFIRMED and req.confirmed_by == "company"


def test_a_milestone_is_tied_to_one_live_request_and_one_project(acme, olivia, numpy, equity):
    milestone = equity.milestones.get()
    other = ProjectFactory(slug="scipy")
    from tests.factories import TableVersionFactory

    TableVersionFactory(
        owner_key=acme.owner_key,
        actor=olivia,
        entries=[("project:numpy", 5_000_000), ("project:scipy", 1_000_000)],
    )
    with pytest.raises(ValidationError) as exc:
        services.feature_request_file(
            company=acme,
            actor=olivia,
            projects=[numpy, other],
            title="T",
            description="D",
            milestone=milestone,
        )
    assert "one project" in str(exc.value.message_dict["milestone"])
    file(acme, olivia, numpy, milestone=milestone)
    with pytest.raises(ValidationError) as exc:
        file(acme, olivia, numpy, milestone=milestone)
    assert "already tied" in str(exc.value.message_dict["milestone"])
    assert selectors.open_milestones(company=acme) == []


def test_filing_names_every_problem_and_stores_nothing(acme, olivia):
    unfunded = ProjectFactory(slug="leftpad", name="leftpad")
    with pytest.raises(ValidationError) as exc:
        services.feature_request_file(
            company=acme,
            actor=olivia,
            projects=[unfunded],
            title=" ",
            description="",
            links=["ftp://x"],
            bounty_amount=-5,
            bounty_currency="usd",
        )
    errors = exc.value.message_dict
    assert set(errors) == {"title", "description", "links", "projects", "bounty_amount"}
    assert "does not name leftpad" in errors["projects"][0]
    assert not FeatureRequest.objects.exists()


def test_only_money_members_file_and_only_stewards_answer(acme, olivia, numpy, stella, viewer):
    with pytest.raises(PermissionDenied):
        file(acme, viewer, numpy)
    req = file(acme, olivia, numpy)
    with pytest.raises(PermissionDenied):
        services.feature_request_accept(request=req, actor=olivia)
    with pytest.raises(PermissionDenied):
        services.feature_request_confirm(request=req, actor=stella)


def test_changes_proposed_then_revised_then_accepted(acme, olivia, numpy, stella):
    req = file(acme, olivia, numpy)
    services.feature_request_propose_changes(request=req, actor=stella, note="Only float dtypes.")
    with pytest.raises(ValidationError) as exc:
        services.feature_request_accept(request=req, actor=stella)
    assert "changes proposed" in exc.value.message_dict["status"][0]
    services.feature_request_revise(
        request=req, actor=olivia, title="Float plugin API", description="Floats only."
    )
    services.feature_request_accept(request=req, actor=stella)
    req.refresh_from_db()
    assert (req.status, req.title) == (S.ACCEPTED, "Float plugin API")
    assert list(req.events.values_list("action", flat=True)) == [
        "filed",
        "changes_proposed",
        "revised",
        "accepted",
    ]


def test_delivery_needs_evidence_links(acme, olivia, numpy, stella):
    req = file(acme, olivia, numpy)
    services.feature_request_accept(request=req, actor=stella)
    with pytest.raises(ValidationError) as exc:
        services.feature_request_deliver(request=req, actor=stella, evidence=[])
    assert "at least one link" in exc.value.message_dict["evidence"][0]
    req = services.feature_request_deliver(request=req, actor=stella, evidence=[PR, PR])
    assert req.evidence == [PR]
    assert req.confirm_by - req.delivered_at == dt.timedelta(days=14)


def test_staff_decide_only_after_the_confirm_time(acme, olivia, numpy, stella, equity, settings):
    settings.FAIROSS_ASKS_CONFIRM_DAYS = 3
    req = file(acme, olivia, numpy, milestone=equity.milestones.get())
    req = deliver(req, stella)
    staff = StaffFactory()
    with pytest.raises(ValidationError):
        services.feature_request_staff_decide(
            request=req, staff=staff, outcome="confirm", note="No answer."
        )
    FeatureRequest.objects.filter(pk=req.pk).update(
        confirm_by=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(PermissionDenied):
        services.feature_request_staff_decide(
            request=req, staff=olivia, outcome="confirm", note="x"
        )
    services.feature_request_staff_decide(
        request=req, staff=staff, outcome="confirm", note="The company did not answer."
    )
    req.refresh_from_db()
    assert (req.status, req.confirmed_by) == (S.CONFIRMED, "staff")
    assert equity.milestones.get().met_on == timezone.localdate()


def test_rejecting_a_delivery_files_a_dispute_with_the_stewards_as_parties(
    acme, olivia, numpy, stella, equity
):
    req = deliver(file(acme, olivia, numpy, milestone=equity.milestones.get()), stella)
    services.feature_request_reject(request=req, actor=olivia, reason="No docs, no tests.")
    req.refresh_from_db()
    assert req.status == S.DISPUTED
    dispute = req.dispute
    assert dispute.kind == Dispute.Kind.AGREEMENT and dispute.filed_by == olivia
    assert set(dispute.parties.values_list("user__username", flat=True)) >= {"olivia", "stella"}
    assert list(dispute.evidence.values_list("url", flat=True)) == [PR]
    assert services.feature_request_awaits_staff(request=req)
    services.feature_request_staff_decide(
        request=req, staff=StaffFactory(), outcome="reopen", note="Docs are missing."
    )
    req.refresh_from_db()
    assert req.status == S.IN_PROGRESS and req.delivered_at is None
    assert equity.milestones.get().met_on is None


def test_every_step_tells_the_other_side_by_its_preference(acme, olivia, numpy, stella):
    from projects.notifications import ASK_UPDATE, notification_preferences_set

    notification_preferences_set(user=olivia, enabled={ASK_UPDATE: False})
    req = file(acme, olivia, numpy)
    services.feature_request_accept(request=req, actor=stella)
    told = UserNotification.objects.filter(kind=ASK_UPDATE)
    assert list(told.values_list("user__username", flat=True)) == ["stella"]  # filed
    assert "accepted" not in " ".join(m.subject for m in mail.outbox if "olivia" in str(m.to))


def test_visibility_before_and_after_acceptance(acme, olivia, numpy, stella):
    from django.contrib.auth.models import AnonymousUser

    from tests.factories import UserFactory

    req = file(acme, olivia, numpy, bounty_amount=None)
    stranger = UserFactory(username="mallory")
    assert not selectors.request_visible(request=req, user=AnonymousUser())
    assert not selectors.request_visible(request=req, user=stranger)
    assert selectors.request_visible(request=req, user=stella)
    services.feature_request_accept(request=req, actor=stella)
    req.refresh_from_db()
    assert selectors.request_visible(request=req, user=AnonymousUser())
    assert not selectors.request_is_party(request=req, user=stranger)
    call_command("ledger_check", stdout=StringIO())
