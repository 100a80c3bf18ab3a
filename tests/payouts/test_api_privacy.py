"""A person's balances are private (money rule 9): ``GET /api/v1/balances/<person>/`` answers
only that person and staff; everyone else gets the 404 an unknown recipient gets."""

import pytest

from tests.factories import ClaimedIdentityFactory, UserFactory, credit

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_paid(user):
    credit("user:alice", 12_345)
    return user


def test_a_persons_balances_are_404_to_others(api_client, alice_paid, other_user):
    assert api_client.get("/api/v1/balances/user:alice/").status_code == 404
    api_client.force_authenticate(other_user)
    r = api_client.get("/api/v1/balances/user:alice/")
    assert r.status_code == 404
    assert "12345" not in r.content.decode()


def test_the_person_and_staff_see_them(api_client, alice_paid, staff):
    api_client.force_authenticate(alice_paid)
    assert (
        api_client.get("/api/v1/balances/user:alice/").json()["balances"]["usd"]["available"]
        == 12_345
    )
    api_client.force_authenticate(staff)
    assert api_client.get("/api/v1/balances/user:alice/").status_code == 200


def test_an_identity_is_its_claimers_only(api_client, other_user):
    owner = UserFactory(username="zoe", email="zoe@example.org")
    credit("email:zoe@example.org", 500, purpose="escrow")
    api_client.force_authenticate(other_user)
    assert api_client.get("/api/v1/balances/email:zoe@example.org/").status_code == 404
    api_client.force_authenticate(owner)  # her verified address
    assert api_client.get("/api/v1/balances/email:zoe@example.org/").status_code == 200
    claimer = UserFactory(username="octo-owner")
    ClaimedIdentityFactory(user=claimer, identity="github:octo-login")
    api_client.force_authenticate(claimer)
    assert api_client.get("/api/v1/balances/github:Octo-Login/").status_code == 200
    api_client.force_authenticate(other_user)
    assert api_client.get("/api/v1/balances/github:octo-login/").status_code == 404


def test_projects_and_companies_stay_public(api_client, project):
    credit("project:numpy", 700, purpose="reserve")
    r = api_client.get("/api/v1/balances/project:numpy/")
    assert r.status_code == 200
    assert r.json()["balances"]["usd"]["available"] == 700
