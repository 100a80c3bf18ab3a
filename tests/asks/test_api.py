"""API v1 of company asks: requests and their steps, milestones, contact requests."""

from tests.api_helpers import as_user
from tests.factories import UserFactory

PR = "https://github.com/numpy/numpy/pull/7"


def test_request_through_the_api_from_filing_to_confirmation(acme, olivia, numpy, stella, equity):
    milestone = equity.milestones.get()
    company, steward = as_user(olivia), as_user(stella)
    r = company.post(
        "/api/v1/companies/acme/requests/",
        {
            "projects": ["numpy"],
            "title": "Plugin API",
            "description": "Dtypes.",
            "milestone": milestone.pk,
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    (req,) = r.json()["results"]
    pk = req["id"]
    assert req["status"] == "open" and req["milestone"] == milestone.pk
    assert as_user(UserFactory()).get(f"/api/v1/requests/{pk}/").status_code == 404

    assert steward.post(f"/api/v1/requests/{pk}/accept/", {}, format="json").status_code == 200
    r = steward.post(f"/api/v1/requests/{pk}/deliver/", {"evidence": []}, format="json")
    assert r.status_code == 400 and "evidence" in r.json()
    r = steward.post(f"/api/v1/requests/{pk}/deliver/", {"evidence": [PR]}, format="json")
    assert r.json()["status"] == "delivered"
    assert steward.post(f"/api/v1/requests/{pk}/confirm/", {}, format="json").status_code == 403
    r = company.post(f"/api/v1/requests/{pk}/confirm/", {}, format="json")
    assert r.json()["status"] == "confirmed"

    r = company.get("/api/v1/companies/acme/milestones/")
    (agreement,) = r.json()["results"]
    (m,) = agreement["milestones"]
    assert m["request"] == pk and m["request_status"] == "confirmed" and m["met_on"]
    assert agreement["vested_millibips"] >= 2_500_000
    # Accepted requests are public, without the parties' details.
    public = as_user(UserFactory()).get("/api/v1/projects/numpy/requests/").json()
    assert [x["id"] for x in public["results"]] == [pk]
    assert "bounty_amount" not in public["results"][0]


def test_bad_input_is_400_per_field(acme, olivia, numpy):
    r = as_user(olivia).post(
        "/api/v1/companies/acme/requests/",
        {"projects": "numpy", "title": "", "description": 5, "extra": 1},
        format="json",
    )
    assert r.status_code == 400
    assert {"projects", "title", "description"} <= set(r.json())
    r = as_user(olivia).post(
        "/api/v1/companies/acme/requests/",
        {"projects": ["nope"], "title": "T", "description": "D"},
        format="json",
    )
    assert r.status_code == 400 and "no project 'nope'" in r.json()["projects"][0]
    assert as_user(UserFactory()).get("/api/v1/companies/acme/requests/").status_code == 404


def test_contact_requests_through_the_api(acme, olivia, alice, numpy):
    contributor = as_user(alice)
    r = contributor.put(
        "/api/v1/contributor-profile/",
        {"visible": True, "headline": "Arrays", "links": ["https://a.example.org"]},
        format="json",
    )
    assert r.status_code == 200 and r.json()["visible"] is True
    company = as_user(olivia)
    found = company.get("/api/v1/contributors/?project=numpy").json()["results"]
    assert [c["username"] for c in found] == ["alice"]
    assert "email" not in found[0]
    assert as_user(UserFactory()).get("/api/v1/contributors/").status_code == 404

    r = company.post(
        "/api/v1/contact-requests/",
        {"company": "acme", "contributor": "alice", "message": "Hello"},
        format="json",
    )
    assert r.status_code == 201 and r.json()["email"] is None
    pk = r.json()["id"]
    assert company.post(f"/api/v1/contact-requests/{pk}/accept/").status_code == 404
    assert contributor.post(f"/api/v1/contact-requests/{pk}/accept/").json()["status"] == "accepted"
    (seen,) = company.get("/api/v1/contact-requests/").json()["results"]
    assert seen["email"] == alice.email
