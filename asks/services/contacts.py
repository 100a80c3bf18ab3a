"""Hiring interest: contributor profiles (opt-in) and contact requests from companies.

Rules every function keeps:

- only a person named in an active project table may open their profile (``visible``); the
  profile shows their projects and table shares as evidence and links they choose, never
  money and never their address (``asks.selectors``);
- a company's owners and finance members send contact requests to opted-in people only (a
  person who did not opt in looks exactly like one who does not exist), at most one pending
  per company and person, at most ``FAIROSS_ASKS_CONTACTS_PER_DAY`` per sender in 24 hours;
- only the person answers; the address is shown to the company on acceptance only;
- the person may report a request (it is declined if pending); staff handle reports in admin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from companies.models import Company
from companies.selectors import MONEY_ROLES, company_role
from faiross.kernel.errors import FieldErrors
from faiross.kernel.recipients import user_key
from projects.models import TableEntry
from projects.notifications import CONTACT_REQUEST

from ..conf import setting
from ..models import ContactReport, ContactRequest, ContributorProfile
from ._common import links_clean, tell, text_clean

NOT_FOUND = "There is no contributor profile named '{}'."


def _named_in_a_project_table(user: User) -> bool:
    return TableEntry.objects.filter(
        recipient=user_key(user.get_username()),
        version__status="active",
        version__table__owner_key__startswith="project:",
    ).exists()


@transaction.atomic
def contributor_profile_update(
    *, user: User, visible: bool, headline: str = "", links: Sequence[str] = ()
) -> ContributorProfile:
    """Store ``user``'s own profile. Opening it (``visible``) needs a project table naming
    them; closing it hides them from every search and card at once."""
    if not user.is_authenticated:
        raise PermissionDenied("Sign in to edit your contributor profile.")
    errors = FieldErrors()
    headline = (
        errors.check(
            lambda: text_clean(
                headline, field="headline", label="a headline", limit=200, required=False
            )
        )
        or ""
    )
    links = errors.check(lambda: links_clean(links, field="links")) or []
    if not isinstance(visible, bool):
        errors.add("visible", "Say yes or no.")
    elif visible and not _named_in_a_project_table(user):
        errors.add(
            "visible",
            "Only people named in a project's share table can open a contributor profile: "
            "the tables are its evidence.",
        )
    errors.raise_any()
    profile, _ = ContributorProfile.objects.select_for_update().get_or_create(user=user)
    profile.visible = visible
    profile.headline = headline
    profile.links = links
    profile.save()
    return profile


def _rate_limit(sender: User) -> None:
    limit = setting("FAIROSS_ASKS_CONTACTS_PER_DAY")
    since = timezone.now() - dt.timedelta(days=1)
    count = ContactRequest.objects.filter(sender=sender, created_at__gte=since).count()
    if count >= limit:
        raise ValidationError(
            {
                "__all__": f"You sent {count} contact requests in the last 24 hours; the limit "
                f"is {limit}. Please try again later."
            }
        )


@transaction.atomic
def contact_request_send(
    *, company: Company, sender: User, contributor: str, message: str
) -> ContactRequest:
    """A company asks an opted-in contributor (by username) whether it may contact them."""
    if company_role(slug=company.slug, user=sender) not in MONEY_ROLES:
        raise PermissionDenied("Only the company's owners and finance members can send these.")
    User.objects.select_for_update().filter(pk=sender.pk).first()  # serializes the rate limit
    _rate_limit(sender)
    errors = FieldErrors()
    username = (contributor or "").strip() if isinstance(contributor, str) else ""
    person = User.objects.filter(
        username=username,
        is_active=True,
        contributor_profile__visible=True,
    ).first()
    if person is None:
        errors.add("contributor", NOT_FOUND.format(username[:150]))
    message = (
        errors.check(lambda: text_clean(message, field="message", label="your message", limit=2000))
        or ""
    )
    errors.raise_any()
    assert person is not None
    if person.pk == sender.pk:
        raise ValidationError({"contributor": "You cannot send a contact request to yourself."})
    try:
        with transaction.atomic():
            contact = ContactRequest.objects.create(
                company=company, sender=sender, contributor=person, message=message
            )
    except IntegrityError:
        raise ValidationError(
            {
                "contributor": f"{company.name} already has a request waiting for "
                f"{username}'s answer."
            }
        ) from None
    tell(
        kind=CONTACT_REQUEST,
        people=[person],
        exclude=None,
        subject=f"{company.name} would like to contact you",
        body=f"{sender.get_username()} of {company.name} saw your contributor profile on "
        f"FairOSS and asks to contact you:\n\n{message}\n\nIf you accept, {company.name} sees "
        "your email address; if you decline, it sees nothing more.",
        url=reverse("asks:contributor"),
        key=f"contact:{contact.pk}:sent",
    )
    return contact


@transaction.atomic
def contact_request_answer(*, contact: ContactRequest, actor: User, accept: bool) -> ContactRequest:
    """The contributor accepts (their address is then shown to the company) or declines."""
    contact = (
        ContactRequest.objects.select_for_update()
        .select_related("company", "sender", "contributor")
        .get(pk=contact.pk)
    )
    if contact.contributor_id != actor.pk:
        raise PermissionDenied("Only the person asked can answer.")
    if contact.status != ContactRequest.Status.PENDING:
        raise ValidationError({"status": f"This request was already {contact.status}."})
    contact.status = ContactRequest.Status.ACCEPTED if accept else ContactRequest.Status.DECLINED
    contact.decided_at = timezone.now()
    contact.save(update_fields=["status", "decided_at"])
    name = actor.get_username()
    if accept:
        body = (
            f"{name} accepted {contact.company.name}'s contact request. Their address: "
            f"{actor.email}"
        )
    else:
        body = f"{name} declined {contact.company.name}'s contact request."
    tell(
        kind=CONTACT_REQUEST,
        people=[contact.sender],
        exclude=None,
        subject=f"{name} {contact.status} your contact request",
        body=body,
        url=reverse("asks:company", kwargs={"slug": contact.company.slug}) + "#contacts",
        key=f"contact:{contact.pk}:{contact.status}",
    )
    return contact


@transaction.atomic
def contact_request_report(
    *, contact: ContactRequest, reporter: User, reason: str
) -> ContactReport:
    """The contributor reports a request to staff; a pending one is declined at once."""
    contact = ContactRequest.objects.select_for_update().get(pk=contact.pk)
    if contact.contributor_id != reporter.pk:
        raise PermissionDenied("Only the person asked can report this request.")
    reason = text_clean(reason, field="reason", label="what is wrong with it", limit=2000)
    try:
        with transaction.atomic():
            report = ContactReport.objects.create(contact=contact, reporter=reporter, reason=reason)
    except IntegrityError:
        raise ValidationError({"reason": "You already reported this request."}) from None
    if contact.status == ContactRequest.Status.PENDING:
        contact.status = ContactRequest.Status.DECLINED
        contact.decided_at = timezone.now()
        contact.save(update_fields=["status", "decided_at"])
    return report


@transaction.atomic
def contact_report_handle(*, report: ContactReport, staff: User, note: str) -> ContactReport:
    """Staff close a report with a note (what they did: warned the company, nothing...)."""
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied("Only FairOSS staff can handle reports.")
    report = ContactReport.objects.select_for_update().get(pk=report.pk)
    if report.status == ContactReport.Status.HANDLED:
        raise ValidationError({"status": "This report was already handled."})
    report.staff_note = text_clean(note, field="staff_note", label="what you did", limit=2000)
    report.status = ContactReport.Status.HANDLED
    report.handled_by = staff
    report.handled_at = timezone.now()
    report.save(update_fields=["staff_note", "status", "handled_by", "handled_at"])
    return report
