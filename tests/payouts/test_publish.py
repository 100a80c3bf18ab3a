"""Verifiable runs: snapshot hash, Merkle roots over the allocations, proofs, salts, flows."""

from __future__ import annotations

import hashlib
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from payouts.distribution import publish
from payouts.models import RunAllocation, RunFlow, RunPublication
from tests.factories import (
    ClaimedIdentityFactory,
    CompanyFactory,
    InflowFactory,
    UserFactory,
)
from tests.payouts.publish_helpers import ALICE, EMAIL, MARKERS, OCTO, published_run

pytestmark = pytest.mark.django_db


def lines_of(run, currency):
    return sorted(
        (r, p, a)
        for r, p, a in run.allocations.filter(currency=currency).values_list(
            "recipient", "purpose", "amount"
        )
    )


def test_a_done_run_is_published_with_stable_roots():
    run = published_run()
    publication = run.publication
    assert set(publication.merkle_roots) == {"usd", "eur"}
    assert publication.leaf_count == {"usd": 6, "eur": 6}
    assert (
        publication.snapshot_sha256
        == hashlib.sha256(
            json.dumps(run.snapshot, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    )
    for currency, root in publication.merkle_roots.items():
        again = publish.merkle_summary(
            run_id=run.pk, currency=currency, lines=lines_of(run, currency)
        )
        assert again["root"] == root
    # Publishing again (or executing the run again) changes nothing.
    assert publish.run_publish(run=run).pk == publication.pk
    call_command("run_publish", run=run.pk, stdout=StringIO())
    assert RunPublication.objects.get(run=run).merkle_roots == publication.merkle_roots
    assert publish.run_verify(run=run) == []


def test_a_changed_cent_changes_the_root_and_the_verifier_sees_it():
    run = published_run()
    lines = lines_of(run, "usd")
    bumped = [(r, p, a + 1 if r == f"user:{ALICE}" else a) for r, p, a in lines]
    root = run.publication.merkle_roots["usd"]
    assert publish.merkle_summary(run_id=run.pk, currency="usd", lines=bumped)["root"] != root
    # The same cent changed in the stored allocations is caught by run_verify.
    line = run.allocations.get(recipient=f"user:{ALICE}", currency="usd")
    RunAllocation.objects.filter(pk=line.pk).update(amount=line.amount + 1)
    problems = publish.run_verify(run=run)
    assert any("allocation lines differ" in p for p in problems)
    assert any(p.startswith("usd: the allocations' Merkle root") for p in problems)
    out = StringIO()
    with pytest.raises(CommandError, match="check"):
        call_command("run_verify", run=run.pk, stdout=out)
    assert "FAIL" in out.getvalue()


def test_every_recipient_gets_a_proof_that_leads_to_the_published_root():
    run = published_run()
    roots = run.publication.merkle_roots
    allocations = list(run.allocations.all())
    assert len(allocations) == 12
    for line in allocations:
        proof = publish.run_proof(run=run, recipient=line.recipient, currency=line.currency)
        assert proof is not None
        assert (proof["amount"], proof["purpose"]) == (line.amount, line.purpose)
        assert proof["root"] == roots[line.currency]
        assert publish.proof_check(proof=proof, root=roots[line.currency]) == []


def test_a_proof_does_not_prove_another_recipients_amount():
    run = published_run()
    root = run.publication.merkle_roots["usd"]
    alice = publish.run_proof(run=run, recipient=f"user:{ALICE}", currency="usd")
    octo = publish.run_proof(run=run, recipient=OCTO, currency="usd")
    assert alice and octo and alice["amount"] != octo["amount"]
    # Alice's path with octo's line, or alice's line with octo's amount: neither verifies.
    for forged in (
        {**alice, "recipient": OCTO, "amount": octo["amount"], "purpose": octo["purpose"]},
        {**alice, "amount": octo["amount"]},
        {**alice, "amount": alice["amount"] + 1},
        {**octo, "path": alice["path"]},
    ):
        forged["leaf"] = publish.leaf_hash(
            publish.leaf_data(
                run_id=forged["run"],
                recipient=forged["recipient"],
                purpose=forged["purpose"],
                currency=forged["currency"],
                amount=forged["amount"],
                salt=forged["salt"],
            )
        ).hex()
        assert publish.proof_check(proof=forged, root=root) != []
    # A proof of one run says nothing about another run's root.
    assert publish.proof_check(proof=alice, root=run.publication.merkle_roots["eur"]) != []


def test_the_salt_hides_amounts_from_someone_who_guesses_them():
    run = published_run()
    alice = publish.run_proof(run=run, recipient=f"user:{ALICE}", currency="usd")
    assert alice is not None
    siblings = {step["hash"] for step in alice["path"]}
    # Mallory has alice's proof and knows octo's and the email's lines exactly except the
    # salt: without the server secret no guess reproduces a hash in the path or the root.
    for recipient in (OCTO, EMAIL):
        line = run.allocations.get(recipient=recipient, currency="usd")
        for salt in ("", alice["salt"], publish.leaf_salt(run_id=run.pk + 1, recipient=recipient)):
            for amount in range(line.amount - 50, line.amount + 50):
                guess = publish.leaf_hash(
                    publish.leaf_data(
                        run_id=run.pk,
                        recipient=recipient,
                        purpose=line.purpose,
                        currency="usd",
                        amount=amount,
                        salt=salt,
                    )
                ).hex()
                assert guess not in siblings and guess != alice["root"]
    salts = {publish.leaf_salt(run_id=run.pk, recipient=r) for r in (OCTO, EMAIL, ALICE)}
    assert len(salts) == 3 and all(len(s) == 64 for s in salts)
    assert publish.leaf_salt(run_id=run.pk, recipient=OCTO) != publish.leaf_salt(
        run_id=run.pk + 1, recipient=OCTO
    )


def test_flows_add_up_and_name_no_person():
    run = published_run()
    rows = publish.flow_rows(run=run)
    assert publish.flows_check(flows=rows, totals=run.totals) == []
    assert run.publication.flows_match_allocations
    text = json.dumps(rows)
    assert not any(marker in text for marker in MARKERS)
    for currency in ("usd", "eur"):
        people = sum(
            f["amount"] for f in rows if f["currency"] == currency and f["target"] == "people"
        )
        persons = sum(
            a.amount
            for a in run.allocations.filter(currency=currency)
            if a.recipient.split(":")[0] in ("user", "github", "email")
        )
        assert people == persons
        kept = {
            f["target"]: f["amount"]
            for f in rows
            if f["currency"] == currency and f["target"].endswith(" (reserve)")
        }
        assert (
            kept["project:numpy (reserve)"]
            == run.allocations.get(recipient="project:numpy", currency=currency).amount
        )
    entering = [f for f in rows if f["source"] == "inflows" and f["currency"] == "usd"]
    assert entering == [
        {"source": "inflows", "target": "company:acme", "currency": "usd", "amount": 100_001}
    ]


def test_flows_still_add_up_when_rounding_cannot_follow_the_allocations():
    """Two companies pay one cent each to two people each: the run rounds its four half
    cents across the run, so one company's people may get both cents. The flows keep every
    node exact and say that they could not follow the allocations."""
    for slug, names in (("one", ("ann", "ben")), ("two", ("cat", "dan"))):
        for name in names:
            UserFactory(username=f"penny-{name}")
        company = CompanyFactory(
            slug=f"penny-{slug}",
            owner=UserFactory(),
            table=[(f"user:penny-{n}", 5_000_000) for n in names],
        )
        InflowFactory(company=company, amount=1, currency="usd")
    from payouts.distribution import runs

    run = runs.distribution_run_execute(run_id=runs.distribution_run_create().pk)
    assert run.totals == {"usd": 2}
    rows = publish.flow_rows(run=run)
    assert publish.flows_check(flows=rows, totals=run.totals) == []
    # The run's rounding gave both cents to the first company's people (ties go to the
    # lower terminal), yet each company paid one cent: the flows keep what was paid.
    given = {a.recipient: a.amount for a in run.allocations.all()}
    assert given == {"user:penny-ann": 1, "user:penny-ben": 1}
    by_company = {f["source"]: f["amount"] for f in rows if f["target"] == "people"}
    assert by_company == {"company:penny-one": 1, "company:penny-two": 1}
    assert run.publication.flows_match_allocations is False
    assert publish.run_verify(run=run) == []


def test_a_run_done_before_publishing_is_published_by_the_command():
    run = published_run()
    roots = run.publication.merkle_roots
    flows = publish.flow_rows(run=run)
    RunFlow.objects.filter(run=run).delete()
    RunPublication.objects.filter(run=run).delete()
    out = StringIO()
    call_command("run_publish", run=run.pk, stdout=out)
    assert RunPublication.objects.get(run=run).merkle_roots == roots
    assert publish.flow_rows(run=run) == flows
    assert f"usd: merkle root {roots['usd']}" in out.getvalue()
    with pytest.raises(CommandError, match="no run"):
        call_command("run_publish", run=run.pk + 99, stdout=StringIO())


def test_run_verify_checks_a_proof_file(tmp_path):
    run = published_run()
    proof = publish.run_proof(run=run, recipient=EMAIL, currency="eur")
    good = tmp_path / "proof.json"
    good.write_text(json.dumps(proof))
    out = StringIO()
    call_command("run_verify", run=run.pk, proof=good, stdout=out)
    assert "OK" in out.getvalue() and "the proof" in out.getvalue()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**proof, "amount": proof["amount"] * 10}))
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("run_verify", run=run.pk, proof=bad, stdout=out)
    assert "FAIL proof: the leaf is not the hash of the line" in out.getvalue()


def test_a_proof_of_an_escrow_line_stays_valid_after_the_identity_is_claimed():
    run = published_run()
    bob = UserFactory(username="bob-claims")
    ClaimedIdentityFactory(user=bob, identity=OCTO)
    proof = publish.run_proof(run=run, recipient=OCTO, currency="usd")
    assert proof is not None and proof["purpose"] == "escrow"
    assert publish.proof_check(proof=proof, root=run.publication.merkle_roots["usd"]) == []
