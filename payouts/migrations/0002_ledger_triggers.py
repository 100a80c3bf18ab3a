"""The database itself keeps the ledger append-only and balanced.

PostgreSQL: postings and transactions refuse UPDATE and DELETE; after every INSERT statement
into postings, every transaction it touched must sum to zero per currency and each posting's
currency must be its account's. SQLite (the embedded default) gets the append-only triggers;
the balance check there is the application's (see README "Limits").
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION payouts_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused; post a reversing transaction',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payouts_posting_append_only BEFORE UPDATE OR DELETE ON payouts_posting
    FOR EACH ROW EXECUTE FUNCTION payouts_ledger_append_only();
CREATE TRIGGER payouts_ledgertransaction_append_only
    BEFORE UPDATE OR DELETE ON payouts_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION payouts_ledger_append_only();

CREATE OR REPLACE FUNCTION payouts_ledger_balanced() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.account_id, n.currency, a.currency AS account_currency INTO bad
      FROM new_rows n JOIN payouts_account a ON a.id = n.account_id
     WHERE a.currency <> n.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting currency % differs from account % currency %',
            bad.currency, bad.account_id, bad.account_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT p.transaction_id, p.currency, SUM(p.amount) AS total INTO bad
      FROM payouts_posting p
     WHERE p.transaction_id IN (SELECT DISTINCT transaction_id FROM new_rows)
     GROUP BY p.transaction_id, p.currency
    HAVING SUM(p.amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced in %: postings sum to %',
            bad.transaction_id, bad.currency, bad.total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payouts_posting_balanced AFTER INSERT ON payouts_posting
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_ledger_balanced();
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS payouts_posting_balanced ON payouts_posting;
DROP TRIGGER IF EXISTS payouts_posting_append_only ON payouts_posting;
DROP TRIGGER IF EXISTS payouts_ledgertransaction_append_only ON payouts_ledgertransaction;
DROP FUNCTION IF EXISTS payouts_ledger_balanced();
DROP FUNCTION IF EXISTS payouts_ledger_append_only();
"""

SQLITE_FORWARD = [
    f"""CREATE TRIGGER IF NOT EXISTS payouts_{table}_no_{op.lower()} BEFORE {op} ON payouts_{table}
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: post a reversing transaction'); END;"""
    for table in ("posting", "ledgertransaction")
    for op in ("UPDATE", "DELETE")
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS payouts_{table}_no_{op.lower()};"
    for table in ("posting", "ledgertransaction")
    for op in ("update", "delete")
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
    dependencies = [("payouts", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
