"""Feature requests from a company to the projects it funds, and their steps.

::

    open ──accept──▶ accepted ──start──▶ in_progress ──deliver──▶ delivered ──confirm──▶ confirmed
     │ ▲                │                    │                      │  └─(staff, after the
     │ └─revise─ changes_proposed            │                      │     confirm time)─▶ confirmed
     ├─propose changes─┘                     │                      └─reject──▶ disputed
     └─decline──▶ declined    withdraw (company, before delivery) ──▶ withdrawn

Who acts: the company's owners and finance members file, revise, withdraw, confirm and reject;
the project's stewards accept, decline, propose changes, start and deliver; staff decide a
delivered request the company left unanswered past ``confirm_by`` (the setting
``FAIROSS_ASKS_CONFIRM_DAYS``) and a disputed one (after the ombudsman's resolution).

Invariants every step keeps: the request row is locked first; a step from the wrong status
is a ``ValidationError`` on ``status`` naming the current one; each step is recorded as a
:class:`~asks.models.RequestEvent` and told (``ask_update``) to the other parties. Confirming
meets the tied milestone through ``companies.services.vesting.milestone_meet`` (the vesting
rules are that module's) and pays the bounty into the project's flow (``bounties``);
withdrawing or declining releases the bounty to the company's reserve.

A disagreement about a delivery is a dispute for the ombudsman: this app sits above
``disputes`` and files it with ``disputes.services.dispute_file`` (about the project, so the
stewards are parties), kind ``agreement`` when a milestone hangs on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from companies.models import Agreement, Company, Milestone
from companies.services import require_money_actor
from companies.services.vesting import milestone_meet
from disputes.models import Dispute
from disputes.services.filing import dispute_file
from faiross.kernel.errors import FieldErrors
from faiross.kernel.money import amount_clean, currency_clean
from payouts.models import LedgerTransaction
from projects.models import Project
from projects.notifications import ASK_UPDATE

from .. import selectors
from ..conf import setting
from ..models import FeatureRequest, RequestEvent
from . import bounties
from ._common import links_clean, tell, text_clean

S = FeatureRequest.Status
MAX_PROJECTS = 10


# --- helpers -----------------------------------------------------------------------------


def _lock(request: FeatureRequest) -> FeatureRequest:
    return (
        FeatureRequest.objects.select_for_update(of=("self",))
        .select_related("company", "project", "milestone__agreement")
        .get(pk=request.pk)
    )


def _require_status(request: FeatureRequest, *allowed: str, doing: str) -> None:
    if request.status not in allowed:
        raise ValidationError(
            {
                "status": f"This request is {request.get_status_display().lower()}; "
                f"it cannot be {doing} now."
            }
        )


def _require_steward(request: FeatureRequest, actor: User | AnonymousUser) -> None:
    if not selectors.is_steward(project=request.project, user=actor):
        raise PermissionDenied(f"Only the stewards of {request.project.name} can do this.")


def _require_company(company: Company, actor: User | AnonymousUser) -> None:
    require_money_actor(company=company, user=actor)


def request_url(request: FeatureRequest) -> str:
    return reverse("asks:request", kwargs={"pk": request.pk})


def _record(
    request: FeatureRequest,
    *,
    actor: User | None,
    action: str,
    note: str = "",
    txn: LedgerTransaction | None = None,
    tell_text: str,
) -> RequestEvent:
    """The step on the request's history, and a message to the company's owners and finance
    members and the project's stewards (not to whoever took it)."""
    event = RequestEvent.objects.create(
        request=request, action=action, actor=actor, note=note, ledger_transaction=txn
    )
    people = list(
        selectors.company_people(company=request.company).filter(
            company_memberships__role__in=("owner", "finance")
        )
    ) + list(selectors.project_stewards(project=request.project))
    body = (
        f"Feature request #{request.pk} of {request.company.name} to {request.project.name}: "
        f"{request.title}\n\n{tell_text}"
        + (f"\n\n{note}" if note else "")
        + f"\n\nStatus: {request.get_status_display()}."
    )
    tell(
        kind=ASK_UPDATE,
        people=people,
        exclude=actor,
        subject=f"Feature request #{request.pk} {action.replace('_', ' ')}: {request.title}"[:200],
        body=body,
        url=request_url(request),
        key=f"ask:{request.pk}:{event.pk}",
    )
    return event


def _rate_limit(actor: User) -> None:
    limit = setting("FAIROSS_ASKS_REQUESTS_PER_DAY")
    since = timezone.now() - dt.timedelta(days=1)
    count = FeatureRequest.objects.filter(filed_by=actor, created_at__gte=since).count()
    if count >= limit:
        raise ValidationError(
            {
                "__all__": f"You filed {count} feature requests in the last 24 hours; the "
                f"limit is {limit}. Please try again later."
            }
        )


def _milestone_check(company: Company, milestone: Milestone, n_projects: int) -> Milestone:
    agreement = milestone.agreement
    if agreement.company_id != company.pk or agreement.kind != Agreement.Kind.EQUITY:
        raise ValidationError(
            {"milestone": "Choose a milestone of this company's equity agreement."}
        )
    if agreement.status not in (Agreement.Status.SIGNED, Agreement.Status.ACTIVE):
        raise ValidationError({"milestone": "The milestone's agreement is not signed or active."})
    if milestone.met_on is not None:
        raise ValidationError({"milestone": f"'{milestone.title}' was already met."})
    if FeatureRequest.objects.filter(
        milestone=milestone, status__in=(*selectors.LIVE_STATUSES, S.CONFIRMED)
    ).exists():
        raise ValidationError(
            {"milestone": f"'{milestone.title}' is already tied to another request."}
        )
    if n_projects != 1:
        raise ValidationError(
            {"milestone": "A milestone is met by one project's delivery: choose one project."}
        )
    return milestone


# --- filing and revising -----------------------------------------------------------------


@transaction.atomic
def feature_request_file(
    *,
    company: Company,
    actor: User,
    projects: Sequence[Project],
    title: str,
    description: str,
    links: Sequence[str] = (),
    milestone: Milestone | None = None,
    bounty_amount: int | None = None,
    bounty_currency: str = "",
) -> list[FeatureRequest]:
    """File one request per project (each a project the company's active table names).

    Preconditions: ``actor`` is an owner or finance member of ``company`` and filed fewer
    than ``FAIROSS_ASKS_REQUESTS_PER_DAY`` requests in the last 24 hours.
    Invariants: every problem is reported at once and nothing is stored; a bounty is held
    per project from the company's reserve (all or none); a milestone is tied to one
    request of one project.
    """
    _require_company(company, actor)
    User.objects.select_for_update().filter(pk=actor.pk).first()  # serializes the rate limit
    _rate_limit(actor)
    errors = FieldErrors()
    title = (
        errors.check(lambda: text_clean(title, field="title", label="a short title", limit=200))
        or ""
    )
    description = (
        errors.check(
            lambda: text_clean(
                description, field="description", label="what you ask for", limit=5000
            )
        )
        or ""
    )
    links = errors.check(lambda: links_clean(links, field="links")) or []
    chosen = list(dict.fromkeys(projects))
    funded = set(selectors.funded_projects(company=company).values_list("pk", flat=True))
    if not chosen:
        errors.add("projects", "Choose at least one project.")
    elif len(chosen) > MAX_PROJECTS:
        errors.add("projects", f"Choose at most {MAX_PROJECTS} projects.")
    for project in chosen:
        if project.pk not in funded:
            errors.add(
                "projects",
                f"{company.name}'s share table does not name {project.name}: requests go to "
                "the projects the company funds.",
            )
    if milestone is not None:
        errors.check(lambda: _milestone_check(company, milestone, len(chosen)))
    amount: int | None = None
    currency = ""
    if bounty_amount not in (None, "", 0):
        amount = errors.check(lambda: amount_clean(amount=bounty_amount, field="bounty_amount"))
        currency = (
            errors.check(
                lambda: currency_clean(currency=bounty_currency or "", field="bounty_currency")
            )
            or ""
        )
    errors.raise_any()
    created = []
    for project in chosen:
        try:
            with transaction.atomic():
                created.append(
                    FeatureRequest.objects.create(
                        company=company,
                        project=project,
                        title=title,
                        description=description,
                        links=links,
                        milestone=milestone,
                        bounty_amount=amount,
                        bounty_currency=currency,
                        filed_by=actor,
                    )
                )
        except IntegrityError:  # a concurrent filing tied the same milestone
            raise ValidationError(
                {"milestone": "This milestone was just tied to another request."}
            ) from None
    txns = bounties.bounties_hold(company=company, requests=created)
    by_request = {t.reference: t for t in txns}
    for request in created:
        bounty = (
            f" Bounty: {request.bounty_shown}, held from the company's reserve." if amount else ""
        )
        tie = f" It is tied to the equity milestone '{milestone.title}'." if milestone else ""
        _record(
            request,
            actor=actor,
            action="filed",
            txn=by_request.get(request.reference),
            tell_text=f"{actor.get_username()} filed this request.{tie}{bounty} "
            "Stewards can accept it, decline it or propose changes.",
        )
    return created


@transaction.atomic
def feature_request_revise(
    *,
    request: FeatureRequest,
    actor: User,
    title: str,
    description: str,
    links: Sequence[str] = (),
) -> FeatureRequest:
    """The company answers proposed changes with a revised request (it is open again)."""
    request = _lock(request)
    _require_company(request.company, actor)
    _require_status(request, S.CHANGES_PROPOSED, S.OPEN, doing="revised")
    errors = FieldErrors()
    title = (
        errors.check(lambda: text_clean(title, field="title", label="a short title", limit=200))
        or ""
    )
    description = (
        errors.check(
            lambda: text_clean(
                description, field="description", label="what you ask for", limit=5000
            )
        )
        or ""
    )
    links = errors.check(lambda: links_clean(links, field="links")) or []
    errors.raise_any()
    request.title, request.description, request.links = title, description, links
    request.status = S.OPEN
    request.save(update_fields=["title", "description", "links", "status", "updated_at"])
    _record(request, actor=actor, action="revised", tell_text="The company revised the request.")
    return request


# --- the stewards' answers ---------------------------------------------------------------


@transaction.atomic
def feature_request_accept(
    *, request: FeatureRequest, actor: User, note: str = ""
) -> FeatureRequest:
    """Stewards accept an open request: it shows on the project page from now on."""
    request = _lock(request)
    _require_steward(request, actor)
    _require_status(request, S.OPEN, doing="accepted")
    note = text_clean(note, field="note", label="a note", limit=2000, required=False)
    request.status = S.ACCEPTED
    request.save(update_fields=["status", "updated_at"])
    _record(
        request, actor=actor, action="accepted", note=note, tell_text="The stewards accepted it."
    )
    return request


@transaction.atomic
def feature_request_decline(*, request: FeatureRequest, actor: User, note: str) -> FeatureRequest:
    """Stewards decline (with a reason); a held bounty goes back to the company's reserve."""
    request = _lock(request)
    _require_steward(request, actor)
    _require_status(request, S.OPEN, S.CHANGES_PROPOSED, doing="declined")
    note = text_clean(note, field="note", label="why you decline", limit=2000)
    request.status = S.DECLINED
    request.steward_note = note
    request.save(update_fields=["status", "steward_note", "updated_at"])
    txn = bounties.bounty_release(request=request)
    _record(
        request,
        actor=actor,
        action="declined",
        note=note,
        txn=txn,
        tell_text="The stewards declined it."
        + (" The bounty is back in the company's reserve." if txn else ""),
    )
    return request


@transaction.atomic
def feature_request_propose_changes(
    *, request: FeatureRequest, actor: User, note: str
) -> FeatureRequest:
    """Stewards say what they would accept instead; the company revises or withdraws."""
    request = _lock(request)
    _require_steward(request, actor)
    _require_status(request, S.OPEN, doing="answered with changes")
    note = text_clean(note, field="note", label="the changes you propose", limit=2000)
    request.status = S.CHANGES_PROPOSED
    request.steward_note = note
    request.save(update_fields=["status", "steward_note", "updated_at"])
    _record(
        request,
        actor=actor,
        action="changes_proposed",
        note=note,
        tell_text="The stewards propose changes; revise the request or withdraw it.",
    )
    return request


@transaction.atomic
def feature_request_start(*, request: FeatureRequest, actor: User) -> FeatureRequest:
    request = _lock(request)
    _require_steward(request, actor)
    _require_status(request, S.ACCEPTED, doing="started")
    request.status = S.IN_PROGRESS
    request.save(update_fields=["status", "updated_at"])
    _record(request, actor=actor, action="started", tell_text="Work on it has started.")
    return request


@transaction.atomic
def feature_request_deliver(
    *, request: FeatureRequest, actor: User, evidence: Sequence[str], note: str = ""
) -> FeatureRequest:
    """Stewards mark it delivered with evidence (merged pull requests, a release); the
    company has ``FAIROSS_ASKS_CONFIRM_DAYS`` days to confirm or reject, then staff decide."""
    request = _lock(request)
    _require_steward(request, actor)
    _require_status(request, S.ACCEPTED, S.IN_PROGRESS, doing="delivered")
    errors = FieldErrors()
    evidence = errors.check(lambda: links_clean(evidence, field="evidence", required=True)) or []
    note = (
        errors.check(
            lambda: text_clean(note, field="note", label="a note", limit=2000, required=False)
        )
        or ""
    )
    errors.raise_any()
    now = timezone.now()
    request.status = S.DELIVERED
    request.evidence = evidence
    request.delivery_note = note
    request.delivered_at = now
    request.confirm_by = now + dt.timedelta(days=setting("FAIROSS_ASKS_CONFIRM_DAYS"))
    request.save(
        update_fields=[
            "status",
            "evidence",
            "delivery_note",
            "delivered_at",
            "confirm_by",
            "updated_at",
        ]
    )
    _record(
        request,
        actor=actor,
        action="delivered",
        note=note,
        tell_text="The stewards delivered it:\n"
        + "\n".join(evidence)
        + f"\n\nPlease confirm or reject by {request.confirm_by:%Y-%m-%d}; after that FairOSS "
        "staff decide.",
    )
    return request


# --- the company's answers ---------------------------------------------------------------


def _confirm(request: FeatureRequest, actor: User, by: str, note: str) -> FeatureRequest:
    """Confirmed: the milestone is met (its part of the stake vests from today, by the
    vesting rules) and the bounty enters the project's flow."""
    if request.milestone is not None:
        milestone_meet(milestone=request.milestone, actor=actor, met_on=timezone.localdate())
    request.status = S.CONFIRMED
    request.confirmed_at = timezone.now()
    request.confirmed_by = by
    request.save(update_fields=["status", "confirmed_at", "confirmed_by", "updated_at"])
    txn = bounties.bounty_pay(request=request)
    extra = ""
    if request.milestone is not None:
        extra += f" The milestone '{request.milestone.title}' is met."
    if txn is not None:
        extra += (
            f" The bounty ({request.bounty_shown}) flows by {request.project.name}'s table in "
            "the next distribution run."
        )
    who = "The company" if by == FeatureRequest.ConfirmedBy.COMPANY else "FairOSS staff"
    _record(
        request,
        actor=actor,
        action="confirmed",
        note=note,
        txn=txn,
        tell_text=f"{who} confirmed the delivery.{extra}",
    )
    return request


@transaction.atomic
def feature_request_confirm(
    *, request: FeatureRequest, actor: User, note: str = ""
) -> FeatureRequest:
    """The company confirms a delivery (see :func:`_confirm` for what follows)."""
    request = _lock(request)
    _require_company(request.company, actor)
    _require_status(request, S.DELIVERED, doing="confirmed")
    note = text_clean(note, field="note", label="a note", limit=2000, required=False)
    return _confirm(request, actor, FeatureRequest.ConfirmedBy.COMPANY, note)


@transaction.atomic
def feature_request_reject(*, request: FeatureRequest, actor: User, reason: str) -> FeatureRequest:
    """The company disagrees with a delivery: a dispute is filed for the ombudsman (about the
    project, so its stewards are parties, with the delivery's evidence), and the request waits
    as disputed until staff decide."""
    request = _lock(request)
    _require_company(request.company, actor)
    _require_status(request, S.DELIVERED, doing="rejected")
    reason = text_clean(reason, field="reason", label="what is missing", limit=2000)
    dispute = dispute_file(
        filer=actor,
        target=request.project.owner_key,
        kind=Dispute.Kind.AGREEMENT if request.milestone_id else Dispute.Kind.OTHER,
        title=f"Feature request #{request.pk}: delivery contested"[:200],
        description=f"{request.company.name} does not accept the delivery of feature request "
        f"#{request.pk} ({request.title}).\n\n{reason}",
        links=list(request.evidence)[:10],
        amount_at_stake=request.bounty_amount,
        currency=request.bounty_currency,
    )
    request.status = S.DISPUTED
    request.dispute = dispute
    request.save(update_fields=["status", "dispute", "updated_at"])
    _record(
        request,
        actor=actor,
        action="disputed",
        note=reason,
        tell_text=f"The company rejected the delivery; dispute #{dispute.pk} is with the "
        "ombudsman office.",
    )
    return request


@transaction.atomic
def feature_request_withdraw(*, request: FeatureRequest, actor: User) -> FeatureRequest:
    """The company withdraws a request not yet delivered; a held bounty goes back to its
    reserve."""
    request = _lock(request)
    _require_company(request.company, actor)
    _require_status(
        request, S.OPEN, S.CHANGES_PROPOSED, S.ACCEPTED, S.IN_PROGRESS, doing="withdrawn"
    )
    return _withdrawn(request, actor, "The company withdrew it.")


def _withdrawn(request: FeatureRequest, actor: User, text: str, note: str = "") -> FeatureRequest:
    request.status = S.WITHDRAWN
    request.save(update_fields=["status", "updated_at"])
    txn = bounties.bounty_release(request=request)
    _record(
        request,
        actor=actor,
        action="withdrawn",
        note=note,
        txn=txn,
        tell_text=text + (" The bounty is back in the company's reserve." if txn else ""),
    )
    return request


# --- staff -------------------------------------------------------------------------------

STAFF_OUTCOMES = ("confirm", "reopen", "cancel")


def feature_request_awaits_staff(
    *, request: FeatureRequest, now: dt.datetime | None = None
) -> bool:
    """Delivered and unanswered past ``confirm_by``, or disputed."""
    if request.status == S.DISPUTED:
        return True
    now = now or timezone.now()
    return (
        request.status == S.DELIVERED
        and request.confirm_by is not None
        and request.confirm_by <= now
    )


@transaction.atomic
def feature_request_staff_decide(
    *, request: FeatureRequest, staff: User, outcome: str, note: str
) -> FeatureRequest:
    """Staff decide a request the company left unanswered or disputed: ``confirm`` (as if
    the company had), ``reopen`` (back to in progress: the delivery is not enough) or
    ``cancel`` (withdrawn; the bounty goes back to the company's reserve)."""
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied("Only FairOSS staff can decide.")
    request = _lock(request)
    if not feature_request_awaits_staff(request=request):
        raise ValidationError(
            {
                "status": "Staff decide only a disputed request, or a delivered one the company "
                "has not answered by its confirm date."
            }
        )
    if outcome not in STAFF_OUTCOMES:
        raise ValidationError({"outcome": "Choose confirm, reopen or cancel."})
    note = text_clean(note, field="note", label="the reason for the decision", limit=2000)
    if outcome == "confirm":
        return _confirm(request, staff, FeatureRequest.ConfirmedBy.STAFF, note)
    if outcome == "cancel":
        return _withdrawn(request, staff, "FairOSS staff cancelled it.", note)
    request.status = S.IN_PROGRESS
    request.delivered_at = None
    request.confirm_by = None
    request.save(update_fields=["status", "delivered_at", "confirm_by", "updated_at"])
    _record(
        request,
        actor=staff,
        action="reopened",
        note=note,
        tell_text="FairOSS staff sent it back: the delivery is not complete yet.",
    )
    return request
