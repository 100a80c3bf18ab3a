"""The pages: filing with a bounty typed as money, the project page box, privacy of profiles
and addresses, the admin decision page."""

import datetime as dt

from django.utils import timezone

from asks import services
from asks.models import FeatureRequest
from tests.factories import StaffFactory, UserFactory


def test_filing_page_reads_money_and_shows_it_formatted(client, acme, acme_reserve, olivia, numpy):
    client.force_login(olivia)
    page = client.get("/asks/companies/acme/new/")
    assert page.status_code == 200 and "$100.00" in page.content.decode()
    r = client.post(
        "/asks/companies/acme/new/",
        {
            "projects": [numpy.pk],
            "title": "Faster FFT",
            "description": "Please.",
            "bounty": "25.50",
            "currency": "usd",
            "links": "https://github.com/numpy/numpy/issues/1",
        },
    )
    req = FeatureRequest.objects.get()
    assert r.status_code == 302 and req.bounty_amount == 2_550
    assert req.links == ["https://github.com/numpy/numpy/issues/1"]
    page = client.get(f"/asks/requests/{req.pk}/").content.decode()
    assert "$25.50" in page and "2550" not in page
    r = client.post(
        "/asks/companies/acme/new/",
        {
            "projects": [numpy.pk],
            "title": "T",
            "description": "D",
            "bounty": "500",
            "currency": "usd",
        },
    )
    assert "cannot be held" in r.content.decode()


def test_project_page_shows_accepted_requests_only(client, acme, olivia, numpy, stella):
    (req,) = services.feature_request_file(
        company=acme,
        actor=olivia,
        projects=[numpy],
        title="Secret roadmap item",
        description="D",
    )
    assert "Secret roadmap item" not in client.get("/projects/numpy/").content.decode()
    assert client.get(f"/asks/requests/{req.pk}/").status_code == 404
    services.feature_request_accept(request=req, actor=stella)
    page = client.get("/projects/numpy/").content.decode()
    assert "Secret roadmap item" in page and "requested by ACME Corp" in page
    assert "accepted" in page


def test_no_profile_or_address_without_opt_in_and_acceptance(client, acme, olivia, alice, numpy):
    client.force_login(olivia)
    assert "alice" not in client.get("/asks/contributors/").content.decode()
    services.contributor_profile_update(user=alice, visible=True, headline="Arrays")
    page = client.get("/asks/contributors/?project=numpy").content.decode()
    assert "alice" in page and alice.email not in page
    client.post(
        "/asks/contributors/?project=numpy",
        {"company": "acme", "contributor": "alice", "message": "Hi"},
    )
    assert alice.email not in client.get("/asks/companies/acme/").content.decode()
    client.force_login(alice)
    contact = alice.contact_requests_received.get()
    client.post(f"/asks/contributor/contacts/{contact.pk}/accept/")
    client.force_login(olivia)
    assert alice.email in client.get("/asks/companies/acme/").content.decode()
    client.force_login(UserFactory())
    assert client.get("/asks/contributors/").status_code == 403
    assert client.get("/asks/companies/acme/").status_code == 404


def test_staff_decide_in_admin_after_the_confirm_date(client, acme, olivia, numpy, stella):
    (req,) = services.feature_request_file(
        company=acme, actor=olivia, projects=[numpy], title="T", description="D"
    )
    services.feature_request_accept(request=req, actor=stella)
    services.feature_request_deliver(
        request=req, actor=stella, evidence=["https://github.com/numpy/numpy/pull/3"]
    )
    FeatureRequest.objects.filter(pk=req.pk).update(
        confirm_by=timezone.now() - dt.timedelta(hours=1)
    )
    client.force_login(StaffFactory())
    listing = client.get("/admin/asks/featurerequest/?awaits=yes").content.decode()
    assert f"/admin/asks/featurerequest/{req.pk}/decide/" in listing
    r = client.post(
        f"/admin/asks/featurerequest/{req.pk}/decide/",
        {"outcome": "confirm", "note": "No answer in 14 days."},
    )
    assert r.status_code == 302
    req.refresh_from_db()
    assert req.status == "confirmed" and req.confirmed_by == "staff"
