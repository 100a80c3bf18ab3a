"""Verification as people see it: the API's ``verified`` field and the staff endpoint, the
project page's banner, the verification page and its checks, pickers, and the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import Project
from projects.services import placeholder_project_for_purl
from projects.verification import project_verify_by_staff, verification_token
from tests.factories import ProjectFactory, ProjectVerificationFactory, StaffFactory, UserFactory
from tests.fake_hosts import pypi_document

pytestmark = pytest.mark.django_db


# --- API ------------------------------------------------------------------------------------------


def test_api_shows_verified_and_the_method_never_the_person(api_client, numpy):
    body = api_client.get("/api/v1/projects/numpy/").json()
    assert (body["verified"], body["verification_method"], body["verification"]) == (
        False,
        None,
        None,
    )
    staff = StaffFactory(email="sam-private@example.org")
    proof = project_verify_by_staff(project=numpy, staff=staff, note="checked")
    body = api_client.get("/api/v1/projects/numpy/").json()
    assert body["verified"] is True and body["verification_method"] == "staff"
    assert body["verification"]["method"] == "staff"
    assert body["verification"]["at"].startswith(proof.created_at.date().isoformat())
    assert "sam-private" not in str(body) and staff.username not in str(body["verification"])


def test_staff_verify_endpoint(api_client, numpy, user):
    url = "/api/v1/projects/numpy/verify/"
    assert api_client.post(url, {"note": "x"}, format="json").status_code == 401
    api_client.force_authenticate(user)  # a steward, not staff
    assert api_client.post(url, {"note": "x"}, format="json").status_code == 403
    api_client.force_authenticate(StaffFactory())
    missing = api_client.post(url, {}, format="json")
    assert missing.status_code == 400 and "note" in missing.json()
    wrong_type = api_client.post(url, {"note": 5}, format="json")
    assert wrong_type.status_code == 400 and wrong_type.json()["note"] == ["Must be a string."]
    assert not Project.objects.get(pk=numpy.pk).is_verified
    answer = api_client.post(
        url, {"note": "Confirmed with the NumPy steering council."}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["verified"] is True
    assert answer.json()["verification_method"] == "staff"
    proof = Project.objects.get(pk=numpy.pk).verification
    assert proof.note == "Confirmed with the NumPy steering council."


# --- pages ----------------------------------------------------------------------------------------


def test_project_page_banner_for_unverified_and_verified(client, numpy, user, other_user):
    client.force_login(user)
    page = client.get(numpy.get_absolute_url()).content.decode()
    assert "money reaching this project waits until its ownership is verified" in page
    assert reverse("projects:verify", args=["numpy"]) in page

    ProjectVerificationFactory(project=numpy)
    client.force_login(other_user)
    page = client.get(numpy.get_absolute_url()).content.decode()
    assert "Verified owner" in page and "Checked by FairOSS staff" in page
    assert "about=project:numpy&amp;kind=ownership" in page  # contest ownership
    assert "waits until its ownership is verified" not in page


def test_verification_page_shows_the_token_and_failed_checks_say_why(
    client, hosts, numpy, user, other_user
):
    client.force_login(user)
    page = client.get(reverse("projects:verify", args=["numpy"]))
    token = verification_token(project=numpy, user=user)
    assert page.status_code == 200
    html = page.content.decode()
    assert token in html and f"verification = &quot;{token}&quot;" in html
    assert "pkg:pypi/numpy" in html

    failed = client.post(reverse("projects:verify_check", args=["numpy"]), {"method": "repo_token"})
    assert failed.status_code == 400
    assert "The token was not found in numpy/numpy" in failed.content.decode()

    hosts.raw_files[("numpy", "numpy", ".well-known/faiross")] = token
    done = client.post(reverse("projects:verify_check", args=["numpy"]), {"method": "repo_token"})
    assert done.status_code == 302 and done["Location"] == numpy.get_absolute_url()
    assert Project.objects.get(pk=numpy.pk).is_verified
    assert "Verified owner" in client.get(numpy.get_absolute_url()).content.decode()

    client.force_login(other_user)
    assert client.get(reverse("projects:verify", args=["numpy"])).status_code == 403
    assert (
        client.post(
            reverse("projects:verify_check", args=["numpy"]), {"method": "repo_token"}
        ).status_code
        == 403
    )


def test_a_placeholder_page_invites_a_claim_and_the_claim_works(client, hosts, other_user):
    placeholder = placeholder_project_for_purl(purl="pkg:pypi/left-pad")
    page = client.get(placeholder.get_absolute_url()).content.decode()
    assert "Sign in to claim it" in page
    client.force_login(other_user)
    assert "Claim this project" in client.get(placeholder.get_absolute_url()).content.decode()
    hosts.pypi["left-pad"] = pypi_document("left-pad", maintainer_email=other_user.email)
    answer = client.post(
        reverse("projects:verify_check", args=[placeholder.slug]), {"method": "registry"}
    )
    assert answer.status_code == 302
    placeholder.refresh_from_db()
    assert placeholder.status == "claimed" and placeholder.is_verified


def test_pickers_and_tables_mark_unverified_projects(client, numpy, user):
    verified = ProjectFactory(slug="numba", name="Numba")
    found = client.get(reverse("projects:search"), {"q": "num"}).json()["results"]
    assert {r["recipient"]: r["verified"] for r in found} == {
        "project:numba": True,
        "project:numpy": False,
    }
    owner = ProjectFactory(slug="scipy", steward=user, table=[("project:numpy", 1_000_000)])
    assert b"unverified" in client.get(owner.get_absolute_url()).content
    client.force_login(user)
    editor = client.get(reverse("projects:table_edit", args=["scipy"])).content.decode()
    assert 'id="unverified-rows"' in editor and "NumPy</a> (unverified)" in editor
    assert verified.name not in editor


def test_admin_verifies_by_hand_with_a_note(client, numpy):
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse("admin:projects_project_verify", args=[numpy.pk])
    action = client.post(
        reverse("admin:projects_project_changelist"),
        {"action": "verify_by_hand", "_selected_action": [numpy.pk]},
    )
    assert action.status_code == 302 and action["Location"] == url
    assert client.post(url, {"note": ""}).status_code == 400
    done = client.post(url, {"note": "Spoke to the maintainers on a call."})
    assert done.status_code == 302
    numpy.refresh_from_db()
    assert numpy.verification.method == "staff" and numpy.purls.get().verified
    change = client.get(reverse("admin:projects_project_change", args=[numpy.pk]))
    assert b"Spoke to the maintainers on a call." in change.content


def test_ownership_dispute_link_preselects_the_kind(client, numpy):
    client.force_login(UserFactory())
    page = client.get(reverse("disputes:new") + "?about=project:numpy&kind=ownership")
    assert page.status_code == 200
    assert (
        b'value="ownership" selected' in page.content
        or b'value="ownership" checked' in page.content
    )
