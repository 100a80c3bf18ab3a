"""Bad input to every projects write endpoint: a 400 naming the field, nothing stored.

The input serializers (projects/serializers.py, faiross/kernel/api_fields.py) parse each
call before a service runs: wrong JSON types, missing fields, NUL characters, numbers out of
range and bad recipients never reach a service and never become a 500.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from projects.importers import MAX_FILE_BYTES
from projects.models import Project, ProjectPurl, TableVersion
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

NUL = "a\x00b"


@pytest.fixture
def python(db):
    return ProjectFactory(slug="python")


def assert_400_naming(response, field):
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    # A NUL character is refused by the JSON parser at its exact place: entries[0].note.
    names = [k for k in body if k == field or k.startswith((f"{field}[", f"{field}."))]
    assert names, body
    messages = [m for name in names for m in body[name]]
    assert isinstance(messages, list) and messages, body
    return messages


# --- POST /api/v1/projects/ -------------------------------------------------------------------

GOOD_PROJECT = {"slug": "requests", "name": "Requests"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # wrong JSON types
        ({"slug": 5}, "slug"),
        ({"slug": ["x"]}, "slug"),
        ({"slug": True}, "slug"),
        ({"name": {"a": 1}}, "name"),
        ({"name": 12.5}, "name"),
        ({"repo_url": ["https://example.org"]}, "repo_url"),
        ({"homepage": False}, "homepage"),
        ({"description": 7}, "description"),
        ({"purls": "pkg:pypi/requests"}, "purls"),
        ({"purls": {"a": "pkg:pypi/requests"}}, "purls"),
        ({"purls": [5]}, "purls"),
        ({"purls": [["pkg:pypi/requests"]]}, "purls"),
        ({"slug": None}, "slug"),
        # NUL characters
        ({"slug": NUL}, "slug"),
        ({"name": NUL}, "name"),
        ({"repo_url": "https://example.org/\x00"}, "repo_url"),
        ({"homepage": "https://example.org/\x00"}, "homepage"),
        ({"description": NUL}, "description"),
        ({"purls": ["pkg:pypi/req\x00uests"]}, "purls"),
        # lengths and limits
        ({"name": "x" * 121}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"purls": [f"pkg:pypi/p{i}" for i in range(51)]}, "purls"),
    ],
)
def test_project_create_bad_input(api_client, user, changes, field):
    api_client.force_authenticate(user)
    r = api_client.post("/api/v1/projects/", GOOD_PROJECT | changes, format="json")
    assert_400_naming(r, field)
    assert not Project.objects.exists()
    assert not ProjectPurl.objects.exists()


@pytest.mark.parametrize("missing", ["slug", "name"])
def test_project_create_missing_field(api_client, user, missing):
    api_client.force_authenticate(user)
    body = {k: v for k, v in GOOD_PROJECT.items() if k != missing}
    messages = assert_400_naming(api_client.post("/api/v1/projects/", body, format="json"), missing)
    assert "required" in messages[0]
    assert not Project.objects.exists()


def test_project_create_body_not_an_object(api_client, user):
    api_client.force_authenticate(user)
    r = api_client.post("/api/v1/projects/", ["slug", "name"], format="json")
    assert_400_naming(r, "non_field_errors")
    assert not Project.objects.exists()


def test_project_create_nul_message_names_the_rule(api_client, user):
    api_client.force_authenticate(user)
    r = api_client.post("/api/v1/projects/", GOOD_PROJECT | {"name": NUL}, format="json")
    assert "NUL" in assert_400_naming(r, "name")[0]


def test_project_create_still_works(api_client, user):
    api_client.force_authenticate(user)
    r = api_client.post(
        "/api/v1/projects/", GOOD_PROJECT | {"purls": ["pkg:pypi/requests"]}, format="json"
    )
    assert r.status_code == 201, r.json()


# --- PATCH /api/v1/projects/{slug}/ -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": NUL}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"description": ["x"]}, "description"),
        ({"description": NUL}, "description"),
        ({"repo_url": True}, "repo_url"),
        ({"homepage": NUL}, "homepage"),
        ({"purls": "pkg:pypi/numpy"}, "purls"),
        ({"purls": [None]}, "purls"),
        ({"purls": ["pkg:pypi/num\x00py"]}, "purls"),
    ],
)
def test_project_patch_bad_input(api_client, user, project, body, field):
    before = (project.name, project.repo_url, project.homepage, project.description)
    api_client.force_authenticate(user)
    r = api_client.patch("/api/v1/projects/numpy/", body, format="json")
    assert_400_naming(r, field)
    project.refresh_from_db()
    assert (project.name, project.repo_url, project.homepage, project.description) == before
    assert not project.purls.exists()


# --- POST /api/v1/projects/{slug}/table/versions/ ---------------------------------------------


def row(**changes):
    return {"recipient": "project:python", "millibips": 1_000_000} | changes


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "entries", "required"),
        ({"entries": None}, "entries", "null"),
        ({"entries": "project:python"}, "entries", "must be a list"),
        ({"entries": {"recipient": "project:python"}}, "entries", "must be a list"),
        ({"entries": 5}, "entries", "must be a list"),
        ({"entries": ["project:python"]}, "entries", "row 1: must be an object"),
        ({"entries": [row(), 5]}, "entries", "row 2: must be an object"),
        # millibips of the wrong type or out of range
        ({"entries": [row(millibips=True)]}, "entries", "millibips"),
        ({"entries": [row(millibips="1000")]}, "entries", "whole number"),
        ({"entries": [row(millibips=1.5)]}, "entries", "whole number"),
        ({"entries": [row(millibips=[1])]}, "entries", "whole number"),
        ({"entries": [row(millibips=None)]}, "entries", "millibips"),
        ({"entries": [row(millibips=0)]}, "entries", "positive"),
        ({"entries": [row(millibips=-5)]}, "entries", "positive"),
        ({"entries": [row(millibips=10_000_001)]}, "entries", "more than 100%"),
        ({"entries": [row(millibips=10**30)]}, "entries", "more than 100%"),
        ({"entries": [{"recipient": "project:python"}]}, "entries", "millibips: This field"),
        # recipients
        ({"entries": [{"millibips": 5}]}, "entries", "recipient: This field"),
        ({"entries": [row(recipient=5)]}, "entries", "must be a string"),
        ({"entries": [row(recipient=["project:python"])]}, "entries", "must be a string"),
        ({"entries": [row(recipient="robot:x")]}, "entries", "row 1"),
        ({"entries": [row(recipient="python")]}, "entries", "is not a recipient"),
        ({"entries": [row(recipient="project:Not_A_Slug")]}, "entries", "project slug"),
        ({"entries": [row(recipient=" project:python")]}, "entries", "spaces"),
        ({"entries": [row(recipient="email:nope")]}, "entries", "valid email"),
        ({"entries": [row(recipient="github:-x")]}, "entries", "GitHub login"),
        ({"entries": [row(recipient="purl:pkg:pypi/x@1.0")]}, "entries", "version"),
        ({"entries": [row(recipient="project:")]}, "entries", "after the colon"),
        ({"entries": [row(recipient="project:py\x00thon")]}, "entries", "NUL"),
        ({"entries": [row(recipient="x" * 301)]}, "entries", "at most 300"),
        # notes and unknown keys
        ({"entries": [row(note=5)]}, "entries", "note"),
        ({"entries": [row(note=NUL)]}, "entries", "NUL"),
        ({"entries": [row(note="x" * 201)]}, "entries", "200"),
        ({"entries": [row(share=5)]}, "entries", "unknown field(s) share"),
        ({"entries": [row()], "note": 5}, "note", "string"),
        ({"entries": [row()], "note": ["x"]}, "note", "string"),
        ({"entries": [row()], "note": NUL}, "note", "NUL"),
        ({"entries": [row()], "note": "x" * 501}, "note", "500"),
        # size
        (
            {"entries": [row(recipient=f"github:u{i}", millibips=1) for i in range(501)]},
            "entries",
            "at most 500 rows",
        ),
    ],
)
def test_table_proposal_bad_input(api_client, user, project, python, body, field, words):
    api_client.force_authenticate(user)
    r = api_client.post("/api/v1/projects/numpy/table/versions/", body, format="json")
    messages = assert_400_naming(r, field)
    assert all(isinstance(m, str) for m in messages), messages
    assert words in " ".join(messages)
    assert not TableVersion.objects.exists()


def test_table_proposal_reports_every_bad_row(api_client, user, project, python):
    api_client.force_authenticate(user)
    body = {
        "entries": [
            row(),
            row(recipient="github:octocat", millibips="5"),
            row(recipient="robot:x"),
            row(recipient="email:a@example.org", note="x" * 201),
        ]
    }
    r = api_client.post("/api/v1/projects/numpy/table/versions/", body, format="json")
    messages = assert_400_naming(r, "entries")
    assert [m.split(":", 1)[0] for m in messages] == [
        "row 2 (github",
        "row 3 (robot",
        "row 4 (email",
    ]
    assert not TableVersion.objects.exists()


def test_table_proposal_body_not_an_object(api_client, user, project):
    api_client.force_authenticate(user)
    r = api_client.post("/api/v1/projects/numpy/table/versions/", [row()], format="json")
    assert_400_naming(r, "non_field_errors")
    assert not TableVersion.objects.exists()


def test_table_proposal_good_input_still_works(api_client, user, project, python):
    api_client.force_authenticate(user)
    r = api_client.post(
        "/api/v1/projects/numpy/table/versions/",
        {"entries": [row(note="runtime"), row(recipient="github:octocat", millibips=1)]},
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["entries"][0] == {
        "recipient": "project:python",
        "millibips": 1_000_000,
        "note": "runtime",
    }


# --- POST /api/v1/projects/{slug}/table/import/ (multipart) -----------------------------------


def manifest():
    return SimpleUploadedFile("package.json", b'{"dependencies": {"left-pad": "^1"}}')


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "file"),
        ({"file": "not a file"}, "file"),
        ({"share_millibips": "abc"}, "share_millibips"),
        ({"share_millibips": "1.5"}, "share_millibips"),
        ({"share_millibips": "-1"}, "share_millibips"),
        ({"share_millibips": "10000001"}, "share_millibips"),
        ({"share_millibips": "1\x00"}, "share_millibips"),
        ({"share_millibips": "9" * 40}, "share_millibips"),
        ({"policy": "bogus"}, "policy"),
        ({"policy": "even\x00"}, "policy"),
    ],
)
def test_table_import_bad_input(api_client, user, project, data, field):
    api_client.force_authenticate(user)
    if field != "file":
        data = {"file": manifest()} | data
    r = api_client.post("/api/v1/projects/numpy/table/import/", data, format="multipart")
    assert_400_naming(r, field)
    assert not TableVersion.objects.exists()
    assert Project.objects.count() == 1  # no placeholder for left-pad either


def test_table_import_file_too_large(api_client, user, project):
    api_client.force_authenticate(user)
    big = SimpleUploadedFile("package.json", b" " * (MAX_FILE_BYTES + 1))
    r = api_client.post("/api/v1/projects/numpy/table/import/", {"file": big}, format="multipart")
    assert "MiB" in assert_400_naming(r, "file")[0]
    assert not TableVersion.objects.exists()


def test_table_import_json_body_is_refused(api_client, user, project):
    api_client.force_authenticate(user)
    r = api_client.post("/api/v1/projects/numpy/table/import/", {"file": 5}, format="json")
    assert r.status_code == 415
    assert not TableVersion.objects.exists()


def test_openapi_documents_the_inputs():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    entry = components["TableEntryInput"]
    assert entry["properties"]["millibips"] == {
        "type": "integer",
        "maximum": 10_000_000,
        "minimum": 1,
    }
    assert set(entry["required"]) == {"recipient", "millibips"}
    assert components["ProjectCreateInput"]["required"] == ["name", "slug"]
    versions = schema["paths"]["/api/v1/projects/{slug}/table/versions/"]["post"]
    body = versions["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TableProposalInput"}
    upload = schema["paths"]["/api/v1/projects/{slug}/table/import/"]["post"]["requestBody"]
    form = upload["content"]["multipart/form-data"]["schema"]
    assert form == {"$ref": "#/components/schemas/TableImportInput"}
    assert components["TableImportInput"]["properties"]["file"]["format"] == "binary"
