"""The audit trail cannot be edited: the database refuses UPDATE and DELETE of its rows.

PostgreSQL gets a row trigger that raises; SQLite (the embedded default) gets the same
refusal with RAISE(ABORT). Inserting stays the only way to write to disputes_auditevent.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION disputes_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % of disputes_auditevent is refused',
        TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER disputes_auditevent_append_only
    BEFORE UPDATE OR DELETE ON disputes_auditevent
    FOR EACH ROW EXECUTE FUNCTION disputes_audit_refuse_change();
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS disputes_auditevent_append_only ON disputes_auditevent;
DROP FUNCTION IF EXISTS disputes_audit_refuse_change();
"""

SQLITE_FORWARD = [
    f"CREATE TRIGGER IF NOT EXISTS disputes_auditevent_no_{op.lower()} BEFORE {op} "
    "ON disputes_auditevent BEGIN "
    "SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    for op in ("UPDATE", "DELETE")
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS disputes_auditevent_no_{op};" for op in ("update", "delete")
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("disputes", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
