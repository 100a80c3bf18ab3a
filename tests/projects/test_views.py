import pytest
from django.urls import reverse

from projects.models import Membership, Project
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_wizard_creates_project_with_creator_as_steward(client, user):
    client.force_login(user)
    r = client.post(reverse("projects:new"), {"name": "Rich", "slug": "rich"})
    assert r.status_code == 302
    r = client.post(
        reverse("projects:new_step", args=["links"]),
        {"repo_url": "https://github.com/Textualize/rich", "homepage": "", "description": "Text"},
    )
    assert r.status_code == 302
    r = client.post(reverse("projects:new_step", args=["packages"]), {"purls": "pkg:pypi/rich\n"})
    assert r.status_code == 302
    project = Project.objects.get(slug="rich")
    assert r["Location"] == project.get_absolute_url()
    assert Membership.objects.get(project=project).user == user
    page = client.get(project.get_absolute_url())
    assert b"Rich" in page.content and b"pkg:pypi/rich" in page.content


def test_wizard_shows_errors_on_the_step(client, user, project):
    client.force_login(user)
    r = client.post(reverse("projects:new"), {"name": "Dup", "slug": "numpy"})
    assert r.status_code == 200
    assert b"already taken" in r.content
    client.post(reverse("projects:new"), {"name": "Ok", "slug": "okay"})
    r = client.post(reverse("projects:new_step", args=["links"]), {"repo_url": "not a url"})
    assert r.status_code == 200 and b"not a valid" in r.content
    assert Project.objects.count() == 1


def test_public_page_and_404(client, project):
    r = client.get("/projects/numpy/")
    assert r.status_code == 200
    assert b"alice" in r.content
    assert client.get("/projects/does-not-exist/").status_code == 404


def test_non_steward_cannot_edit(client, project):
    client.force_login(UserFactory(username="mallory"))
    assert client.get("/projects/numpy/edit/").status_code == 403
    assert client.post("/projects/numpy/edit/", {"name": "x"}).status_code == 403


def test_invite_twice_shows_message(client, user, project):
    client.force_login(user)
    client.post("/projects/numpy/invite/", {"target": "x@example.org", "role": "maintainer"})
    r = client.post(
        "/projects/numpy/invite/", {"target": "x@example.org", "role": "maintainer"}, follow=True
    )
    assert b"already been invited" in r.content


def test_remove_last_steward_shows_message(client, user, project):
    client.force_login(user)
    r = client.post("/projects/numpy/members/alice/remove/", follow=True)
    assert b"last steward" in r.content
    assert project.memberships.count() == 1


def test_invitation_page_accept(client, user, project):
    bob = UserFactory(username="bob")
    client.force_login(user)
    client.post("/projects/numpy/invite/", {"target": "bob", "role": "steward"})
    invitation = project.invitations.get()
    client.force_login(bob)
    dash = client.get("/dashboard/")
    assert b"NumPy" in dash.content
    r = client.post(f"/projects/invitations/{invitation.token}/", {"accept": "1"})
    assert r.status_code == 302
    assert project.memberships.filter(user=bob, role="steward").exists()


def test_settings_page_creates_token(client, user):
    client.force_login(user)
    r = client.post("/settings/", {"name": "release script"}, follow=True)
    assert b"api-token" in r.content
    token = user.api_tokens.get()
    assert token.name == "release script" and token.prefix.encode() in r.content


def test_admin_login_goes_through_allauth(client):
    r = client.get("/admin/login/")
    assert r.status_code == 302
    assert "/accounts/login/" in r["Location"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/projects/",
        "/projects/?q=%00%ff",
        "/projects/?page=abc",
        "/accounts/signup/",
        "/accounts/login/",
        "/accounts/password/reset/",
        "/api/v1/projects/?page=99",
    ],
)
def test_public_pages_never_500(client, path):
    MembershipFactory()
    assert client.get(path).status_code in (200, 400, 404)
