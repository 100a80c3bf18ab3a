"""Hiring interest: opt-in profiles, search, contact requests (privacy, rate limit, reports)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from asks import selectors, services
from asks.models import ContactReport, ContactRequest
from tests.factories import ProjectPurlFactory, StaffFactory, UserFactory


def open_profile(user, **kw):
    return services.contributor_profile_update(
        user=user,
        visible=True,
        headline=kw.get("headline", "Array internals"),
        links=kw.get("links", ["https://alice.example.org"]),
    )


def test_a_contributor_opts_in_and_accepts_a_contact_request(acme, olivia, alice, numpy):
    ProjectPurlFactory(project=numpy, purl="pkg:pypi/numpy")
    assert selectors.contributors_search() == []  # not opted in: nowhere
    open_profile(alice)
    (card,) = selectors.contributors_search(project="numpy", ecosystem="pypi")
    assert card.username == "alice"
    assert card.projects == [("numpy", "NumPy", 6_000_000)] and card.ecosystems == ["pypi"]
    assert selectors.contributors_search(ecosystem="npm") == []

    contact = services.contact_request_send(
        company=acme, sender=olivia, contributor="alice", message="Would you talk to us?"
    )
    assert selectors.contact_email_for(contact=contact, viewer=olivia) == ""  # not yet
    services.contact_request_answer(contact=contact, actor=alice, accept=True)
    contact.refresh_from_db()
    assert contact.status == ContactRequest.Status.ACCEPTED
    assert selectors.contact_email_for(contact=contact, viewer=olivia) == alice.email
    # Only the sending company's members see it.
    assert selectors.contact_email_for(contact=contact, viewer=UserFactory()) == ""
    assert selectors.contact_email_for(contact=contact, viewer=AnonymousUser()) == ""


def test_the_card_never_shows_money_or_an_address(alice, numpy):
    card = selectors.contributor_card(username="alice")
    assert card is None
    open_profile(alice)
    card = selectors.contributor_card(username="alice")
    shown = repr(card)
    assert alice.email not in shown and "available" not in shown


def test_a_closed_profile_looks_like_none_and_cannot_be_contacted(acme, olivia, alice, numpy):
    open_profile(alice)
    services.contributor_profile_update(user=alice, visible=False)
    assert selectors.contributors_search() == []
    with pytest.raises(ValidationError) as closed:
        services.contact_request_send(
            company=acme, sender=olivia, contributor="alice", message="Hi"
        )
    with pytest.raises(ValidationError) as missing:
        services.contact_request_send(
            company=acme, sender=olivia, contributor="nobody", message="Hi"
        )
    assert closed.value.message_dict["contributor"][0].replace("alice", "X") == (
        missing.value.message_dict["contributor"][0].replace("nobody", "X")
    )


def test_only_people_named_in_a_project_table_open_a_profile(db):
    with pytest.raises(ValidationError) as exc:
        open_profile(UserFactory(username="zed"))
    assert "share table" in exc.value.message_dict["visible"][0]


def test_contact_requests_are_rate_limited(acme, olivia, alice, numpy, settings):
    settings.FAIROSS_ASKS_CONTACTS_PER_DAY = 1
    open_profile(alice)
    contact = services.contact_request_send(
        company=acme, sender=olivia, contributor="alice", message="1"
    )
    services.contact_request_answer(contact=contact, actor=alice, accept=False)
    with pytest.raises(ValidationError) as exc:
        services.contact_request_send(company=acme, sender=olivia, contributor="alice", message="2")
    assert "limit is 1" in exc.value.message_dict["__all__"][0]


def test_one_pending_request_per_company_and_person(acme, olivia, alice, numpy):
    open_profile(alice)
    services.contact_request_send(company=acme, sender=olivia, contributor="alice", message="1")
    with pytest.raises(ValidationError) as exc:
        services.contact_request_send(company=acme, sender=olivia, contributor="alice", message="2")
    assert "already has a request waiting" in exc.value.message_dict["contributor"][0]


def test_viewers_cannot_send_and_others_cannot_answer(acme, olivia, alice, numpy, viewer):
    open_profile(alice)
    with pytest.raises(PermissionDenied):
        services.contact_request_send(company=acme, sender=viewer, contributor="alice", message="x")
    contact = services.contact_request_send(
        company=acme, sender=olivia, contributor="alice", message="x"
    )
    with pytest.raises(PermissionDenied):
        services.contact_request_answer(contact=contact, actor=olivia, accept=True)


def test_a_report_declines_the_request_and_staff_handle_it(acme, olivia, alice, numpy):
    open_profile(alice)
    contact = services.contact_request_send(
        company=acme, sender=olivia, contributor="alice", message="x"
    )
    report = services.contact_request_report(contact=contact, reporter=alice, reason="Spam.")
    contact.refresh_from_db()
    assert contact.status == ContactRequest.Status.DECLINED
    assert selectors.contact_email_for(contact=contact, viewer=olivia) == ""
    with pytest.raises(ValidationError):
        services.contact_request_report(contact=contact, reporter=alice, reason="Again.")
    services.contact_report_handle(report=report, staff=StaffFactory(), note="Warned ACME.")
    report.refresh_from_db()
    assert report.status == ContactReport.Status.HANDLED
