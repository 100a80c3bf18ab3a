import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from faiross.kernel.shares import percent_to_millibips
from projects.models import TableVersion
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

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
    assert "row 2 (project:ghost)" in body and "more than 10,000,000" in body
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


def test_real_funding_json_fills_empty_homepage(client, user, project):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[2].parent / "shared/fixtures/real-world/funding-json"
    content = (fixture / "floss-fund__website__funding.example.json").read_bytes()
    client.force_login(user)
    project.homepage = ""
    project.save()
    r = import_file(client, "funding.json", content)
    assert r.status_code == 302
    project.refresh_from_db()
    assert project.homepage.startswith("http")
