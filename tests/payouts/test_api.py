import pytest

from payouts.models import Inflow
from tests.factories import DistributionRunFactory, UserFactory

pytest_plugins = ["tests.payouts.payout_fixtures"]
pytestmark = pytest.mark.django_db


def test_inflow_is_idempotent_by_reference(api_client, staff, payer):
    api_client.force_authenticate(staff)
    body = {"company": "acme", "amount": 250000, "currency": "usd", "reference": "WIRE-7"}
    first = api_client.post("/api/v1/inflows/", body, format="json")
    again = api_client.post("/api/v1/inflows/", body, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Inflow.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"company": "nope", "amount": 1, "currency": "usd", "reference": "R"}, "company"),
        ({"company": "acme", "amount": -1, "currency": "usd", "reference": "R"}, "amount"),
        ({"company": "acme", "amount": "ten", "currency": "usd", "reference": "R"}, "amount"),
        ({"company": "acme", "amount": 5, "currency": "doge", "reference": "R"}, "currency"),
        ({"company": "acme", "amount": 5, "currency": "xyz", "reference": "R"}, "currency"),
        ({"company": "acme", "amount": 5, "currency": "usd"}, "reference"),
    ],
)
def test_bad_inflows_are_400_per_field(api_client, staff, payer, body, field):
    api_client.force_authenticate(staff)
    r = api_client.post("/api/v1/inflows/", body, format="json")
    assert r.status_code == 400 and field in r.json()
    assert not Inflow.objects.exists()


def test_only_staff_record_inflows_and_run_distributions(api_client, payer):
    body = {"company": "acme", "amount": 5, "currency": "usd", "reference": "R"}
    assert api_client.post("/api/v1/inflows/", body, format="json").status_code == 401
    api_client.force_authenticate(UserFactory(username="someone"))
    assert api_client.post("/api/v1/inflows/", body, format="json").status_code == 403
    assert api_client.post("/api/v1/distributions/").status_code == 403


def test_distribution_run_over_the_api(
    api_client, staff, payer, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(staff)
    api_client.post(
        "/api/v1/inflows/",
        {"company": "acme", "amount": 1000, "currency": "usd", "reference": "R"},
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        started = api_client.post("/api/v1/distributions/")
    assert started.status_code == 201
    run_id = started.json()["id"]
    detail = api_client.get(f"/api/v1/distributions/{run_id}/").json()
    assert detail["status"] == "done"
    assert (detail["currency"], detail["total"], detail["inflows"], detail["recipients"]) == (
        "usd",
        1000,
        1,
        1,
    )
    # Acme has no table yet: its money is kept in its own reserve until it declares one.
    balances = api_client.get("/api/v1/balances/company:acme/").json()
    assert balances["balances"]["usd"]["received"] == 1000


def test_overlapping_run_is_a_409(api_client, staff):
    api_client.force_authenticate(staff)
    DistributionRunFactory(status="pending")
    assert api_client.post("/api/v1/distributions/").status_code == 409


def test_balances_shape_and_bad_recipient(api_client, staff):
    api_client.force_authenticate(staff)
    r = api_client.get("/api/v1/balances/github:octocat/")
    assert r.json() == {"recipient": "github:octocat", "balances": {}}
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/balances/robot:x/").status_code == 400
    assert api_client.get("/api/v1/distributions/999/").status_code in (401, 403)
