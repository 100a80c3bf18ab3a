import html
import json
import re

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from faiross.kernel.shares import percent_to_millibips
from projects.models import KnownDependency, TableVersion
from tests.factories import MembershipFactory, ProjectFactory, ProjectPurlFactory, UserFactory

pytestmark = pytest.mark.django_db


def import_file(client, name, content, **fields):
    """Upload ``content`` as the file ``name`` to numpy's table import page (with ``fields``)."""
    file = SimpleUploadedFile(name, content)
    return client.post("/projects/numpy/table/import/", {"file": file, **fields})


@pytest.mark.parametrize(
    ("text", "millibips"),
    [
        ("40", 4_000_000),
        ("12.5", 1_250_000),
        ("0.00001", 1),
        ("100%", 10_000_000),
        (" 3.14159 ", 314_159),
    ],
)
def test_percent_to_millibips_is_exact(text, millibips):
    assert percent_to_millibips(text=text) == millibips


@pytest.mark.parametrize("text", ["abc", "0.000001", "NaN", "inf", ""])
def test_percent_to_millibips_rejects(text):
    with pytest.raises(ValidationError):
        percent_to_millibips(text=text)


def test_editor_saves_a_version_and_public_page_shows_it(client, user, project):
    ProjectFactory(slug="python", name="CPython")
    client.force_login(user)
    assert client.get("/projects/numpy/table/edit/").status_code == 200
    r = client.post(
        "/projects/numpy/table/edit/",
        {
            "recipient": ["project:python", "github:octocat"],
            "percent": ["40", "12.5"],
            "note": ["", "docs"],
        },
    )
    assert r.status_code == 302
    v = TableVersion.objects.get()
    assert v.status == "active" and v.reserve_millibips == 4_750_000
    page = client.get("/projects/numpy/").content.decode()
    assert "CPython" in page and "12.5%" in page and "47.5%" in page and "version 1" in page


def test_editor_errors_name_the_row_and_keep_input(client, user, project):
    client.force_login(user)
    r = client.post(
        "/projects/numpy/table/edit/",
        {
            "recipient": ["github:a", "project:ghost", "github:b"],
            "percent": ["60", "1", "50"],
            "note": ["", "", ""],
        },
    )
    assert r.status_code == 200
    body = r.content.decode()
    assert "row 2 (project:ghost)" in body and "more than 100%" in body
    assert "project:ghost" in body  # the user's rows are kept in the form
    assert not TableVersion.objects.exists()
    r = client.post(
        "/projects/numpy/table/edit/", {"recipient": ["github:a"], "percent": ["1.0000001"]}
    )
    assert "more decimals than a percentage can have (5)" in r.content.decode()


def test_default_table_is_labelled(client, project):
    body = client.get("/projects/numpy/").content.decode()
    assert "default table" in body and "has not declared a share table" in body


def test_strangers_cannot_edit_or_import(client, project):
    client.force_login(UserFactory(username="stranger"))
    assert client.get("/projects/numpy/table/edit/").status_code == 403
    assert client.post("/projects/numpy/table/import/", {}).status_code == 403


def test_import_manifest_opens_editor_preview(client, user, project):
    client.force_login(user)
    requirements = b"cython\nmeson-python>=0.15\n"
    r = import_file(client, "requirements.txt", requirements, share="30", policy="even")
    assert r.status_code == 302 and "preview=1" in r["Location"]
    page = client.get(r["Location"]).content.decode()
    assert "purl:pkg:pypi/cython" in page and "15" in page and "2 dependencies read" in page
    assert not TableVersion.objects.exists()


def test_import_bad_file_shows_error(client, user, project):
    client.force_login(user)
    r = client.post(
        "/projects/numpy/table/import/",
        {"text": "format = 1\n[[entry]\nrecipient=", "filename": "faiross.toml"},
    )
    assert r.status_code == 200 and "import-errors" in r.content.decode()
    r = import_file(client, "x.bin", b"\xff\xfe")
    assert r.status_code == 200 and "import-errors" in r.content.decode()
    r = client.post("/projects/numpy/table/import/", {"text": "x", "share": "abc"})
    assert "Dependency share" in r.content.decode()
    assert not TableVersion.objects.exists()


def test_history_diff_approve_and_withdraw(client, user, project):
    second = MembershipFactory(project=project, role="steward").user
    client.force_login(user)
    client.post("/projects/numpy/table/edit/", {"recipient": ["github:a"], "percent": ["10"]})
    client.force_login(second)
    client.post("/projects/numpy/table/v1/action/", {"action": "approve"})
    client.post(
        "/projects/numpy/table/edit/",
        {"recipient": ["github:a", "github:b"], "percent": ["5", "5"]},
    )
    client.force_login(user)
    r = client.post("/projects/numpy/table/v2/action/", {"action": "approve"}, follow=True)
    assert "it is active" in r.content.decode()
    history = client.get("/projects/numpy/table/history/?a=1&b=2").content.decode()
    assert "added" in history and "changed" in history
    client.post("/projects/numpy/table/edit/", {"recipient": ["github:c"], "percent": ["1"]})
    client.post("/projects/numpy/table/v3/action/", {"action": "withdraw"})
    assert TableVersion.objects.get(number=3).status == "withdrawn"
    assert client.get("/projects/numpy/table/history/?a=1&b=99").status_code == 200


def test_toml_download_and_search(client, project):
    r = client.get("/projects/numpy/faiross.toml")
    assert r.status_code == 200 and b"format = 1" in r.content
    found = client.get("/projects/search.json?q=num").json()["results"]
    assert found[0]["recipient"] == "project:numpy"


def test_funding_file_prefills_people_and_empty_links(client, user, project):
    client.force_login(user)
    content = b"github: [octocat, hubot]\ncustom: ['https://example.org/donate']\n"
    r = import_file(client, "FUNDING.yml", content)
    assert r.status_code == 302 and "preview=1" in r["Location"]
    page = client.get(r["Location"]).content.decode()
    assert "github:octocat" in page and "github:hubot" in page
    assert "2 people read from FUNDING.yml" in page
    assert not TableVersion.objects.exists()


def test_real_funding_json_fills_empty_homepage_when_the_table_is_saved(client, user, project):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[2].parent / "shared/fixtures/real-world/funding-json"
    content = (fixture / "floss-fund__website__funding.example.json").read_bytes()
    client.force_login(user)
    project.homepage = ""
    project.save()
    r = import_file(client, "funding.json", content)
    assert r.status_code == 302
    project.refresh_from_db()
    assert project.homepage == ""  # the preview changes nothing
    assert "Saving this table also fills" in client.get(r["Location"]).content.decode()
    r = client.post(
        "/projects/numpy/table/edit/",
        {"rows": json.dumps([{"recipient": "github:octocat", "percent": "10", "note": ""}])},
        follow=True,
    )
    assert "Filled the project" in r.content.decode()
    project.refresh_from_db()
    assert project.homepage.startswith("http")


def _requirements(count: int) -> bytes:
    return "".join(f"package-{i:04d}\n" for i in range(count)).encode()


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def _preview_rows(client, location: str) -> list[dict[str, str]]:
    """The rows the editor page starts with (its ``initial-rows`` JSON)."""
    page = client.get(location).content.decode()
    found = re.search(r'<script id="initial-rows" type="application/json">(.*?)</script>', page)
    assert found
    return json.loads(html.unescape(found.group(1)))


def test_imported_table_of_500_rows_saves(client, user, project):
    client.force_login(user)
    r = import_file(client, "requirements.txt", _requirements(500), share="50", policy="even")
    rows = _preview_rows(client, r["Location"])
    assert len(rows) == 500
    # As the editor's script posts them: one JSON field, far below Django's 1,000 fields.
    r = client.post(
        "/projects/numpy/table/edit/",
        {"rows": json.dumps(rows), "source": "import:requirements.txt"},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    version = TableVersion.objects.get()
    assert version.status == "active" and version.entries.count() == 500
    assert version.reserve_millibips == 5_000_000


def test_file_of_2000_dependencies_previews_a_table_that_saves(client, user, project):
    client.force_login(user)
    r = import_file(client, "requirements.txt", _requirements(2000), share="50", policy="even")
    assert r.status_code == 302
    page = client.get(r["Location"]).content.decode()
    assert "2000 dependencies read" in page and "the 1500 others are left out" in page
    rows = _preview_rows(client, r["Location"])
    assert len(rows) == 500
    assert sum(percent_to_millibips(text=row["percent"]) for row in rows) == 5_000_000
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    assert r.status_code == 302
    assert TableVersion.objects.get().entries.count() == 500


def test_more_rows_than_a_table_holds_is_a_clear_error(client, user, project):
    client.force_login(user)
    rows = [{"recipient": f"github:person{i}", "percent": "0.1", "note": ""} for i in range(501)]
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    assert r.status_code == 200
    assert "at most 500 rows; this one has 501" in r.content.decode()
    assert "github:person500" in r.content.decode()  # the rows are kept to fix
    assert not TableVersion.objects.exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("not json", "not JSON"),
        ('{"recipient": "github:a"}', "expected a list of rows"),
        ('[{"recipient": "github:a", "percent": 10}]', "row 1: percent must be text"),
        (json.dumps([{"recipient": "github:a"}] * 2001), "at most 2,000 rows"),
    ],
)
def test_badly_shaped_rows_are_refused(client, user, project, rows, message):
    client.force_login(user)
    r = client.post("/projects/numpy/table/edit/", {"rows": rows})
    assert r.status_code == 200 and message in r.content.decode()
    assert not TableVersion.objects.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("requirements.txt", b"requests\nflask>=2\nbrand-new-package\n"),
        ("FUNDING.yml", b"github: [octocat]\n"),
    ],
)
def test_import_preview_writes_nothing(client, user, project, name, content):
    # numpy has no table: its default table comes from its known dependencies.
    ProjectPurlFactory(project=ProjectFactory(slug="requests"), purl="pkg:pypi/requests")
    project.homepage = project.description = ""
    project.save()
    client.force_login(user)
    client.get("/projects/numpy/table/import/")  # the session exists before counting
    before = _row_counts()
    r = import_file(client, name, content, share="30", policy="even")
    assert r.status_code == 302 and "preview=1" in r["Location"]
    assert client.get(r["Location"]).status_code == 200
    assert _row_counts() == before
    assert not KnownDependency.objects.exists()
    assert "has not declared a share table" in client.get("/projects/numpy/").content.decode()
