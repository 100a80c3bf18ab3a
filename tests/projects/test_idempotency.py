"""``Idempotency-Key`` on the API's creates: a retry gets the first answer and creates
nothing more; the key is never reused for another request (projects.idempotency)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from companies.models import Company
from payouts.models import Inflow
from projects.idempotency import STALE_AFTER
from projects.models import IdempotencyRecord, Project, TableVersion
from tests.api_helpers import as_user
from tests.factories import CompanyFactory, IdempotencyRecordFactory, StaffFactory, UserFactory
from tests.thread_helpers import run_at_once

pytestmark = pytest.mark.django_db

COMPANIES = "/api/v1/companies/"


def create_company(client: APIClient, key: str | None, **body):
    headers = {"Idempotency-Key": key} if key is not None else {}
    data = {"name": "ACME Corp", "slug": "acme"} | body
    return client.post(COMPANIES, data, format="json", headers=headers)


def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(user):
    client = as_user(user)
    first = create_company(client, "k-1")
    again = create_company(client, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Company.objects.filter(slug="acme").count() == 1


def test_without_a_key_a_second_create_is_a_new_request(user):
    client = as_user(user)
    assert create_company(client, None).status_code == 201
    second = create_company(client, None)
    assert second.status_code == 400  # the slug is taken: it was carried out again
    assert IdempotencyRecord.objects.count() == 0


def test_the_same_key_with_another_body_is_refused_with_422(user):
    client = as_user(user)
    assert create_company(client, "k-1").status_code == 201
    other = create_company(client, "k-1", slug="globex", name="Globex")
    assert other.status_code == 422
    assert "different request" in other.json()["Idempotency-Key"][0]
    assert not Company.objects.filter(slug="globex").exists()


def test_a_key_still_in_progress_answers_409(user):
    client = as_user(user)
    probe = create_company(client, "probe", slug="probe", name="Probe")
    assert probe.status_code == 201
    record = IdempotencyRecord.objects.get(key="probe")
    IdempotencyRecordFactory(
        user=user, key="busy", path=COMPANIES, request_hash=record.request_hash, status_code=None
    )
    busy = create_company(client, "busy", slug="probe", name="Probe")
    assert busy.status_code == 409
    assert busy["Retry-After"] == "1"
    assert "still being carried out" in busy.json()["Idempotency-Key"][0]


def test_a_key_whose_first_request_died_is_taken_over_after_a_while(user):
    client = as_user(user)
    create_company(client, "probe", slug="probe", name="Probe")
    request_hash = IdempotencyRecord.objects.get(key="probe").request_hash
    stale = IdempotencyRecordFactory(
        user=user, key="died", path=COMPANIES, request_hash=request_hash, status_code=None
    )
    IdempotencyRecord.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - STALE_AFTER - dt.timedelta(seconds=1)
    )
    Company.objects.filter(slug="probe").delete()
    again = create_company(client, "died", slug="probe", name="Probe")
    assert again.status_code == 201
    assert IdempotencyRecord.objects.get(pk=stale.pk).status_code == 201


def test_a_failed_request_keeps_nothing_so_the_corrected_one_can_use_the_key(user):
    client = as_user(user)
    bad = create_company(client, "k-1", slug="Not A Slug")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    good = create_company(client, "k-1")
    assert good.status_code == 201


def test_keys_belong_to_one_person(user, other_user):
    assert create_company(as_user(user), "shared").status_code == 201
    theirs = create_company(as_user(other_user), "shared", slug="globex", name="Globex")
    assert theirs.status_code == 201
    assert theirs.json()["slug"] == "globex"


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "bad\nkey"])
def test_a_malformed_key_is_a_400(user, key):
    response = create_company(as_user(user), key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Company.objects.exists()


def test_inflows_agreement_events_and_table_proposals_honour_the_key(user, project):
    staff = StaffFactory(username="sam")
    company = CompanyFactory(slug="acme")
    client = as_user(staff)
    body = {"company": company.slug, "amount": 250_000, "currency": "usd", "reference": "W-1"}
    first = client.post("/api/v1/inflows/", body, format="json", HTTP_IDEMPOTENCY_KEY="i-1")
    again = client.post("/api/v1/inflows/", body, format="json", HTTP_IDEMPOTENCY_KEY="i-1")
    assert first.status_code == 201 and again.status_code == 201  # not 200 "already there"
    assert again.json() == first.json()
    assert Inflow.objects.count() == 1

    steward = as_user(user)
    url = f"/api/v1/projects/{project.slug}/table/versions/"
    proposal = {"entries": [{"recipient": "user:alice", "millibips": 5_000_000}]}
    one = steward.post(url, proposal, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    two = steward.post(url, proposal, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert one.status_code == 201 and two.json() == one.json()
    assert TableVersion.objects.filter(table__owner_key="project:numpy").count() == 1

    created = steward.post(
        "/api/v1/projects/",
        {"slug": "scipy", "name": "SciPy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="p-1",
    )
    replay = steward.post(
        "/api/v1/projects/",
        {"slug": "scipy", "name": "SciPy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="p-1",
    )
    assert created.status_code == replay.status_code == 201
    assert Project.objects.filter(slug="scipy").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_key_sent_at_once_is_carried_out_once():
    user = UserFactory(username="alice")

    def send():
        return create_company(as_user(user), "race").status_code

    outcomes = run_at_once([send] * 4)
    assert outcomes.count(201) >= 1
    assert set(outcomes) <= {201, 409}
    assert Company.objects.filter(slug="acme").count() == 1
