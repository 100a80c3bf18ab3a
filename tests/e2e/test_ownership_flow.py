"""The ownership flow end to end over the API: a project created by anyone is unverified, the
money companies send it waits in its escrow, staff verify it, and the next run passes the same
cents on by its table."""

from __future__ import annotations

import pytest

from tests.factories import CompanyFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _run(client, on_commit) -> dict:
    with on_commit(execute=True):
        started = client.post("/api/v1/distributions/")
    assert started.status_code == 201, started.json()
    detail = client.get(f"/api/v1/distributions/{started.json()['id']}/").json()
    assert detail["status"] == "done", detail
    return detail


def test_unverified_money_waits_then_flows_after_verification(
    api_client, django_capture_on_commit_callbacks
):
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    staff = StaffFactory()

    # alice onboards "newlib" and gives bob 60% of it; nobody has proved anything yet
    api_client.force_authenticate(alice)
    created = api_client.post(
        "/api/v1/projects/",
        {"slug": "newlib", "name": "Newlib", "repo_url": "https://github.com/alice/newlib"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    proposed = api_client.post(
        "/api/v1/projects/newlib/table/versions/",
        {"entries": [{"recipient": "user:bob", "millibips": 6_000_000}]},
        format="json",
    )
    assert proposed.status_code == 201, proposed.json()
    shown = api_client.get("/api/v1/projects/newlib/").json()
    assert shown["verified"] is False

    # a company whose table sends everything to newlib pays 55.01
    CompanyFactory(slug="acme", table=[("project:newlib", 10_000_000)])
    api_client.force_authenticate(staff)
    paid = api_client.post(
        "/api/v1/inflows/",
        {"company": "acme", "amount": 5501, "currency": "usd", "reference": "WIRE-1"},
        format="json",
    )
    assert paid.status_code == 201, paid.json()
    _run(api_client, django_capture_on_commit_callbacks)

    waiting = api_client.get("/api/v1/balances/project:newlib/").json()["balances"]["usd"]
    assert waiting["escrow"] == 5501 and waiting["available"] == 0
    api_client.force_authenticate(bob)
    assert api_client.get("/api/v1/balances/user:bob/").json()["balances"] == {}

    # only staff verify by hand; then the next run moves the waiting money on by the table
    assert (
        api_client.post("/api/v1/projects/newlib/verify/", {"note": "x"}, format="json").status_code
        == 403
    )
    api_client.force_authenticate(staff)
    verified = api_client.post(
        "/api/v1/projects/newlib/verify/",
        {"note": "Checked the maintainer list on GitHub by hand."},
        format="json",
    )
    assert verified.status_code == 200, verified.json()
    shown = api_client.get("/api/v1/projects/newlib/").json()
    assert shown["verified"] is True and shown["verification"]["method"] == "staff"
    _run(api_client, django_capture_on_commit_callbacks)

    after = api_client.get("/api/v1/balances/project:newlib/").json()["balances"]["usd"]
    assert after["escrow"] == 0
    api_client.force_authenticate(bob)
    bobs = api_client.get("/api/v1/balances/user:bob/").json()["balances"]["usd"]
    # 60% of 55.01 to bob, the rest kept in newlib's reserve: every cent accounted for
    assert bobs["available"] == 3301
    assert bobs["available"] + after["available"] == 5501
