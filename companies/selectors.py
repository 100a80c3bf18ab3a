"""Reads about companies, who may act for them, their money and where it went."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet, Sum
from django.http import Http404

from faiross.kernel.recipients import is_person_key, project_key, recipient_split
from payouts.distribution.explain import distribution_preview
from payouts.distribution.runs import run_compute
from payouts.models import DistributionRun, RunAllocation
from payouts.selectors import PEOPLE_LABEL, recipient_owned_by
from projects.auth import user_signed_in_with_second_factor
from projects.models import UserProfile
from projects.privacy import viewer_is_staff
from projects.selectors import pending_invitations_for

from .models import Agreement, Company, CompanyInvitation, CompanyMember, Invoice

MONEY_ROLES = (CompanyMember.Role.OWNER, CompanyMember.Role.FINANCE)


def company_role(*, slug: str, user: User | AnonymousUser) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        CompanyMember.objects.filter(company__slug=slug, user=user)
        .values_list("role", flat=True)
        .first()
    )


def user_has_mfa(*, user: User | AnonymousUser) -> bool:
    """Whether the account has two-factor authentication (TOTP) turned on."""
    if not user.is_authenticated:
        return False
    from allauth.mfa.utils import is_mfa_enabled

    return bool(is_mfa_enabled(user))


def user_mfa_verified(*, user: User | AnonymousUser) -> bool:
    """Whether this request's user passed a second factor: the account has MFA on *and* this
    session signed in (or re-authenticated) with it, or this API token was issued with it.

    A company's "require MFA" rule asks this, not :func:`user_has_mfa`: a password-only
    session or token of an account that has MFA must not act on the company's money.
    """
    return user_signed_in_with_second_factor(user=user) and user_has_mfa(user=user)


def mfa_required_message(*, company: Company, user: User | AnonymousUser) -> str:
    """Why ``user`` may not act on money of ``company`` (which requires MFA) right now."""
    if not user_has_mfa(user=user):
        return (
            f"{company.name} requires two-factor authentication for acting on money: "
            "turn it on in your account settings (Two-factor authentication) first."
        )
    return (
        f"{company.name} requires two-factor authentication for acting on money, and this "
        "session or API token was obtained without it: sign out and sign in again with your "
        "authenticator code (scripts: create a token with your code)."
    )


def company_exists(*, slug: str) -> bool:
    return Company.objects.filter(slug=slug).exists()


def company_table_roles(*, slug: str, user: User | AnonymousUser) -> tuple[bool, bool, int]:
    """(can propose, can approve, number of approvers) on the company's share table.

    Owners and finance members act on money and on the table; owners approve. When the
    company requires MFA, neither without a second factor in this session or token.
    """
    approvers = CompanyMember.objects.filter(
        company__slug=slug, role=CompanyMember.Role.OWNER
    ).count()
    role = company_role(slug=slug, user=user)
    if (
        role is not None
        and Company.objects.filter(slug=slug, require_mfa=True).exists()
        and not user_mfa_verified(user=user)
    ):
        return False, False, approvers
    return role in MONEY_ROLES, role == CompanyMember.Role.OWNER, approvers


def company_for_member(
    *, slug: str, user: User | AnonymousUser, staff_too: bool = True
) -> tuple[Company, str | None]:
    """The company and the caller's role; 404 for anyone who is not a member (other
    companies' members see nothing). Staff see every company (role None)."""
    company = Company.objects.filter(slug=slug).first()
    if company is None:
        raise Http404("No such company.")
    role = company_role(slug=slug, user=user)
    if role is None and not (staff_too and getattr(user, "is_staff", False)):
        raise Http404("No such company.")
    return company, role


def companies_of_user(*, user: User) -> QuerySet[CompanyMember]:
    return (
        CompanyMember.objects.filter(user=user).select_related("company").order_by("company__name")
    )


def company_members(*, company: Company) -> QuerySet[CompanyMember]:
    return company.members.select_related("user").order_by("role", "user__username")


def company_invitations_pending(*, company: Company) -> QuerySet[CompanyInvitation]:
    return company.invitations.filter(status=CompanyInvitation.Status.PENDING).select_related(
        "user"
    )


def company_invitations_for_user(*, user: User) -> QuerySet[CompanyInvitation]:
    return pending_invitations_for(CompanyInvitation.objects, user=user).select_related(
        "company", "invited_by"
    )


def agreements_of(*, company: Company) -> QuerySet[Agreement]:
    return company.agreements.prefetch_related("signatures__user", "milestones").order_by(
        "-created_at", "-id"
    )


def invoices_of(*, company: Company) -> QuerySet[Invoice]:
    return company.invoices.select_related("agreement").order_by("-issued_on", "-id")


# --- Groundwater ------------------------------------------------------------------------


def groundwater_companies() -> QuerySet[Company]:
    """Companies with an active agreement: the Groundwater participants."""
    return (
        Company.objects.filter(agreements__status=Agreement.Status.ACTIVE)
        .distinct()
        .order_by("name")
    )


def listed_companies() -> list[tuple[str, str]]:
    """``[(slug, name)]`` of the companies that chose to be listed: signing an agreement
    joins the Groundwater program, whose participants are public while an agreement is
    active. Any other company (no agreement, drafts, ended ones) is never named."""
    return list(groundwater_companies().values_list("slug", "name"))


def is_groundwater_company(*, company: Company) -> bool:
    return company.agreements.filter(status=Agreement.Status.ACTIVE).exists()


def project_received(*, slug: str) -> dict[str, int]:
    """{currency: minor units} distribution runs credited to a project (its reserve or
    escrow) or passed through it, from the run allocations; empty when nothing."""

    rows = (
        RunAllocation.objects.filter(recipient=project_key(slug), run__status="done")
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    return {r["currency"]: int(r["total"]) for r in rows if r["total"]}


def groundwater_projects(*, limit: int = 200) -> list[tuple[str, dict[str, int]]]:
    """Projects that received money from distribution runs, most first (per currency sum)."""

    rows = (
        RunAllocation.objects.filter(recipient__startswith="project:", run__status="done")
        .values("recipient", "currency")
        .annotate(total=Sum("amount"))
    )
    by_project: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r["total"]:
            by_project[r["recipient"].split(":", 1)[1]][r["currency"]] = int(r["total"])
    ranked = sorted(by_project.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return ranked[:limit]


# --- the dashboard ----------------------------------------------------------------------


@dataclass(frozen=True)
class FlowRow:
    recipient: str
    purpose: str
    currency: str
    amount: int
    # How many people a "people (N)" row sums (0 for a row that names its recipient).
    people: int = 0

    @property
    def kind(self) -> str:
        return self.recipient.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.recipient.split(":", 1)[-1]


def company_money_reached(*, company: Company) -> list[FlowRow]:
    """Where the company's distributed money went: the final recipients of its inflows in
    every finished distribution run, computed again from each run's snapshot with the
    company's inflows alone (so another company's money never shows here)."""
    key = company.owner_key
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    runs = DistributionRun.objects.filter(
        status=DistributionRun.Status.DONE, inflows__company=company
    ).distinct()
    for run in runs:
        snapshot = dict(run.snapshot or {})
        inflows = [row for row in snapshot.get("inflows", []) if row[1] == key]
        if not inflows:
            continue
        snapshot["inflows"] = inflows
        for (owner, purpose, currency), cents in run_compute(snapshot).allocations.items():
            totals[(owner, purpose, currency)] += cents
    return sorted(
        (FlowRow(o, p, c, v) for (o, p, c), v in totals.items() if v),
        key=lambda r: (r.currency, -r.amount, r.recipient),
    )


def people_shown_to(*, keys: set[str], viewer: User | AnonymousUser | None) -> set[str]:
    """Which person keys of ``keys`` ``viewer`` may see named with their money (money rule 9):
    all for staff; otherwise the viewer's own, and FairOSS users who opted in to a public
    profile."""
    people = {k for k in keys if is_person_key(k)}
    if viewer_is_staff(user=viewer):
        return people
    public = set(
        UserProfile.objects.filter(
            public=True,
            user__is_active=True,
            user__username__in=[recipient_split(k)[1] for k in people if k.startswith("user:")],
        ).values_list("user__username", flat=True)
    )
    return {
        k
        for k in people
        if (k.startswith("user:") and recipient_split(k)[1] in public)
        or recipient_owned_by(recipient=k, user=viewer)
    }


def flow_rows_shown(rows: list[FlowRow], *, viewer: User | AnonymousUser | None) -> list[FlowRow]:
    """``rows`` as ``viewer`` may see them: projects, companies and packages by name; a
    person by name only when :func:`people_shown_to` allows; every other person folded into
    one ``people (N)`` row per currency, placed after that currency's named rows.

    Invariant: the amounts per currency add up to the same totals as ``rows``, and no folded
    person's key or single amount is in the result (a folded row is their exact sum)."""
    shown = people_shown_to(keys={r.recipient for r in rows}, viewer=viewer)
    out: list[FlowRow] = []
    folded: dict[str, tuple[int, int, set[str]]] = {}
    for row in rows:
        if is_person_key(row.recipient) and row.recipient not in shown:
            count, total, purposes = folded.get(row.currency, (0, 0, set()))
            folded[row.currency] = (count + 1, total + row.amount, purposes | {row.purpose})
        else:
            out.append(row)
    for currency, (count, total, purposes) in folded.items():
        label = f"{PEOPLE_LABEL} ({count})"
        out.append(FlowRow(label, ", ".join(sorted(purposes)), currency, total, people=count))
    return sorted(out, key=lambda r: (r.currency, r.people > 0, -r.amount, r.recipient))


def company_money_reached_shown(
    *, company: Company, viewer: User | AnonymousUser | None
) -> list[FlowRow]:
    """:func:`company_money_reached` as ``viewer`` may see it (:func:`flow_rows_shown`):
    company members see projects by name and people summed, like the public."""
    return flow_rows_shown(company_money_reached(company=company), viewer=viewer)


def flow_preview(*, owner_key: str, amount: int, currency: str) -> list[FlowRow]:
    """How ``amount`` entering at ``owner_key`` would flow today, by the active tables."""
    result = distribution_preview(owner_key=owner_key, amount=amount, currency=currency)
    return sorted(
        (FlowRow(o, p, currency, v) for (o, p), v in result.items() if v),
        key=lambda r: (-r.amount, r.recipient),
    )


def company_paid_by_month(*, company: Company) -> list[tuple[str, str, int]]:
    """[(YYYY-MM, currency, paid)] of paid invoices, oldest first (for the chart)."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for paid_at, currency, amount in company.invoices.filter(
        status=Invoice.Status.PAID
    ).values_list("paid_at", "currency", "amount"):
        assert paid_at is not None, "a paid invoice has paid_at"
        totals[(paid_at.strftime("%Y-%m"), currency)] += amount
    return [(m, c, v) for (m, c), v in sorted(totals.items())]


def company_totals(*, company: Company) -> dict[str, dict[str, int]]:
    """{currency: {"due": open invoices, "paid": paid invoices}}."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"due": 0, "paid": 0})
    rows = (
        company.invoices.exclude(status=Invoice.Status.VOID)
        .values("currency", "status")
        .annotate(total=Sum("amount"))
    )
    for r in rows:
        out[r["currency"]]["paid" if r["status"] == "paid" else "due"] += int(r["total"])
    return dict(out)


def upcoming_pledge_invoices(
    *, company: Company, today: dt.date
) -> list[tuple[Agreement, dt.date, int]]:
    """The next pledge period of each active pledge that has not begun: (agreement, first
    day, amount)."""
    from . import terms

    out = []
    for agreement in company.agreements.filter(
        kind=Agreement.Kind.PLEDGE, status=Agreement.Status.ACTIVE
    ):
        periods = terms.pledge_periods(
            start=agreement.start_date,
            period=agreement.period,
            until=today + dt.timedelta(days=400),
            end=agreement.end_date,
        )
        nxt = next((p for p in periods if p[0] > today), None)
        if nxt is not None:
            out.append((agreement, nxt[0], agreement.pledge_total or 0))
    return out
