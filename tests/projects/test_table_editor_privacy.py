"""The table editor and the table API never show a steward an email recipient in full
(money rule 9), and a masked row saved unchanged keeps the address it stands for."""

import html
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from projects.models import TableVersion
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    StaffFactory,
    TableVersionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ZOE = "zoe.hidden@example.org"
MASKED = "email:z***@example.org"


@pytest.fixture
def table(project, user):
    """numpy's active version 1: zoe's address 20%, octocat 10% (alice, ``user``, its
    steward)."""
    ProjectFactory(slug="python", name="CPython")
    return TableVersionFactory(
        owner_key="project:numpy",
        actor=user,
        entries=[(f"email:{ZOE}", 2_000_000, "docs"), ("github:octocat", 1_000_000)],
    )


def editor_rows(client) -> tuple[str, list[dict[str, str]]]:
    """The editor page and the rows it starts with (its ``initial-rows`` JSON)."""
    page = client.get("/projects/numpy/table/edit/").content.decode()
    found = re.search(r'<script id="initial-rows" type="application/json">(.*?)</script>', page)
    assert found
    return page, json.loads(html.unescape(found.group(1)))


def latest_entries() -> list[tuple[str, int]]:
    version = TableVersion.objects.order_by("-number").first()
    assert version is not None
    return [(e.recipient, e.millibips) for e in version.entries.order_by("position")]


def test_a_steward_sees_the_address_masked_and_saving_keeps_it(client, user, table):
    client.force_login(user)
    page, rows = editor_rows(client)
    assert ZOE not in page and "zoe.hidden" not in page
    assert [r["recipient"] for r in rows] == [MASKED, "github:octocat"]
    assert rows[0]["note"] == "docs"
    # The steward changes octocat's share, adds a dependency, and leaves zoe's row alone.
    rows[1]["percent"] = "15"
    rows.append({"recipient": "project:python", "percent": "30", "note": "", "ref": ""})
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    assert r.status_code == 302, r.content.decode()[:3000]
    assert latest_entries() == [
        (f"email:{ZOE}", 2_000_000),
        ("github:octocat", 1_500_000),
        ("project:python", 3_000_000),
    ]
    version = TableVersion.objects.get(number=2)
    assert version.status == "active" and version.entries.get(position=0).note == "docs"
    # The new version's pages show the mask too.
    assert ZOE not in client.get("/projects/numpy/table/versions/2/").content.decode()


def test_the_owner_of_the_address_and_staff_see_it_in_full(client, project, table):
    zoe = UserFactory(username="zoe", email=ZOE)
    MembershipFactory(project=project, user=zoe, role="maintainer")
    staff = StaffFactory(username="sam")
    MembershipFactory(project=project, user=staff, role="steward")
    for person in (zoe, staff):
        client.force_login(person)
        _, rows = editor_rows(client)
        assert rows[0]["recipient"] == f"email:{ZOE}" and "ref" not in rows[0]
    # As an editor without the script posts it: the full address, unchanged.
    r = client.post(
        "/projects/numpy/table/edit/",
        {
            "recipient": [f"email:{ZOE}", "github:octocat"],
            "percent": ["25", "10"],
            "note": ["docs", ""],
        },
    )
    assert r.status_code == 302
    assert latest_entries() == [(f"email:{ZOE}", 2_500_000), ("github:octocat", 1_000_000)]


def test_the_form_without_the_script_keeps_a_masked_row_by_its_reference(client, user, table):
    client.force_login(user)
    _, rows = editor_rows(client)
    r = client.post(
        "/projects/numpy/table/edit/",
        {
            "recipient": [MASKED, "github:octocat"],
            "percent": ["20", "5"],
            "note": ["docs", ""],
            "ref": [rows[0]["ref"], ""],
        },
    )
    assert r.status_code == 302
    assert latest_entries() == [(f"email:{ZOE}", 2_000_000), ("github:octocat", 500_000)]


def test_a_new_address_typed_by_a_steward_is_stored_as_typed(client, user, table):
    client.force_login(user)
    _, rows = editor_rows(client)
    rows.append({"recipient": "email:new.person@example.net", "percent": "5", "note": ""})
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    assert r.status_code == 302
    assert ("email:new.person@example.net", 500_000) in latest_entries()
    assert (f"email:{ZOE}", 2_000_000) in latest_entries()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"percent": "0"}, "must be positive"),
        ({"percent": "95"}, "more than 100%"),
        ({"recipient": "email:z***@example.com"}, "is a hidden address"),
        ({"ref": "999999"}, "is a hidden address"),
    ],
)
def test_errors_about_a_masked_row_never_spell_the_address(client, user, table, change, message):
    client.force_login(user)
    _, rows = editor_rows(client)
    rows[0].update(change)
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    page = r.content.decode()
    assert r.status_code == 200 and message in html.unescape(page)
    assert ZOE not in page and "zoe.hidden" not in page
    assert TableVersion.objects.count() == 1


def test_a_masked_row_twice_is_refused_without_the_address(client, user, table):
    client.force_login(user)
    _, rows = editor_rows(client)
    rows.append(dict(rows[0], percent="1"))
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    page = html.unescape(r.content.decode())
    assert f"row 3 ({MASKED}): {MASKED} is already in row 1" in page
    assert ZOE not in page
    assert TableVersion.objects.count() == 1


def test_a_masked_address_from_another_table_is_not_taken(client, user, table):
    """A reference names an entry of this table only: another table's hidden address
    cannot be copied into this one by its id."""
    other = TableVersionFactory(
        owner_key="project:other", entries=[("email:zed.other@example.org", 1_000_000)]
    )
    client.force_login(user)
    _, rows = editor_rows(client)
    rows[0]["ref"] = str(other.entries.get().pk)
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    assert r.status_code == 200 and "is a hidden address" in html.unescape(r.content.decode())
    assert TableVersion.objects.filter(table__owner_key="project:numpy").count() == 1


def test_the_api_masks_entries_and_a_proposal_sent_back_keeps_them(api_client, user, table):
    api_client.force_authenticate(user)
    shown = api_client.get("/api/v1/projects/numpy/table/").json()["entries"]
    assert shown[0]["recipient"] == MASKED and isinstance(shown[0]["entry_id"], int)
    assert shown[1] == {"recipient": "github:octocat", "millibips": 1_000_000}
    shown[1]["millibips"] = 3_000_000
    r = api_client.post("/api/v1/projects/numpy/table/versions/", {"entries": shown}, format="json")
    assert r.status_code == 201, r.json()
    assert ZOE not in r.content.decode() and r.json()["entries"][0]["recipient"] == MASKED
    assert latest_entries() == [(f"email:{ZOE}", 2_000_000), ("github:octocat", 3_000_000)]
    # Without the entry_id, the mask names the one entry of the active version shown so.
    r = api_client.post(
        "/api/v1/projects/numpy/table/versions/",
        {"entries": [{"recipient": MASKED, "millibips": 4_000_000}]},
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert latest_entries() == [(f"email:{ZOE}", 4_000_000)]
    versions = api_client.get("/api/v1/projects/numpy/table/versions/").content.decode()
    assert ZOE not in versions and MASKED in versions


def test_the_api_refuses_an_ambiguous_mask_without_its_entry_id(api_client, user, project):
    TableVersionFactory(
        owner_key="project:numpy",
        actor=user,
        entries=[("email:zoe@example.org", 1_000_000), ("email:zack@example.org", 2_000_000)],
    )
    api_client.force_authenticate(user)
    shown = api_client.get("/api/v1/projects/numpy/table/").json()["entries"]
    assert [e["recipient"] for e in shown] == [MASKED, MASKED]
    r = api_client.post(
        "/api/v1/projects/numpy/table/versions/",
        {"entries": [{"recipient": MASKED, "millibips": 1_000_000}]},
        format="json",
    )
    assert r.status_code == 400 and "more than one entry" in r.content.decode()
    assert "zoe@" not in r.content.decode() and "zack@" not in r.content.decode()
    swapped = [dict(shown[0], millibips=2_000_000), dict(shown[1], millibips=1_000_000)]
    r = api_client.post(
        "/api/v1/projects/numpy/table/versions/", {"entries": swapped}, format="json"
    )
    assert r.status_code == 201, r.json()
    assert latest_entries() == [
        ("email:zoe@example.org", 2_000_000),
        ("email:zack@example.org", 1_000_000),
    ]


def test_an_import_preview_keeps_the_masked_people_rows(client, user, table):
    """A manifest replaces the dependency rows and keeps the people: the steward's preview
    shows the address masked, and saving the preview keeps it."""
    client.force_login(user)
    r = client.post(
        "/projects/numpy/table/import/",
        {
            "file": SimpleUploadedFile("requirements.txt", b"requests\n"),
            "share": "50",
            "policy": "even",
        },
    )
    assert r.status_code == 302
    page = client.get(r["Location"]).content.decode()
    assert ZOE not in page and "zoe.hidden" not in page
    found = re.search(r'<script id="initial-rows" type="application/json">(.*?)</script>', page)
    assert found
    rows = json.loads(html.unescape(found.group(1)))
    assert [r["recipient"] for r in rows][:2] == [MASKED, "github:octocat"]
    r = client.post("/projects/numpy/table/edit/", {"rows": json.dumps(rows)})
    assert r.status_code == 302, r.content.decode()[:3000]
    assert latest_entries()[:2] == [(f"email:{ZOE}", 2_000_000), ("github:octocat", 1_000_000)]
