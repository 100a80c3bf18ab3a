import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from payouts.inflows import inflow_record
from payouts.ledger import LedgerError, Leg, ledger_post, ledger_reverse
from payouts.models import Inflow, LedgerTransaction, Posting
from payouts.selectors import account_balance

pytest_plugins = ["tests.payouts.payout_fixtures"]
pytestmark = pytest.mark.django_db


def legs(amount=100):
    return [Leg("platform", "pool", "usd", -amount), Leg("user:alice", "available", "usd", amount)]


def test_post_is_idempotent_by_key():
    t1, created1 = ledger_post(idempotency_key="k1", kind="inflow", reference="x", legs=legs())
    t2, created2 = ledger_post(idempotency_key="k1", kind="inflow", reference="x", legs=legs())
    assert (created1, created2) == (True, False) and t1.pk == t2.pk
    assert account_balance(owner="user:alice", purpose="available", currency="usd") == 100
    assert Posting.objects.count() == 2


@pytest.mark.parametrize(
    "bad",
    [
        [Leg("a", "pool", "usd", 5), Leg("b", "pool", "usd", -4)],
        [Leg("a", "pool", "usd", 5), Leg("b", "pool", "eur", -5)],
        [Leg("a", "pool", "USD", 5), Leg("b", "pool", "USD", -5)],
        # Deliberately not whole cents: Leg must refuse floats at runtime.
        [Leg("a", "pool", "usd", 1.5), Leg("b", "pool", "usd", -1.5)],  # type: ignore[arg-type]
        [],
    ],
)
def test_unbalanced_or_malformed_transactions_are_refused(bad):
    with pytest.raises(LedgerError):
        ledger_post(idempotency_key="bad", kind="inflow", reference="x", legs=bad)
    assert not LedgerTransaction.objects.exists()


def test_database_refuses_update_and_delete_of_postings():
    ledger_post(idempotency_key="k", kind="inflow", reference="x", legs=legs())
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.update(amount=5)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.all().delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerTransaction.objects.update(memo="changed")
    assert sorted(Posting.objects.values_list("amount", flat=True)) == [-100, 100]


def test_database_refuses_an_unbalanced_insert():
    txn, _ = ledger_post(idempotency_key="k", kind="inflow", reference="x", legs=legs())
    account = Posting.objects.first().account
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        Posting.objects.create(transaction=txn, account=account, amount=1, currency="usd")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO payouts_posting (transaction_id, account_id, amount, currency) "
            "VALUES (%s, %s, 7, 'eur'), (%s, %s, -7, 'eur')",
            [txn.pk, account.pk, txn.pk, account.pk],
        )


def test_reversal_is_a_new_transaction():
    txn, _ = ledger_post(idempotency_key="k", kind="inflow", reference="x", legs=legs(250))
    reversal = ledger_reverse(original=txn, reason="wrong account")
    assert reversal.reverses == txn
    assert account_balance(owner="user:alice", purpose="available", currency="usd") == 0
    assert ledger_reverse(original=txn, reason="again").pk == reversal.pk


def test_inflow_is_idempotent_by_reference(payer):
    inflow, created = inflow_record(
        company=payer, amount=250_000, currency="USD", reference="WIRE-1"
    )
    again, created_again = inflow_record(
        company=payer, amount=250_000, currency="usd", reference="WIRE-1"
    )
    assert created and not created_again and inflow.pk == again.pk
    assert account_balance(owner="platform", purpose="pool", currency="usd") == 250_000
    assert account_balance(owner="company:acme", purpose="contributed", currency="usd") == -250_000
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already used"):
        inflow_record(company=payer, amount=1, currency="usd", reference="WIRE-1")
    for bad in (
        {"amount": 0},
        {"amount": -5},
        {"amount": 1.5},
        {"currency": "xxx"},
        {"reference": ""},
    ):
        kwargs = {"company": payer, "amount": 10, "currency": "usd", "reference": "R"} | bad
        with pytest.raises(ValidationError):
            inflow_record(**kwargs)
    assert Inflow.objects.count() == 1
