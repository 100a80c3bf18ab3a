"""Creates demo people and projects for the embedded default. Safe to run again."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from companies import services as company_services
from companies.models import Company, CompanyMember
from faiross.kernel.shares import MILLIBIPS_PER_PERCENT
from payouts.distribution import runs
from payouts.inflows import inflow_record
from payouts.models import DistributionRun
from projects import services
from projects.models import Invitation, Project, ShareTable
from projects.services.tables import EntryInput, table_propose
from projects.verification.services import project_verify_by_staff

DEMO_PASSWORD = "faiross-demo"

USERS = [
    ("alice", "alice@example.com", False),
    ("bob", "bob@example.com", False),
    ("carol", "carol@example.com", False),
    ("admin", "admin@example.com", True),
]
# Verified by staff (method "staff"), so their tables move money; left-pad stays unverified
# to show the waiting state: what reaches it waits in its escrow until it is verified.
VERIFIED = ("numpy", "scipy", "requests")
VERIFY_NOTE = "demo data"

PROJECTS = [
    (
        "alice",
        "numpy",
        "NumPy",
        "https://github.com/numpy/numpy",
        "The fundamental package for scientific computing with Python.",
        ["pkg:pypi/numpy"],
    ),
    (
        "alice",
        "scipy",
        "SciPy",
        "https://github.com/scipy/scipy",
        "Fundamental algorithms for scientific computing in Python.",
        ["pkg:pypi/scipy"],
    ),
    (
        "bob",
        "requests",
        "Requests",
        "https://github.com/psf/requests",
        "A simple, yet elegant, HTTP library.",
        ["pkg:pypi/requests"],
    ),
    (
        "carol",
        "left-pad",
        "left-pad",
        "https://github.com/left-pad/left-pad",
        "String left pad.",
        ["pkg:npm/left-pad"],
    ),
]


def E(recipient: str, percent: int) -> EntryInput:
    return EntryInput(recipient=recipient, millibips=percent * MILLIBIPS_PER_PERCENT)


class Command(BaseCommand):
    help = "Create demo users and projects (password for all: faiross-demo)."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        users = {}
        for username, email, staff in USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = user.is_superuser = staff
                user.save()
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            users[username] = user
        for owner, slug, name, repo, description, purls in PROJECTS:
            if not Project.objects.filter(slug=slug).exists():
                services.project_create(
                    creator=users[owner],
                    slug=slug,
                    name=name,
                    repo_url=repo,
                    description=description,
                    purls=purls,
                )
        for slug in VERIFIED:
            project = Project.objects.get(slug=slug)
            if not project.is_verified:
                project_verify_by_staff(project=project, staff=users["admin"], note=VERIFY_NOTE)
        numpy = Project.objects.get(slug="numpy")
        if not numpy.memberships.filter(user=users["bob"]).exists():
            services.project_invite(
                project=numpy, actor=users["alice"], target="bob", role="maintainer"
            )

            services.invitation_accept(
                invitation=Invitation.objects.get(
                    project=numpy, user=users["bob"], status="pending"
                ),
                user=users["bob"],
            )
        self._money(users)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready. Sign in at http://127.0.0.1:8000/accounts/login/ as "
                f"alice / {DEMO_PASSWORD} (steward), bob, carol, or admin (staff) "
                "with the same password. NumPy, SciPy and Requests are verified; left-pad "
                "is not, so its money waits in escrow."
            )
        )

    def _money(self, users: dict) -> None:  # type: ignore[type-arg]
        """Share tables, a company, a wire and one distribution run, so the demo has money."""

        if not ShareTable.objects.filter(owner_key="project:numpy").exists():
            alice, bob, carol = users["alice"], users["bob"], users["carol"]
            table_propose(
                owner_key="project:numpy",
                actor=alice,
                entries=[E("project:scipy", 20), E("user:bob", 20), E("github:octocat", 10)],
                note="demo",
            )
            table_propose(
                owner_key="project:scipy",
                actor=alice,
                entries=[E("project:numpy", 10), E("user:alice", 30)],
                note="demo",
            )
            table_propose(
                owner_key="project:requests",
                actor=bob,
                entries=[E("purl:pkg:pypi/urllib3", 20), E("user:bob", 40)],
                note="demo",
            )
            company, _ = Company.objects.get_or_create(
                slug="acme", defaults={"name": "Acme Analytics Inc.", "country": "US"}
            )
            CompanyMember.objects.get_or_create(
                company=company, user=carol, defaults={"role": "owner"}
            )
            table_propose(
                owner_key="company:acme",
                actor=carol,
                entries=[
                    E("project:numpy", 50),
                    E("project:requests", 30),
                    E("project:left-pad", 10),
                ],
                note="demo",
            )
        if not DistributionRun.objects.exists():
            company = Company.objects.get(slug="acme")
            inflow_record(
                company=company, amount=1_000_000, currency="usd", reference="DEMO-WIRE-1"
            )
            self._pledge(company, users)
            run = runs.distribution_run_create()
            runs.distribution_run_execute(run_id=run.pk)

    def _pledge(self, company: Company, users: dict) -> None:  # type: ignore[type-arg]
        """An Open Source Pledge: $2,000 per developer per year for 3 developers, signed by
        carol, countersigned by staff, its first invoice paid by wire."""
        import datetime as dt

        agreement = company_services.agreement_create(
            company=company,
            actor=users["carol"],
            kind="pledge",
            terms_data={
                "currency": "usd",
                "start_date": dt.date.today().replace(day=1).isoformat(),
                "amount": 200_000,
                "developers": 3,
                "period": "yearly",
            },
        )
        company_services.agreement_sign(
            agreement=agreement, actor=users["carol"], ip_address="127.0.0.1", user_agent="demo"
        )
        company_services.agreement_countersign(agreement=agreement, staff=users["admin"])
        company_services.pledge_invoices_issue(agreement_ids=[agreement.pk])
        invoice = agreement.invoices.order_by("pk").first()
        if invoice is not None:
            company_services.invoice_wire_received(
                invoice=invoice, staff=users["admin"], reference="DEMO-PLEDGE-1"
            )
