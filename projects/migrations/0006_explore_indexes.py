"""Indexes for the explore page at 100,000+ projects (issue 12).

* name order: ``(LOWER(name), slug)``, the page's sort (case-insensitive), read in order
  and stopped at a page;
* search: ``icontains`` is ``UPPER(col) LIKE UPPER('%q%')`` on PostgreSQL, answered by trigram
  GIN indexes on those expressions (``pg_trgm``, a contrib extension shipped with PostgreSQL).
  SQLite (the embedded default) gets only the name index: its searches scan, which is fine at
  its size.
"""

from django.db import migrations

from faiross.kernel.migration_ops import sql_by_vendor

TRIGRAM = [
    ("projects_project_name_trgm", "projects_project", "name"),
    ("projects_project_slug_trgm", "projects_project", "slug"),
    ("projects_projectpurl_purl_trgm", "projects_projectpurl", "purl"),
]


class Migration(migrations.Migration):
    dependencies = [("projects", "0005_notification_preferences")]

    operations = [
        sql_by_vendor(
            forward={
                "postgresql": [
                    "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
                    "CREATE INDEX IF NOT EXISTS projects_project_name_slug "
                    "ON projects_project (LOWER(name), slug);",
                    *[
                        f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
                        f"USING gin ((UPPER({column}::text)) gin_trgm_ops);"
                        for name, table, column in TRIGRAM
                    ],
                ],
                "sqlite": [
                    "CREATE INDEX IF NOT EXISTS projects_project_name_slug "
                    "ON projects_project (LOWER(name), slug);"
                ],
            },
            backward={
                "postgresql": [
                    f"DROP INDEX IF EXISTS {name};"
                    for name in ["projects_project_name_slug", *[t[0] for t in TRIGRAM]]
                ],
                "sqlite": ["DROP INDEX IF EXISTS projects_project_name_slug;"],
            },
        )
    ]
