"""Importing a manifest as a proposal (API and company import page): nothing changes the
default table before the table takes effect, and a long manifest fits the row limit."""

from __future__ import annotations

from projects import services
from projects.models import KnownDependency, Membership, TableVersion
from projects.services.tables import MAX_ENTRIES
from tests.factories import MembershipFactory


def _import_requirements(user, *, count: int, share_millibips: int):
    """numpy imports a requirements.txt of ``count`` packages at ``share_millibips``."""
    content = "".join(f"package-{i}==1.0\n" for i in range(count)).encode()
    return services.tables.table_import_file(
        owner_key="project:numpy",
        actor=user,
        filename="requirements.txt",
        content=content,
        share_millibips=share_millibips,
    )


def test_import_waiting_for_approval_records_no_known_dependencies(project, user):
    MembershipFactory(project=project, role=Membership.Role.STEWARD)
    services.table_set_quorum(owner_key="project:numpy", actor=user, quorum=2)

    version, _ = _import_requirements(user, count=3, share_millibips=3_000_000)

    assert version.status == TableVersion.Status.PROPOSED
    assert not KnownDependency.objects.filter(project=project).exists()


def test_import_that_takes_effect_records_known_dependencies(project, user):
    version, _ = _import_requirements(user, count=3, share_millibips=3_000_000)

    assert version.status == TableVersion.Status.ACTIVE
    assert KnownDependency.objects.filter(project=project).count() == 3


def test_import_of_2000_dependencies_keeps_the_share_within_500_rows(project, user):
    version, warnings = _import_requirements(user, count=2000, share_millibips=5_000_000)

    entries = list(version.entries.all())
    assert len(entries) == MAX_ENTRIES
    assert sum(e.millibips for e in entries) == 5_000_000
    assert any("at most 500 rows" in w for w in warnings)
