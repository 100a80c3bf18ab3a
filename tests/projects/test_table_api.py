import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from projects.models import TableVersion
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def import_file(api_client, name, content, **fields):
    """Upload ``content`` as the file ``name`` to numpy's table import (with ``fields``)."""
    return api_client.post(
        "/api/v1/projects/numpy/table/import/",
        {"file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


@pytest.fixture
def python(db):
    return ProjectFactory(slug="python")


def test_design_md_table_shape(api_client, user, project, python):
    api_client.force_authenticate(user)
    r = api_client.post(
        "/api/v1/projects/numpy/table/versions/",
        {"entries": [{"recipient": "project:python", "millibips": 4000000}]},
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["version"] == 1 and r.json()["status"] == "active"
    api_client.force_authenticate(None)
    table = api_client.get("/api/v1/projects/numpy/table/").json()
    assert table == {
        "owner": "project:numpy",
        "version": 1,
        "default": False,
        "entries": [{"recipient": "project:python", "millibips": 4000000}],
        "reserve_millibips": 6000000,
    }
    history = api_client.get("/api/v1/projects/numpy/table/versions/").json()
    assert history["count"] == 1 and history["results"][0]["proposed_by"] == "alice"


def test_default_table_before_any_version(api_client, project):
    table = api_client.get("/api/v1/projects/numpy/table/").json()
    assert table["default"] is True and table["version"] is None
    assert table["reserve_millibips"] == 10_000_000


def test_proposal_and_approval_by_stewards(api_client, user, project, python):
    other = MembershipFactory(project=project, role="steward").user
    api_client.force_authenticate(user)
    r = api_client.post(
        "/api/v1/projects/numpy/table/versions/",
        {"entries": [{"recipient": "project:python", "millibips": 1}]},
        format="json",
    )
    assert r.json()["status"] == "proposed"
    assert api_client.post("/api/v1/projects/numpy/table/versions/1/approve/").status_code == 400
    api_client.force_authenticate(other)
    r = api_client.post("/api/v1/projects/numpy/table/versions/1/approve/")
    assert r.status_code == 200 and r.json()["status"] == "active"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"entries": [{"recipient": "project:python", "millibips": 1.5}]}, "whole number"),
        ({"entries": [{"recipient": "project:python", "millibips": "5"}]}, "whole number"),
        ({"entries": [{"recipient": 5, "millibips": 5}]}, "must be a string"),
        ({"entries": "nope"}, "must be a list"),
        ({"entries": [{"recipient": "project:python", "millibips": 10_000_001}]}, "more than"),
        ({"entries": [{"recipient": "robot:x", "millibips": 5}]}, "row 1"),
        ({}, "required"),
    ],
)
def test_bad_entries_are_400_with_row_and_rule(api_client, user, project, python, body, words):
    api_client.force_authenticate(user)
    r = api_client.post("/api/v1/projects/numpy/table/versions/", body, format="json")
    assert r.status_code == 400
    assert words in " ".join(r.json()["entries"])
    assert not TableVersion.objects.exists()


def test_strangers_get_403_and_anonymous_401(api_client, project):
    body = {"entries": []}
    assert (
        api_client.post("/api/v1/projects/numpy/table/versions/", body, format="json").status_code
        == 401
    )
    api_client.force_authenticate(UserFactory(username="stranger"))
    assert (
        api_client.post("/api/v1/projects/numpy/table/versions/", body, format="json").status_code
        == 403
    )
    assert api_client.get("/api/v1/projects/ghost/table/").status_code == 404


def test_toml_export_and_import_round_trip(api_client, user, project, python):
    api_client.force_authenticate(user)
    api_client.post(
        "/api/v1/projects/numpy/table/versions/",
        {
            "entries": [
                {"recipient": "project:python", "millibips": 4000000},
                {"recipient": "github:octocat", "millibips": 12345},
            ]
        },
        format="json",
    )
    text = api_client.get("/api/v1/projects/numpy/faiross.toml").content
    assert b'owner = "project:numpy"' in text
    r = import_file(api_client, "faiross.toml", text)
    assert r.status_code == 201, r.json()
    assert r.json()["version"] == 2
    assert r.json()["entries"] == [
        {"recipient": "project:python", "millibips": 4000000},
        {"recipient": "github:octocat", "millibips": 12345},
    ]


def test_import_manifest_and_bad_file(api_client, user, project):
    api_client.force_authenticate(user)
    manifest = b'{"dependencies": {"left-pad": "^1"}}'
    r = import_file(api_client, "package.json", manifest, share_millibips="1000000")
    assert r.status_code == 201, r.json()
    assert r.json()["entries"][0]["millibips"] == 1_000_000
    r = import_file(api_client, "package.json", b"{not json")
    assert r.status_code == 400 and "file" in r.json()
    r = api_client.post("/api/v1/projects/numpy/table/import/", {}, format="multipart")
    assert r.status_code == 400
