"""Reads for a project page's "Dependencies and dependents" box.

Dependencies: the projects its table passes money to, and those FairOSS knows from its
imported manifests. Dependents: the tables (of projects and companies) whose active version
names it, and the projects whose manifests list it. Each list is cut to :data:`SHOWN` rows and
counted (always, so the number of queries is the same for 5 dependents or 100,000).
"""

from __future__ import annotations

from dataclasses import dataclass

from faiross.kernel.recipients import recipient_split

from .models import KnownDependency, Project, TableEntry, TableVersion
from .selectors import TableView

SHOWN = 20


@dataclass(frozen=True)
class DependencyRow:
    """A project on either side; ``millibips`` is the share when a table names it."""

    key: str
    project: Project | None
    millibips: int | None = None
    known: bool = False

    @property
    def slug(self) -> str:
        return recipient_split(self.key)[1]

    @property
    def is_company(self) -> bool:
        return self.key.startswith("company:")


@dataclass(frozen=True)
class DependencyLinks:
    dependencies: list[DependencyRow]
    dependencies_count: int
    dependents: list[DependencyRow]
    dependents_count: int
    known_dependents: list[DependencyRow]
    known_dependents_count: int


def project_dependency_links(*, project: Project, table: TableView) -> DependencyLinks:
    """The project's dependencies (its table's project rows, then known dependencies not in
    the table) and dependents (tables naming it, largest share first; manifests listing it).
    Precondition: ``table`` is the project's :func:`~projects.selectors.table_view`."""
    in_table = [r for r in table.rows if r.recipient.startswith("project:")]
    named = {r.recipient for r in in_table}
    known_qs = KnownDependency.objects.filter(project=project).select_related("dependency")
    known = list(known_qs[: SHOWN + len(named)])
    known_keys = {f"project:{k.dependency.slug}" for k in known}
    dependencies = [
        DependencyRow(r.recipient, r.project, r.millibips, r.recipient in known_keys)
        for r in sorted(in_table, key=lambda r: (-r.millibips, r.recipient))
    ]
    dependencies += [
        DependencyRow(f"project:{k.dependency.slug}", k.dependency, None, True)
        for k in known
        if f"project:{k.dependency.slug}" not in named
    ]
    known_count = known_qs.count()
    dependencies_count = len(named) + known_count - len(named & known_keys)

    naming = TableEntry.objects.filter(
        project=project, version__status=TableVersion.Status.ACTIVE
    ).exclude(version__table__owner_key=project.owner_key)
    entries = list(
        naming.order_by("-millibips", "version__table__owner_key").values_list(
            "version__table__owner_key", "millibips"
        )[:SHOWN]
    )
    dependents_count = naming.count()
    by_slug = Project.objects.in_bulk(
        [recipient_split(k)[1] for k, _ in entries if k.startswith("project:")],
        field_name="slug",
    )
    dependents = [
        DependencyRow(
            k, by_slug.get(recipient_split(k)[1]) if k.startswith("project:") else None, m
        )
        for k, m in entries
    ]

    listing = KnownDependency.objects.filter(dependency=project).select_related("project")
    known_dependents = [
        DependencyRow(f"project:{k.project.slug}", k.project, None, True)
        for k in listing.order_by("project__slug")[:SHOWN]
    ]
    known_dependents_count = listing.count()
    return DependencyLinks(
        dependencies[: SHOWN + len(named)],
        dependencies_count,
        dependents,
        dependents_count,
        known_dependents,
        known_dependents_count,
    )
