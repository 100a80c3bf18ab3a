"""Open data of runs: public answer, flows as JSON and CSV for anyone; proofs only to the
person (or staff); nothing names a person."""

from __future__ import annotations

import csv
import io
import json

import pytest
from allauth.account.models import EmailAddress

from payouts.distribution import publish, runs
from payouts.models import RunPublication
from tests.factories import ClaimedIdentityFactory, StaffFactory, UserFactory
from tests.payouts.publish_helpers import ALICE, EMAIL, MARKERS, OCTO, published_run

pytestmark = pytest.mark.django_db


def url(run, what):
    return f"/api/v1/distributions/{run.pk}/{what}"


def body(response):
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_anyone_reads_the_public_answer_and_the_flows(client):
    run = published_run()
    public = client.get(url(run, "public/"))
    assert public.status_code == 200
    data = public.json()
    assert data["id"] == run.pk and data["totals"] == {"usd": 100_001, "eur": 5_000}
    assert data["merkle_roots"] == run.publication.merkle_roots
    assert len(data["snapshot_sha256"]) == 64 and data["cutoff"]
    flows = client.get(url(run, "flows.json"))
    assert flows.status_code == 200 and flows["Content-Type"] == "application/json"
    rows = json.loads(body(flows))
    assert {tuple(sorted(r)) for r in rows} == {("amount", "currency", "source", "target")}
    assert all(isinstance(r["amount"], int) for r in rows)
    assert publish.flows_check(flows=rows, totals=data["totals"]) == []
    assert {
        "source": "inflows",
        "target": "company:acme",
        "currency": "usd",
        "amount": 100_001,
    } in rows
    as_csv = client.get(url(run, "flows.csv"))
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(body(as_csv))))
    assert len(table) == len(rows)
    assert {
        "source": "inflows",
        "target": "company:acme",
        "currency": "usd",
        "amount": "1000.01",
    } in table


def test_no_marker_of_a_person_appears_in_open_data(client):
    run = published_run()
    for response in (
        client.get(url(run, "public/")),
        client.get(url(run, "flows.json")),
        client.get(url(run, "flows.csv")),
    ):
        text = body(response).lower()
        assert response.status_code == 200
        for marker in (*MARKERS, "user:", "github:", "email:"):
            assert marker not in text
    flows = json.loads(body(client.get(url(run, "flows.json"))))
    assert {f["target"] for f in flows if f["source"] == "project:scipy"} >= {"people"}


def test_a_proof_is_404_to_everyone_but_the_person_and_staff(client):
    run = published_run()
    mallory = UserFactory(username="mallory-m")
    for recipient in (f"user:{ALICE}", OCTO, EMAIL):
        for viewer in (None, mallory):
            client.logout()
            if viewer:
                client.force_login(viewer)
            answer = client.get(url(run, "proof/"), {"recipient": recipient, "currency": "usd"})
            assert answer.status_code == 404, (recipient, viewer)
            assert "marker" not in answer.content.decode()
    client.force_login(StaffFactory())
    staff = client.get(url(run, "proof/"), {"recipient": EMAIL, "currency": "usd"})
    assert staff.status_code == 200 and staff.json()["recipient"] == EMAIL


def test_the_person_gets_their_own_proof_and_it_verifies(client):
    run = published_run()
    alice = UserFactory._meta.model.objects.get(username=ALICE)
    client.force_login(alice)
    # Two currencies: the answer asks which one.
    both = client.get(url(run, "proof/"), {"recipient": f"user:{ALICE}"})
    assert both.status_code == 400 and "eur, usd" in both.json()["currency"][0]
    proof = client.get(url(run, "proof/"), {"recipient": f"user:{ALICE}", "currency": "usd"})
    assert proof.status_code == 200
    data = proof.json()
    assert set(data) >= {"leaf", "path", "root", "salt", "currency", "amount"}
    assert data["amount"] == run.allocations.get(recipient=f"user:{ALICE}", currency="usd").amount
    assert publish.proof_check(proof=data, root=run.publication.merkle_roots["usd"]) == []
    # Nobody else's line through alice's account.
    assert client.get(url(run, "proof/"), {"recipient": OCTO, "currency": "usd"}).status_code == 404


def test_claimed_and_verified_identities_get_their_escrow_lines_proved(client):
    run = published_run()
    bob = UserFactory(username="bob-octo")
    ClaimedIdentityFactory(user=bob, identity=OCTO)
    client.force_login(bob)
    octo = client.get(url(run, "proof/"), {"recipient": OCTO, "currency": "eur"})
    assert octo.status_code == 200 and octo.json()["purpose"] == "escrow"
    carol = UserFactory(username="carol-mail")
    EmailAddress.objects.create(
        user=carol, email=EMAIL.removeprefix("email:"), verified=True, primary=False
    )
    client.force_login(carol)
    mail = client.get(url(run, "proof/"), {"recipient": EMAIL, "currency": "usd"})
    assert mail.status_code == 200


def test_project_lines_are_public_and_bad_input_is_a_400(client):
    run = published_run()
    numpy = client.get(url(run, "proof/"), {"recipient": "project:numpy", "currency": "usd"})
    assert numpy.status_code == 200 and numpy.json()["purpose"] == "reserve"
    missing = client.get(url(run, "proof/"))
    assert missing.status_code == 400 and "recipient" in missing.json()
    assert client.get(url(run, "proof/"), {"recipient": "nobody"}).status_code == 400


def test_unfinished_unknown_and_unpublished_runs_are_404(client):
    run = published_run()
    assert client.get(f"/api/v1/distributions/{run.pk + 50}/public/").status_code == 404
    pending = runs.distribution_run_create()
    assert client.get(url(pending, "public/")).status_code == 404
    assert client.get(url(pending, "flows.json")).status_code == 404
    RunPublication.objects.filter(run=run).delete()
    answer = client.get(url(run, "public/"))
    assert answer.status_code == 404 and "not been published" in answer.json()["detail"]


def test_the_calls_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in ("public/", "flows.json", "flows.csv", "proof/"):
        assert f"/api/v1/distributions/{{id}}/{path}" in schema["paths"]
    proof = schema["paths"]["/api/v1/distributions/{id}/proof/"]["get"]
    assert {p["name"] for p in proof["parameters"]} >= {"recipient", "currency"}
