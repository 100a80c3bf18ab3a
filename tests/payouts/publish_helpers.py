"""A real distribution run with people in it, for the verifiable-runs tests."""

from __future__ import annotations

from payouts.distribution import runs
from payouts.models import DistributionRun
from tests.factories import (
    CompanyFactory,
    InflowFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
)

ALICE = "merkle-alice-marker"
OCTO = "github:octo-marker"
EMAIL = "email:hidden-marker@example.org"
MARKERS = ("alice-marker", "octo-marker", "hidden-marker")
"""Parts of every person's key: none may appear in public open data."""


def published_run(*, usd: int = 100_001, eur: int = 5_000) -> DistributionRun:
    """acme → numpy 60%, scipy 30%; numpy → scipy 50%, user:<ALICE> 20%; scipy → numpy 25%
    (a cycle), github:octo-marker 25%, email:hidden-marker@example.org 10%. One run of
    ``usd`` and ``eur``, done (so published) by the real run service."""
    alice = UserFactory(username=ALICE)
    for slug in ("numpy", "scipy"):
        ProjectFactory(slug=slug, steward=alice)
    TableVersionFactory(
        owner_key="project:numpy",
        actor=alice,
        entries=[("project:scipy", 5_000_000), (f"user:{ALICE}", 2_000_000)],
    )
    TableVersionFactory(
        owner_key="project:scipy",
        actor=alice,
        entries=[("project:numpy", 2_500_000), (OCTO, 2_500_000), (EMAIL, 1_000_000)],
    )
    company = CompanyFactory(
        slug="acme",
        owner=UserFactory(),
        table=[("project:numpy", 6_000_000), ("project:scipy", 3_000_000)],
    )
    InflowFactory(company=company, amount=usd, currency="usd")
    if eur:
        InflowFactory(company=company, amount=eur, currency="eur")
    run = runs.distribution_run_create()
    return runs.distribution_run_execute(run_id=run.pk)
