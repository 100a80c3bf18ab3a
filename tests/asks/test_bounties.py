"""Bounties in the ledger: held from the company's reserve, paid into the project's flow on
confirmation (reaching its table's recipients in the next run), released on withdrawal."""

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from asks import selectors, services
from payouts.distribution import runs
from payouts.models import LedgerTransaction, RunAllocation
from payouts.selectors import account_balance

PR = "https://github.com/numpy/numpy/releases/tag/v2.1.0"


def balances(acme):
    return (
        account_balance(owner="company:acme", purpose="reserve", currency="usd"),
        account_balance(owner="company:acme", purpose="bounty", currency="usd"),
        account_balance(owner="project:numpy", purpose="escrow", currency="usd"),
    )


def file(acme, olivia, numpy, amount):
    (req,) = services.feature_request_file(
        company=acme,
        actor=olivia,
        projects=[numpy],
        title="Faster FFT",
        description="2x on large inputs.",
        bounty_amount=amount,
        bounty_currency="usd",
    )
    return req


def ledger_ok():
    out = StringIO()
    call_command("ledger_check", stdout=out)
    return "Ledger check passed" in out.getvalue()


def test_confirmed_bounty_reaches_the_project_table_recipients_in_the_next_run(
    acme, acme_reserve, olivia, numpy, stella
):
    req = file(acme, olivia, numpy, 5_000)
    assert balances(acme) == (5_000, 5_000, 0)
    services.feature_request_accept(request=req, actor=stella)
    services.feature_request_deliver(request=req, actor=stella, evidence=[PR])
    services.feature_request_confirm(request=req, actor=olivia)
    assert balances(acme) == (5_000, 0, 5_000)

    run = runs.distribution_run_execute(run_id=runs.distribution_run_create().pk)

    assert run.status == "done" and run.totals == {"usd": 5_000}
    # NumPy's table: alice 60%, the rest is NumPy's reserve.
    allocated = dict(RunAllocation.objects.filter(run=run).values_list("recipient", "amount"))
    assert allocated == {"user:alice": 3_000, "project:numpy": 2_000}
    assert account_balance(owner="user:alice", purpose="available", currency="usd") == 3_000
    assert account_balance(owner="project:numpy", purpose="escrow", currency="usd") == 0
    kinds = LedgerTransaction.objects.filter(reference=req.reference).values_list(
        "idempotency_key", flat=True
    )
    assert sorted(kinds) == [f"ask:{req.pk}:bounty:hold", f"ask:{req.pk}:bounty:pay"]
    assert ledger_ok()


def test_a_bounty_for_an_unverified_project_waits_in_its_escrow(
    acme, acme_reserve, olivia, numpy, stella
):
    type(numpy).objects.filter(pk=numpy.pk).update(verified_at=None)
    req = file(acme, olivia, numpy, 1_000)
    services.feature_request_accept(request=req, actor=stella)
    services.feature_request_deliver(request=req, actor=stella, evidence=[PR])
    services.feature_request_confirm(request=req, actor=olivia)
    runs.distribution_run_execute(run_id=runs.distribution_run_create().pk)
    assert account_balance(owner="project:numpy", purpose="escrow", currency="usd") == 1_000
    assert ledger_ok()


@pytest.mark.parametrize("how", ["withdraw", "decline"])
def test_withdrawn_or_declined_requests_release_the_bounty(
    acme, acme_reserve, olivia, numpy, stella, how
):
    req = file(acme, olivia, numpy, 4_000)
    if how == "withdraw":
        services.feature_request_withdraw(request=req, actor=olivia)
    else:
        services.feature_request_decline(request=req, actor=stella, note="Not for us.")
    assert balances(acme) == (10_000, 0, 0)
    assert selectors.company_bounties_held(company=acme) == {}
    assert ledger_ok()


def test_a_bounty_beyond_the_reserve_is_refused_and_nothing_is_held(
    acme, acme_reserve, olivia, numpy
):
    with pytest.raises(ValidationError) as exc:
        file(acme, olivia, numpy, 10_001)
    assert "$100.00" in exc.value.message_dict["bounty_amount"][0]
    assert balances(acme) == (10_000, 0, 0)
    assert not req_exists()


def req_exists():
    from asks.models import FeatureRequest

    return FeatureRequest.objects.exists()


def test_no_reserve_means_no_bounty(acme, olivia, numpy):
    with pytest.raises(ValidationError) as exc:
        file(acme, olivia, numpy, 100)
    assert "reserve holds $0.00" in exc.value.message_dict["bounty_amount"][0]
