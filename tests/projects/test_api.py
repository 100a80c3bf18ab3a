import pytest

from projects.models import Project
from tests.factories import ApiTokenFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_token_then_create_project_as_steward(api_client, user):
    answer = api_client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "pw-for-tests-1"}, format="json"
    )
    assert answer.status_code == 200
    token = answer.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answer = api_client.post(
        "/api/v1/projects/",
        {
            "slug": "requests",
            "name": "Requests",
            "repo_url": "https://github.com/psf/requests",
            "description": "HTTP for humans",
            "purls": ["pkg:pypi/requests"],
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["slug"] == "requests"
    assert body["status"] == "claimed"
    assert body["stewards"] == ["alice"]
    assert body["purls"] == ["pkg:pypi/requests"]


def test_anyone_lists_and_reads(api_client, project):
    listing = api_client.get("/api/v1/projects/").json()
    assert listing["count"] == 1
    assert set(listing) == {"count", "next", "previous", "results"}
    detail = api_client.get("/api/v1/projects/numpy/").json()
    assert detail["stewards"] == ["alice"]
    assert api_client.get("/api/v1/projects/nope/").status_code == 404


def test_anonymous_cannot_create(api_client):
    answer = api_client.post("/api/v1/projects/", {"slug": "x", "name": "X"}, format="json")
    assert answer.status_code == 401
    assert not Project.objects.exists()


def test_bad_input_is_a_400_per_field(api_client, user, project):
    api_client.force_authenticate(user)
    answer = api_client.post(
        "/api/v1/projects/",
        {"slug": "numpy", "name": "", "repo_url": "ftp:/x", "purls": ["npm/react"]},
        format="json",
    )
    assert answer.status_code == 400
    body = answer.json()
    assert "already taken" in body["slug"][0]
    assert {"slug", "name", "repo_url", "purls"} <= set(body)
    assert Project.objects.count() == 1


def test_wrong_types_are_a_400(api_client, user):
    api_client.force_authenticate(user)
    answer = api_client.post(
        "/api/v1/projects/", {"slug": ["x"], "name": {"a": 1}, "purls": "pkg:pypi/x"}, format="json"
    )
    assert answer.status_code == 400
    assert not Project.objects.exists()


def test_steward_patches_non_steward_gets_403(api_client, user, project):
    other = UserFactory(username="mallory")
    MembershipFactory(project=project, user=other, role="maintainer")
    api_client.force_authenticate(other)
    answer = api_client.patch("/api/v1/projects/numpy/", {"name": "Hacked"}, format="json")
    assert answer.status_code == 403
    api_client.force_authenticate(user)
    answer = api_client.patch(
        "/api/v1/projects/numpy/", {"name": "NumPy!", "slug": "ignored"}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["name"] == "NumPy!"
    assert answer.json()["slug"] == "numpy"


def test_token_auth_header_works_and_bad_token_is_401(api_client, user):
    token = ApiTokenFactory(user=user)
    api_client.credentials(HTTP_AUTHORIZATION="Token nope")
    assert api_client.post("/api/v1/projects/", {}, format="json").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.post("/api/v1/projects/", {}, format="json").status_code == 400


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/projects/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_openapi_schema_is_valid_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
