"""Reads of company asks, with who may see what (privacy rule 9).

- A feature request is seen by its company's members, the project's members and staff; once
  stewards accepted it, by everyone (the project page lists it: "requested by Acme,
  accepted"). Its bounty and the stewards' notes are seen by the parties and staff only.
- A contributor profile is seen only when its person opted in, and then only its username,
  headline, chosen links and the project tables that name them (public anyway): never money,
  never an address. A contributor's address is shown to a company only on an accepted
  contact request, and only to that company's members.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet, Sum

from companies.models import Company, CompanyMember
from companies.selectors import MONEY_ROLES, company_role
from faiross.kernel.recipients import company_key, recipient_split, user_key
from payouts.models import Account, Posting
from projects.models import Membership, Project, ProjectPurl, TableEntry

from .models import ContactRequest, ContributorProfile, FeatureRequest

PUBLIC_STATUSES = (
    FeatureRequest.Status.ACCEPTED,
    FeatureRequest.Status.IN_PROGRESS,
    FeatureRequest.Status.DELIVERED,
    FeatureRequest.Status.CONFIRMED,
    FeatureRequest.Status.DISPUTED,
)
"""Statuses in which a request is public (the stewards agreed to it)."""

LIVE_STATUSES = (
    FeatureRequest.Status.OPEN,
    FeatureRequest.Status.CHANGES_PROPOSED,
    FeatureRequest.Status.ACCEPTED,
    FeatureRequest.Status.IN_PROGRESS,
    FeatureRequest.Status.DELIVERED,
    FeatureRequest.Status.DISPUTED,
)


# --- roles -------------------------------------------------------------------------------


def is_steward(*, project: Project, user: User | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(
        project=project, user=user, role=Membership.Role.STEWARD
    ).exists()


def is_company_member(*, company: Company, user: User | AnonymousUser) -> bool:
    return company_role(slug=company.slug, user=user) is not None


def money_companies_of(*, user: User | AnonymousUser) -> QuerySet[Company]:
    """The companies where ``user`` is an owner or finance member (who may file and contact)."""
    if not user.is_authenticated:
        return Company.objects.none()
    return Company.objects.filter(members__user=user, members__role__in=MONEY_ROLES).order_by(
        "name"
    )


def company_people(*, company: Company) -> QuerySet[User]:
    return User.objects.filter(company_memberships__company=company, is_active=True).order_by("pk")


def project_stewards(*, project: Project) -> QuerySet[User]:
    return User.objects.filter(
        project_memberships__project=project,
        project_memberships__role=Membership.Role.STEWARD,
        is_active=True,
    ).order_by("pk")


# --- feature requests --------------------------------------------------------------------


def funded_projects(*, company: Company) -> QuerySet[Project]:
    """The projects the company's active share table names directly (the ones it funds)."""
    return Project.objects.filter(
        pk__in=TableEntry.objects.filter(
            version__table__owner_key=company_key(company.slug),
            version__status="active",
            project__isnull=False,
        ).values("project_id")
    ).order_by("name")


def request_is_party(*, request: FeatureRequest, user: User | AnonymousUser) -> bool:
    """Company members, project members and staff: they see notes and the bounty."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if is_company_member(company=request.company, user=user):
        return True
    return Membership.objects.filter(project=request.project, user=user).exists()


def request_visible(*, request: FeatureRequest, user: User | AnonymousUser) -> bool:
    return request.status in PUBLIC_STATUSES or request_is_party(request=request, user=user)


def requests_visible_to(*, user: User | AnonymousUser) -> QuerySet[FeatureRequest]:
    qs = FeatureRequest.objects.select_related("company", "project", "milestone")
    if user.is_authenticated and user.is_staff:
        return qs
    public = Q(status__in=PUBLIC_STATUSES)
    if not user.is_authenticated:
        return qs.filter(public)
    return qs.filter(
        public | Q(company__members__user=user) | Q(project__memberships__user=user)
    ).distinct()


def requests_of_company(*, company: Company) -> QuerySet[FeatureRequest]:
    return FeatureRequest.objects.filter(company=company).select_related(
        "project", "milestone", "company"
    )


def requests_of_project(
    *, project: Project, user: User | AnonymousUser
) -> QuerySet[FeatureRequest]:
    """The project's requests ``user`` may see: all for its members and staff, else the
    accepted ones."""
    qs = FeatureRequest.objects.filter(project=project).select_related("company", "milestone")
    member = user.is_authenticated and (
        user.is_staff or Membership.objects.filter(project=project, user=user).exists()
    )
    return qs if member else qs.filter(status__in=PUBLIC_STATUSES)


def company_reserve(*, company: Company, currency: str) -> int:
    """What the company's table kept in ``currency`` (what bounties are paid from)."""
    total = Posting.objects.filter(
        account__owner=company_key(company.slug),
        account__purpose=Account.Purpose.RESERVE,
        account__currency=currency,
    ).aggregate(t=Sum("amount"))["t"]
    return int(total or 0)


def company_reserves(*, company: Company) -> dict[str, int]:
    """``{currency: minor units}`` of the company's reserve, positive balances only."""
    rows = (
        Posting.objects.filter(
            account__owner=company_key(company.slug), account__purpose=Account.Purpose.RESERVE
        )
        .values("currency")
        .annotate(t=Sum("amount"))
        .filter(t__gt=0)
        .order_by("currency")
    )
    return {r["currency"]: int(r["t"]) for r in rows}


def company_bounties_held(*, company: Company) -> dict[str, int]:
    rows = (
        Posting.objects.filter(
            account__owner=company_key(company.slug), account__purpose=Account.Purpose.BOUNTY
        )
        .values("currency")
        .annotate(t=Sum("amount"))
        .filter(t__gt=0)
        .order_by("currency")
    )
    return {r["currency"]: int(r["t"]) for r in rows}


def open_milestones(*, company: Company) -> list[tuple[int, str]]:
    """(id, label) of the company's unmet equity milestones on signed or active agreements
    that no live request is tied to: what a new request may be tied to."""
    from companies.models import Agreement, Milestone

    taken = FeatureRequest.objects.filter(
        milestone__isnull=False, status__in=(*LIVE_STATUSES, FeatureRequest.Status.CONFIRMED)
    ).values("milestone_id")
    rows = (
        Milestone.objects.filter(
            agreement__company=company,
            agreement__kind=Agreement.Kind.EQUITY,
            agreement__status__in=(Agreement.Status.SIGNED, Agreement.Status.ACTIVE),
            met_on__isnull=True,
        )
        .exclude(pk__in=taken)
        .select_related("agreement")
    )
    from faiross.kernel.shares import format_percent

    return [
        (
            m.pk,
            f"{m.title} ({format_percent(millibips=m.millibips)} of the stake, "
            f"{m.agreement.reference})",
        )
        for m in rows
    ]


# --- contributors ------------------------------------------------------------------------


@dataclass
class ContributorCard:
    """What a company sees of an opted-in contributor (nothing about money or addresses)."""

    username: str
    headline: str
    links: list[str]
    projects: list[tuple[str, str, int]] = field(default_factory=list)  # slug, name, millibips
    ecosystems: list[str] = field(default_factory=list)


def _named_in_project_tables(usernames: list[str]) -> dict[str, list[tuple[str, str, int]]]:
    """{username: [(slug, name, millibips)]} of the active project tables naming each person."""
    keys = {user_key(u): u for u in usernames}
    rows = (
        TableEntry.objects.filter(
            recipient__in=list(keys),
            version__status="active",
            version__table__owner_key__startswith="project:",
        )
        .values_list("recipient", "version__table__owner_key", "millibips")
        .order_by("-millibips")
    )
    slugs = {recipient_split(owner)[1] for _, owner, _ in rows}
    names = dict(Project.objects.filter(slug__in=slugs).values_list("slug", "name"))
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for recipient, owner, millibips in rows:
        slug = recipient_split(owner)[1]
        out[keys[recipient]].append((slug, names.get(slug, slug), millibips))
    return out


def _ecosystems(slugs: set[str]) -> dict[str, set[str]]:
    """{project slug: {purl type}} ("pypi", "npm", "cargo"...): a project's ecosystems."""
    out: dict[str, set[str]] = defaultdict(set)
    for slug, purl in ProjectPurl.objects.filter(project__slug__in=slugs).values_list(
        "project__slug", "purl"
    ):
        if purl.startswith("pkg:") and "/" in purl:
            out[slug].add(purl[4:].split("/", 1)[0].lower())
    return out


def contributor_cards(usernames: list[str]) -> list[ContributorCard]:
    profiles = {
        p.user.username: p
        for p in ContributorProfile.objects.filter(
            visible=True, user__username__in=usernames, user__is_active=True
        ).select_related("user")
    }
    named = _named_in_project_tables(list(profiles))
    eco = _ecosystems({slug for rows in named.values() for slug, _, _ in rows})
    cards = []
    for username in usernames:
        profile = profiles.get(username)
        if profile is None:
            continue
        projects = named.get(username, [])
        cards.append(
            ContributorCard(
                username=username,
                headline=profile.headline,
                links=list(profile.links),
                projects=projects,
                ecosystems=sorted({e for slug, _, _ in projects for e in eco.get(slug, ())}),
            )
        )
    return cards


def contributors_search(
    *, project: str = "", ecosystem: str = "", limit: int = 50
) -> list[ContributorCard]:
    """Opted-in people named in at least one active project table, filtered by a project
    (slug) and an ecosystem (purl type), best known first (their largest share)."""
    visible = ContributorProfile.objects.filter(visible=True, user__is_active=True)
    keys = [user_key(u) for u in visible.values_list("user__username", flat=True)]
    entries = TableEntry.objects.filter(
        recipient__in=keys,
        version__status="active",
        version__table__owner_key__startswith="project:",
    )
    if project:
        entries = entries.filter(version__table__owner_key=f"project:{project.strip().lower()}")
    if ecosystem:
        eco = ecosystem.strip().lower()
        slugs = (
            ProjectPurl.objects.filter(purl__istartswith=f"pkg:{eco}/")
            .values_list("project__slug", flat=True)
            .distinct()
        )
        entries = entries.filter(version__table__owner_key__in=[f"project:{s}" for s in slugs])
    ranked = (
        entries.values("recipient")
        .annotate(best=Sum("millibips"))
        .order_by("-best", "recipient")[:limit]
    )
    usernames = [recipient_split(r["recipient"])[1] for r in ranked]
    return contributor_cards(usernames)


def contributor_card(*, username: str) -> ContributorCard | None:
    """The card of an opted-in person, else ``None`` (not opted in looks like not there)."""
    cards = contributor_cards([username])
    return cards[0] if cards else None


def contact_email_for(*, contact: ContactRequest, viewer: User | AnonymousUser) -> str:
    """The contributor's address, for the sending company's members on an accepted request
    only; empty for everyone else (privacy rule 9)."""
    if contact.status != ContactRequest.Status.ACCEPTED:
        return ""
    if not (
        viewer.is_authenticated
        and CompanyMember.objects.filter(company=contact.company, user=viewer).exists()
    ):
        return ""
    return contact.contributor.email


def contacts_received(*, user: User) -> QuerySet[ContactRequest]:
    return ContactRequest.objects.filter(contributor=user).select_related("company", "sender")


def contacts_of_company(*, company: Company) -> QuerySet[ContactRequest]:
    return ContactRequest.objects.filter(company=company).select_related("contributor", "sender")


def contacts_visible_to(*, user: User) -> QuerySet[ContactRequest]:
    """Contact requests ``user`` received or that one of their companies sent."""
    return (
        ContactRequest.objects.filter(Q(contributor=user) | Q(company__members__user=user))
        .select_related("company", "contributor", "sender")
        .distinct()
    )
