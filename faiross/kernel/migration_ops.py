"""Migration operations written once for every app: rules the database enforces itself
(append-only tables, triggers) and the default Celery beat schedules.

Hand-written migrations call these; they build plain ``RunPython`` operations, so the
migrations stay readable and the per-vendor branching lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import migrations


def sql_by_vendor(
    *, forward: Mapping[str, Sequence[str]], backward: Mapping[str, Sequence[str]]
) -> migrations.RunPython:
    """Run ``forward[vendor]`` statements (and ``backward[vendor]`` on reverse) for the
    connection's vendor (``postgresql``, ``sqlite``); other vendors get nothing."""

    def run(statements: Mapping[str, Sequence[str]], schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)

    return migrations.RunPython(
        lambda apps, schema_editor: run(forward, schema_editor),
        lambda apps, schema_editor: run(backward, schema_editor),
        elidable=False,
    )


def append_only(*, table: str, message: str) -> migrations.RunPython:
    """Refuse UPDATE and DELETE of ``table``'s rows in the database itself."""
    function = f"{table}_refuse_change"
    return sql_by_vendor(
        forward={
            "postgresql": [
                f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message}: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;""",
                f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();""",
            ],
            "sqlite": [
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END;"
                for op in ("UPDATE", "DELETE")
            ],
        },
        backward={
            "postgresql": [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
                f"DROP FUNCTION IF EXISTS {function}();",
            ],
            "sqlite": [f"DROP TRIGGER IF EXISTS {table}_no_{op};" for op in ("update", "delete")],
        },
    )


@dataclass(frozen=True)
class BeatTask:
    """A default Celery beat entry (staff edit it later in admin → Periodic tasks)."""

    name: str
    task: str
    cron: Mapping[str, str]
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def beat_schedules(*tasks: BeatTask) -> migrations.RunPython:
    """Create the periodic tasks (UTC crontabs) if they are missing; remove them on reverse."""

    def create(apps: Any, schema_editor: Any) -> None:
        crontab = apps.get_model("django_celery_beat", "CrontabSchedule")
        periodic = apps.get_model("django_celery_beat", "PeriodicTask")
        for spec in tasks:
            when = {"minute": "*", "hour": "*", "day_of_month": "*", "month_of_year": "*"}
            when |= {"day_of_week": "*", **spec.cron}
            schedule, _ = crontab.objects.get_or_create(timezone="UTC", **when)
            defaults = {"task": spec.task, "crontab": schedule, "description": spec.description}
            periodic.objects.get_or_create(name=spec.name, defaults=defaults | dict(spec.extra))

    def remove(apps: Any, schema_editor: Any) -> None:
        periodic = apps.get_model("django_celery_beat", "PeriodicTask")
        periodic.objects.filter(name__in=[t.name for t in tasks]).delete()

    return migrations.RunPython(create, remove)
